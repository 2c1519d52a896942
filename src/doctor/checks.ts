// Doctor checks as data: each row has an id, a group and a run() that returns OK/WARN/FAIL with a one-line fix.
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AuthRegistry } from '../auth/types.js';
import type { Config } from '../config/schema.js';
import type { ProbeResult } from '../daemon/probe.js';
import { isBlocked, isExhausted } from '../state/key-state.js';
import { probeStateBackend, type StateProbe } from '../state/open.js';
import type { State } from '../state/schema.js';
import type { MessageKey, Params } from '../ui/i18n/index.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  readonly status: CheckStatus;
  readonly messageKey: MessageKey;
  readonly params?: Params;
  /** One line telling how to fix it (for warn/fail). */
  readonly fixKey?: MessageKey;
  readonly fixParams?: Params;
}

export interface DoctorInput {
  readonly config: Config;
  readonly registry: AuthRegistry;
  readonly state: State;
  readonly proxy: ProbeResult;
  readonly proxyUrl: string;
  /** KIMI_BASE_URL as the user's shell has it (to see whether the Kimi CLI uses the proxy). */
  readonly kimiBaseUrl: string | undefined;
  readonly nowMs: number;
  /** How the state backend answered; probed by the 'state-backend' check when absent. */
  readonly stateProbe?: StateProbe;
}

export interface Check {
  readonly id: string;
  readonly group: 'config' | 'auth' | 'keys' | 'proxy' | 'files';
  run(input: DoctorInput): Promise<CheckResult[]>;
}

async function mode(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mode & 0o777;
  } catch {
    return null;
  }
}

const octal = (m: number) => `0${m.toString(8)}`;

/** WARN when a private file or folder is readable by others; the fix is the exact chmod. */
async function permissionCheck(
  path: string,
  want: number,
  enforce: boolean,
): Promise<CheckResult | null> {
  const m = await mode(path);
  if (m === null) return null;
  if ((m & 0o077) === 0)
    return { status: 'ok', messageKey: 'doctor.permsOk', params: { path, mode: octal(m) } };
  return {
    status: enforce ? 'fail' : 'warn',
    messageKey: 'doctor.permsLoose',
    params: { path, mode: octal(m) },
    fixKey: 'doctor.fix.chmod',
    fixParams: { command: `chmod ${octal(want).slice(1)} ${path}` },
  };
}

