// loadConfig: reads the .env file and the environment once, validates every KMI_* variable, and freezes the result.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { KmiError } from '../errors.js';
import { ref, type MessageRef } from '../ui/i18n/index.js';
import { parseEnv } from './env.js';
import { checkUpstreamUrl, isLoopbackHost } from './upstream.js';
import { VARIABLES, type Config, type ListenAddress, type VarKind } from './schema.js';

export interface ConfigWarning {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

export interface LoadConfigOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** The folder kmi is installed in (its package root); its .env is the last fallback. */
  readonly installDir?: string;
}

export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly ConfigWarning[];
}

const KNOWN = new Set(VARIABLES.map((v) => v.name));

interface MergedSettings {
  readonly merged: Record<string, string | undefined>;
  readonly envFile: string | null;
  readonly fileValues: Record<string, string>;
  readonly warnings: ConfigWarning[];
  readonly home: string;
}

/** Pick the .env file, parse it, and merge it with the environment by the precedence rules. */
function mergeSettings(options: LoadConfigOptions): MergedSettings {
  const { env, cwd } = options;
  const home = env.HOME && env.HOME !== '' ? env.HOME : homedir();
  const warnings: ConfigWarning[] = [];

  const explicit = nonEmpty(env.KMI_ENV_PATH);
  let envFile: string | null = null;
  if (explicit !== undefined) {
    envFile = resolve(cwd, expandHome(explicit, home));
    if (!isFile(envFile))
      throw new KmiError('KMI_E_ENV_FILE', 'config.envFileMissing', { file: envFile });
  } else {
    for (const candidate of [
      join(cwd, '.env'),
      options.installDir ? join(options.installDir, '.env') : null,
    ]) {
      if (candidate !== null && isFile(candidate)) {
        envFile = candidate;
        break;
      }
    }
  }

  let fileValues: Record<string, string> = {};
  if (envFile !== null) {
    let text: string;
    try {
      text = readFileSync(envFile, 'utf8');
    } catch (err) {
      throw new KmiError('KMI_E_ENV_FILE', 'config.envFileUnreadable', {
        file: envFile,
        reason: errCode(err),
      });
    }
    const parsed = parseEnv(text);
    fileValues = parsed.values;
    for (const w of parsed.warnings) warnings.push({ file: envFile, line: w.line, text: w.text });
  }

  // The real environment wins over ./.env; an explicit KMI_ENV_PATH file wins over the environment.
  const merged: Record<string, string | undefined> =
    explicit !== undefined ? { ...env, ...fileValues } : { ...fileValues, ...env };

  return { merged, envFile, fileValues, warnings, home };
}

/** The locale the user asked for, read leniently, so even a configuration error is reported in it. */
export function peekLocale(options: LoadConfigOptions): 'en' | 'ru' {
  try {
    return parseLocale(mergeSettings(options).merged.KMI_LOCALE?.trim() ?? '') ?? 'en';
  } catch {
    return 'en';
  }
}

