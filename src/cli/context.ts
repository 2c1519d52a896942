// Context: what every command gets — validated config, the output Io, and lazily opened auth/state/logs.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { loadAuthRegistry } from '../auth/registry.js';
import type { AuthRegistry } from '../auth/types.js';
import { loadConfig, peekLocale, type ConfigWarning } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { StateBackend } from '../state/backend.js';
import {
  DeferredStateBackend,
  openStateBackend,
  stateLocation,
  type OpenStateEvent,
} from '../state/open.js';
import { createIo, type Io } from '../ui/io.js';
import { setLocale, t } from '../ui/i18n/index.js';
import { createLoggerFor } from '../log/logger.js';
import type { Logger } from '../log/types.js';

export interface GlobalFlags {
  readonly json?: boolean;
  readonly plain?: boolean;
  /** commander's `--no-color` sets color=false. */
  readonly color?: boolean;
}

export interface Context {
  readonly config: Config;
  readonly configWarnings: readonly ConfigWarning[];
  readonly io: Io;
  readonly json: boolean;
  readonly version: string;
  readonly installDir: string;
  /** Print the MODE banner (not under --json). */
  banner(): void;
  auth(): Promise<AuthRegistry>;
  store(): StateBackend;
  logger(): Logger;
  /** Close what was opened (state watchers, log files). */
  close(): Promise<void>;
}

export const INSTALL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

let cachedVersion: string | null = null;
export function packageVersion(): string {
  if (cachedVersion === null) {
    const pkg = JSON.parse(readFileSync(join(INSTALL_DIR, 'package.json'), 'utf8')) as {
      version?: string;
    };
    cachedVersion = pkg.version ?? '0.0.0';
  }
  return cachedVersion;
}

/** Build the context: load and validate config (throws KmiError on bad values), set locale and output. */
export function createContext(flags: GlobalFlags): Context {
  const source = { env: process.env, cwd: process.cwd(), installDir: INSTALL_DIR };
  setLocale(peekLocale(source));
  const { config, warnings } = loadConfig(source);
  setLocale(config.locale);
  const plain = flags.plain === true || config.plain;
  const io = createIo({
    plain,
    noColor: flags.color === false || config.noColor,
    isTTY: process.stdout.isTTY === true,
  });
  const json = flags.json === true;
  for (const w of warnings)
    io.err(`kmi: ${t('config.envLineMalformed', { file: w.file, line: w.line, text: w.text })}`);

  let registry: Promise<AuthRegistry> | null = null;
  let store: DeferredStateBackend | null = null;
  const report = (e: OpenStateEvent): void => {
    const line = stateEventMessage(e);
    if (line !== null) io.err(`kmi: ${line}`);
  };
  let logger: Logger | null = null;
  return {
    config,
    configWarnings: warnings,
    io,
    json,
    version: packageVersion(),
    installDir: INSTALL_DIR,
    banner: () => {
      if (!json) io.out(t(config.dryRun ? 'mode.dryRun' : 'mode.live'));
    },
    auth: () =>
      (registry ??= loadAuthRegistry({
        dir: config.authsDir,
        upstreamAllowlist: config.upstreamAllowlist,
      })),
    // Opened on first use: commands that never touch state never connect to Redis.
    store: () =>
      (store ??= new DeferredStateBackend(stateLocation(config), (onEvent) =>
        openStateBackend(config, {
          onEvent: (e) => {
            report(e);
            onEvent(e);
          },
        }),
      )),
    logger: () => (logger ??= createLoggerFor(config)),
    close: async () => {
      await store?.close();
      await logger?.close();
    },
  };
}

/** The line printed for a state event, or null for events that need no word. */
function stateEventMessage(e: OpenStateEvent): string | null {
  switch (e.kind) {
    case 'corrupt':
      return t('state.corrupt', { path: e.path, movedTo: e.movedTo, reason: e.reason });
    case 'fail-open':
      return e.cachePath === null
        ? t('state.redisFailOpenEmpty', { url: e.location, reason: e.reason })
        : t('state.redisFailOpen', { url: e.location, reason: e.reason, cache: e.cachePath });
    case 'backend-down':
      return t('state.redisDown', { url: e.location, reason: e.reason });
    case 'backend-up':
      return t('state.redisUp', { url: e.location });
    case 'backend-reseeded':
      return t('state.redisReseeded', { url: e.location });
    default:
      return null;
  }
}