export const CHECKS: readonly Check[] = [
  {
    id: 'env-file',
    group: 'config',
    run: async ({ config }) => [
      config.envFile === null
        ? { status: 'ok', messageKey: 'doctor.envNone' }
        : { status: 'ok', messageKey: 'doctor.envFile', params: { file: config.envFile } },
    ],
  },
  {
    id: 'config',
    group: 'config',
    run: async () => [{ status: 'ok', messageKey: 'doctor.configValid' }],
  },
  {
    id: 'mode',
    group: 'config',
    run: async ({ config }) => [
      config.dryRun
        ? { status: 'warn', messageKey: 'doctor.dryRunOn', fixKey: 'doctor.fix.dryRun' }
        : { status: 'ok', messageKey: 'doctor.liveOn' },
    ],
  },
  {
    id: 'auto-rotate-policy',
    group: 'config',
    run: async ({ config, state }) => {
      if (state.auto_rotate && !config.autoRotateAllowed) {
        return [
          { status: 'fail', messageKey: 'doctor.autoNotAllowed', fixKey: 'doctor.fix.autoOff' },
        ];
      }
      return [{ status: 'ok', messageKey: state.auto_rotate ? 'doctor.autoOn' : 'doctor.autoOff' }];
    },
  },
  {
    id: 'allowlist',
    group: 'config',
    run: async ({ config }): Promise<CheckResult[]> => [
      config.upstreamAllowlist.length === 0
        ? {
            status: 'ok',
            messageKey: 'doctor.allowlistEmpty',
            params: { upstream: config.upstreamBaseUrl },
          }
        : {
            status: 'ok',
            messageKey: 'doctor.allowlistSet',
            params: { hosts: config.upstreamAllowlist.join(', ') },
          },
    ],
  },
  {
    id: 'auth-dir',
    group: 'auth',
    run: async ({ registry }) => {
      if (!registry.dirExists) {
        return [
          {
            status: 'fail',
            messageKey: 'doctor.authMissing',
            params: { dir: registry.dir },
            fixKey: 'doctor.fix.authDir',
            fixParams: { dir: registry.dir },
          },
        ];
      }
      const rows: CheckResult[] = [
        { status: 'ok', messageKey: 'doctor.authDir', params: { dir: registry.dir } },
      ];
      const dirPerm = await permissionCheck(registry.dir, 0o700, false);
      if (dirPerm && dirPerm.status !== 'ok') rows.push(dirPerm);
      for (const key of registry.keys) {
        const p = await permissionCheck(key.source, 0o600, false);
        if (p && p.status !== 'ok') rows.push(p);
      }
      return rows;
    },
  },
  {
    id: 'auth-files',
    group: 'auth',
    run: async ({ registry }) => {
      const rows: CheckResult[] = registry.warnings.map((w) => ({
        status: 'warn',
        messageKey: 'doctor.authWarning',
        params: { warning: { ref: w.messageKey, params: w.params } },
        fixKey: 'doctor.fix.authFile',
        fixParams: { file: w.file },
      }));
      if (rows.length === 0)
        rows.push({
          status: 'ok',
          messageKey: 'doctor.authFilesOk',
          params: { count: registry.keys.length },
        });
      return rows;
    },
  },
  {
    id: 'keys',
    group: 'keys',
    run: async ({ registry, state, nowMs }) => {
      if (registry.keys.length === 0) {
        return [
          {
            status: 'fail',
            messageKey: 'doctor.noKeys',
            fixKey: 'doctor.fix.authDir',
            fixParams: { dir: registry.dir },
          },
        ];
      }
      const rows: CheckResult[] = [];
      let usable = 0;
      for (const key of registry.keys) {
        const ks = state.keys[key.label];
        if (key.disabled) {
          rows.push({
            status: 'warn',
            messageKey: 'doctor.keyDisabled',
            params: { label: key.label },
          });
        } else if (ks && isBlocked(ks, nowMs)) {
          rows.push({
            status: 'warn',
            messageKey: 'doctor.keyBlocked',
            params: {
              label: key.label,
              reason: ks.blocked_reason ?? '?',
              until: ks.blocked_until ?? '—',
            },
            fixKey: 'doctor.fix.recheck',
          });
        } else if (ks && isExhausted(ks, nowMs)) {
          rows.push({
            status: 'warn',
            messageKey: 'doctor.keyExhausted',
            params: { label: key.label, until: ks.exhausted_until ?? '' },
          });
          usable++;
        } else {
          usable++;
        }
      }
      rows.unshift(
        usable === 0
          ? {
              status: 'fail',
              messageKey: 'doctor.noUsableKeys',
              params: { total: registry.keys.length },
              fixKey: 'doctor.fix.recheck',
            }
          : {
              status: 'ok',
              messageKey: 'doctor.keysUsable',
              params: { usable, total: registry.keys.length },
            },
      );
      return rows;
    },
  },
  {
    id: 'proxy',
    group: 'proxy',
    run: async ({ proxy, proxyUrl }) => [
      proxy.running
        ? { status: 'ok', messageKey: 'doctor.proxyUp', params: { url: proxyUrl } }
        : {
            status: 'warn',
            messageKey: 'doctor.proxyDown',
            params: { url: proxyUrl },
            fixKey: 'doctor.fix.startProxy',
          },
    ],
  },
  {
    id: 'kimi-cli',
    group: 'proxy',
    run: async ({ kimiBaseUrl, proxyUrl }): Promise<CheckResult[]> => [
      kimiBaseUrl !== undefined && kimiBaseUrl.replace(/\/+$/, '') === proxyUrl
        ? { status: 'ok', messageKey: 'doctor.kimiPointed', params: { url: proxyUrl } }
        : {
            status: 'warn',
            messageKey: 'doctor.kimiNotPointed',
            params: { current: kimiBaseUrl ?? '—' },
            fixKey: 'doctor.fix.kimiBaseUrl',
            fixParams: { url: proxyUrl },
          },
    ],
  },
  {
    id: 'state-backend',
    group: 'files',
    run: async ({ config, stateProbe }) => [
      stateBackendResult(stateProbe ?? (await probeStateBackend(config))),
    ],
  },
  {
    id: 'files',
    group: 'files',
    run: async ({ config }) => {
      const rows: CheckResult[] = [];
      const dir = config.stateDir;
      const enforce = config.enforceFilePerms;
      const targets: [string, number][] = [
        [dir, 0o700],
        [join(dir, 'state.json'), 0o600],
        [join(dir, 'logs'), 0o700],
        [join(dir, 'logs', 'kmi.log'), 0o600],
        [join(dir, 'logs', 'proxy.out'), 0o600],
        [join(dir, 'trace'), 0o700],
        [join(dir, 'trace', 'trace.jsonl'), 0o600],
      ];
      for (const [path, want] of targets) {
        const r = await permissionCheck(path, want, enforce);
        if (r) rows.push(r);
      }
      let corrupt: string[] = [];
      try {
        corrupt = (await readdir(dir)).filter((f) => f.startsWith('state.json.corrupt-'));
      } catch {
        // no state dir yet
      }
      if (corrupt.length > 0) {
        rows.push({
          status: 'warn',
          messageKey: 'doctor.corruptKept',
          params: { count: corrupt.length, dir },
          fixKey: 'doctor.fix.corrupt',
        });
      }
      if (rows.length === 0)
        rows.push({ status: 'ok', messageKey: 'doctor.filesNone', params: { dir } });
      return rows;
    },
  },
];

/** File store: the folder must be writable. Redis: it must answer (an outage is a FAIL with the fix). */
export function stateBackendResult(probe: StateProbe): CheckResult {
  if (probe.kind === 'redis') {
    return probe.ok
      ? {
          status: 'ok',
          messageKey: 'state.doctorRedisOk',
          params: {
            url: probe.location,
            version: probe.serverVersion ?? '?',
            keys: probe.keys ?? 0,
          },
        }
      : {
          status: 'fail',
          messageKey: 'state.doctorRedisDown',
          params: { url: probe.location, reason: probe.reason ?? '?' },
          fixKey: 'state.fix.redis',
          fixParams: { url: probe.location },
        };
  }
  if (!probe.ok) {
    const dir = dirname(probe.location);
    return {
      status: 'fail',
      messageKey: 'state.doctorFileUnwritable',
      params: { path: dir, reason: probe.reason ?? '?' },
      fixKey: 'state.fix.fileDir',
      fixParams: { path: dir },
    };
  }
  return {
    status: 'ok',
    messageKey: probe.exists ? 'state.doctorFile' : 'state.doctorFileNew',
    params: { path: probe.location },
  };
}

export interface DoctorRow extends CheckResult {
  readonly id: string;
  readonly group: Check['group'];
}

export async function runChecks(
  input: DoctorInput,
  checks: readonly Check[] = CHECKS,
): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [];
  for (const check of checks) {
    for (const r of await check.run(input)) rows.push({ ...r, id: check.id, group: check.group });
  }
  return rows;
}