/** Load, merge and validate configuration. Throws KmiError(KMI_E_CONFIG) naming the first bad variable. */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const { cwd } = options;
  const { merged, envFile, fileValues, warnings, home } = mergeSettings(options);
  const get = (name: string): string | undefined => nonEmpty(merged[name]);
  const read = <T>(
    name: string,
    kind: VarKind,
    parse: (raw: string) => T | undefined,
    expected: MessageRef,
  ): T => {
    const spec = VARIABLES.find((v) => v.name === name);
    const raw = get(name) ?? spec?.default ?? '';
    const value = parse(raw.trim());
    if (value === undefined) {
      throw new KmiError('KMI_E_CONFIG', 'config.invalid', {
        name,
        expected,
        got: truncate(raw, kind),
      });
    }
    return value;
  };
  const bool = (name: string) => read(name, 'bool', parseBool, ref('config.expect.bool'));
  const int = (name: string) => read(name, 'int', parseWholeNumber, ref('config.expect.int'));
  const positive = (name: string) =>
    read(name, 'positive-number', parsePositive, ref('config.expect.positive'));

  const allowlist = (get('KMI_UPSTREAM_ALLOWLIST') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
  for (const entry of allowlist) {
    if (!/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$|^\[?[0-9a-f:.]+\]?$/.test(entry)) {
      throw new KmiError('KMI_E_CONFIG', 'config.invalid', {
        name: 'KMI_UPSTREAM_ALLOWLIST',
        expected: ref('config.expect.allowlist'),
        got: entry,
      });
    }
  }

  const upstreamRaw = get('KMI_UPSTREAM_BASE_URL') ?? 'https://api.kimi.com/coding/v1';
  const upstream = checkUpstreamUrl(upstreamRaw, allowlist);
  if (!upstream.ok) {
    throw new KmiError('KMI_E_CONFIG', 'config.invalid', {
      name: 'KMI_UPSTREAM_BASE_URL',
      expected: ref(`config.expect.upstream.${upstream.problem}`),
      got: upstreamRaw,
    });
  }

  const { authsDir, authsDirSource } = resolveAuthsDir(get('KMI_AUTHS_DIR'), cwd, home);
  const stateDirRaw = get('KMI_STATE_DIR');
  const kimiRaw = get('KMI_KIMI_CONFIG_PATH');

  const config: Config = {
    envFile,
    authsDir,
    authsDirSource,
    stateDir:
      stateDirRaw !== undefined ? resolve(cwd, expandHome(stateDirRaw, home)) : join(home, '.kmi'),
    dryRun: bool('KMI_DRY_RUN'),
    upstreamBaseUrl: upstream.url,
    upstreamAllowlist: allowlist,
    proxyListen: read('KMI_PROXY_LISTEN', 'port-listen', parseListen, ref('config.expect.listen')),
    proxyBasePath: read(
      'KMI_PROXY_BASE_PATH',
      'base-path',
      parseBasePath,
      ref('config.expect.basePath'),
    ),
    proxyAllowRemote: bool('KMI_PROXY_ALLOW_REMOTE'),
    proxyToken: get('KMI_PROXY_TOKEN') ?? '',
    proxyRequireTls: bool('KMI_PROXY_REQUIRE_TLS'),
    proxyTlsTerminated: bool('KMI_PROXY_TLS_TERMINATED'),
    proxyMaxRps: int('KMI_PROXY_MAX_RPS'),
    proxyMaxRpm: int('KMI_PROXY_MAX_RPM'),
    proxyMaxRpsPerKey: int('KMI_PROXY_MAX_RPS_PER_KEY'),
    proxyMaxRpmPerKey: int('KMI_PROXY_MAX_RPM_PER_KEY'),
    proxyRetryMax: int('KMI_PROXY_RETRY_MAX'),
    proxyRetryBaseMs: int('KMI_PROXY_RETRY_BASE_MS'),
    proxyFailoverMax: int('KMI_PROXY_FAILOVER_MAX'),
    proxyMaxBodyBytes: Math.floor(positive('KMI_PROXY_MAX_BODY_MB') * 1024 * 1024),
    rotationCooldownSeconds: int('KMI_ROTATION_COOLDOWN_SECONDS'),
    paymentBlockSeconds: int('KMI_PAYMENT_BLOCK_SECONDS'),
    requireUsageBeforeRequest: bool('KMI_REQUIRE_USAGE_BEFORE_REQUEST'),
    usageCacheSeconds: int('KMI_USAGE_CACHE_SECONDS'),
    failOpenOnEmptyCache: bool('KMI_FAIL_OPEN_ON_EMPTY_CACHE'),
    blocklistRecheckSeconds: int('KMI_BLOCKLIST_RECHECK_SECONDS'),
    blocklistRecheckMax: int('KMI_BLOCKLIST_RECHECK_MAX'),
    autoRotateAllowed: bool('KMI_AUTO_ROTATE_ALLOWED'),
    autoRotateE2e: bool('KMI_AUTO_ROTATE_E2E'),
    rotateIncludeWarn: bool('KMI_ROTATE_INCLUDE_WARN'),
    rotateOnTie: bool('KMI_ROTATE_ON_TIE'),
    writeConfig: bool('KMI_WRITE_CONFIG'),
    kimiConfigPath:
      kimiRaw !== undefined
        ? resolve(cwd, expandHome(kimiRaw, home))
        : join(home, '.kimi', 'config.toml'),
    traceMaxBytes: Math.floor(positive('KMI_TRACE_MAX_MB') * 1024 * 1024),
    traceBackups: int('KMI_TRACE_BACKUPS'),
    logMaxBytes: Math.floor(positive('KMI_LOG_MAX_MB') * 1024 * 1024),
    logBackups: int('KMI_LOG_BACKUPS'),
    timezone: read('KMI_TIMEZONE', 'timezone', parseTimezone, ref('config.expect.timezone')),
    locale: read('KMI_LOCALE', 'locale', parseLocale, ref('config.expect.locale')),
    plain: bool('KMI_PLAIN'),
    noColor: bool('KMI_NO_COLOR') || nonEmpty(merged.NO_COLOR) !== undefined,
    enforceFilePerms: bool('KMI_ENFORCE_FILE_PERMS'),
    auditActor: get('KMI_AUDIT_ACTOR') ?? nonEmpty(options.env.USER) ?? 'unknown',
    showSource: bool('KMI_SHOW_SOURCE'),
    tracePrompts: bool('KMI_TRACE_PROMPTS'),
    upstreamTimeoutMs: int('KMI_UPSTREAM_TIMEOUT_SECONDS') * 1000,
    stateUrl: read('KMI_STATE_URL', 'state-url', parseStateUrl, ref('config.expect.stateUrl')),
    stateFailOpen: bool('KMI_STATE_FAIL_OPEN'),
    debug: bool('KMI_DEBUG'),
    home,
    envFileValues: Object.fromEntries(Object.entries(fileValues).filter(([k]) => KNOWN.has(k))),
  };
  return { config: Object.freeze(config), warnings };
}

