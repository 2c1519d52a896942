// The message catalogue: every human-facing string, in en and ru, looked up by key.
import { authMessages } from './auth.js';
import { coreMessages } from './core.js';
import { daemonMessages } from './daemon.js';
import { demoMessages } from './demo.js';
import { doctorMessages } from './doctor.js';
import { healthMessages } from './health.js';
import { kimiMessages } from './kimi.js';
import { kimiCmdMessages } from './kimi-cmd.js';
import { logsMessages } from './logs.js';
import { e2eMessages } from './e2e.js';
import { rotateCmdMessages } from './rotate-cmd.js';
import { traceViewMessages } from './trace-view.js';
import { proxyMessages } from './proxy.js';
import { proxyCmdMessages } from './proxy-cmd.js';
import { rotationMessages } from './rotation.js';
import { stateMessages } from './state.js';
import { traceMessages } from './trace.js';

const domains = [
  coreMessages,
  authMessages,
  stateMessages,
  healthMessages,
  rotationMessages,
  proxyMessages,
  proxyCmdMessages,
  traceMessages,
  daemonMessages,
  doctorMessages,
  kimiMessages,
  kimiCmdMessages,
  logsMessages,
  e2eMessages,
  rotateCmdMessages,
  traceViewMessages,
  demoMessages,
];

export const catalogues = {
  en: Object.assign({}, ...domains.map((d) => d.en)) as Record<string, string>,
  ru: Object.assign({}, ...domains.map((d) => d.ru)) as Record<string, string>,
};

type AllEn = typeof coreMessages.en &
  typeof authMessages.en &
  typeof stateMessages.en &
  typeof healthMessages.en &
  typeof rotationMessages.en &
  typeof proxyMessages.en &
  typeof proxyCmdMessages.en &
  typeof traceMessages.en &
  typeof daemonMessages.en &
  typeof doctorMessages.en &
  typeof kimiMessages.en &
  typeof kimiCmdMessages.en &
  typeof logsMessages.en &
  typeof e2eMessages.en &
  typeof rotateCmdMessages.en &
  typeof traceViewMessages.en &
  typeof demoMessages.en;

export type MessageKey = keyof AllEn & string;
export type Locale = 'en' | 'ru';
export const LOCALES: readonly Locale[] = ['en', 'ru'];

/** A message to be translated later, usable as a parameter of another message. */
export interface MessageRef {
  readonly ref: MessageKey;
  readonly params?: Params;
}
export type Params = Readonly<Record<string, string | number | MessageRef>>;

export function ref(key: MessageKey, params?: Params): MessageRef {
  return params === undefined ? { ref: key } : { ref: key, params };
}

let current: Locale = 'en';

export function setLocale(locale: Locale): void {
  current = locale;
}

export function getLocale(): Locale {
  return current;
}

/** Translate `key` in the current locale, filling `{name}` placeholders from params. */
export function t(key: MessageKey, params: Params = {}, locale: Locale = current): string {
  const template = catalogues[locale][key] ?? catalogues.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    if (value === undefined) return whole;
    if (typeof value === 'object') return t(value.ref, value.params ?? {}, locale);
    return String(value);
  });
}