function resolveAuthsDir(
  raw: string | undefined,
  cwd: string,
  home: string,
): Pick<Config, 'authsDir' | 'authsDirSource'> {
  if (raw !== undefined)
    return { authsDir: resolve(cwd, expandHome(raw, home)), authsDirSource: 'env' };
  const local = join(cwd, '_auths');
  if (existsSync(local)) return { authsDir: local, authsDirSource: 'cwd' };
  return { authsDir: join(home, '.kimi', '_auths'), authsDirSource: 'home' };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function errCode(err: unknown): string {
  return err instanceof Error && 'code' in err
    ? String((err as NodeJS.ErrnoException).code)
    : 'error';
}

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

function truncate(raw: string, kind: VarKind): string {
  if (kind === 'secret' || kind === 'state-url') return '…';
  return raw.length > 80 ? `${raw.slice(0, 77)}...` : raw;
}

export function parseBool(raw: string): boolean | undefined {
  const v = raw.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  return undefined;
}

export function parseWholeNumber(raw: string): number | undefined {
  if (!/^\d{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

function parsePositive(raw: string): number | undefined {
  if (!/^\d{1,9}(\.\d+)?$/.test(raw)) return undefined;
  const n = Number(raw);
  return n > 0 ? n : undefined;
}

export function parseListen(raw: string): ListenAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(raw);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: (m[1] ?? m[2]) as string, port };
}

function parseBasePath(raw: string): string | undefined {
  if (
    !raw.startsWith('/') ||
    /[\s?#%\\]/.test(raw) ||
    raw.split('/').some((s) => s === '..' || s === '.')
  ) {
    return undefined;
  }
  const trimmed = raw.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

const OFFSET = /^[+-](?:0\d|1[0-4]):[0-5]\d$/;

export function parseTimezone(raw: string): string | undefined {
  const lower = raw.toLowerCase();
  if (lower === 'local') return 'local';
  if (lower === 'utc' || lower === 'z') return 'UTC';
  if (OFFSET.test(raw)) return raw;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: raw });
    return raw;
  } catch {
    return undefined;
  }
}

function parseLocale(raw: string): 'en' | 'ru' | undefined {
  const v = raw.toLowerCase().split(/[-_.]/)[0];
  return v === 'en' || v === 'ru' ? v : undefined;
}

function parseStateUrl(raw: string): string | undefined {
  if (raw === '') return '';
  try {
    const url = new URL(raw);
    return url.protocol === 'redis:' || url.protocol === 'rediss:' ? raw : undefined;
  } catch {
    return undefined;
  }
}

/** True when the proxy listen host is loopback (remote binds need extra settings). */
export function isLoopbackListen(listen: ListenAddress): boolean {
  return isLoopbackHost(listen.host);
}

/** KMI_DEBUG, read leniently: the entry point needs it even when the rest of the configuration is invalid. */
export function debugEnabled(env: Readonly<Record<string, string | undefined>>): boolean {
  return parseBool(env.KMI_DEBUG?.trim() ?? '') === true;
}
