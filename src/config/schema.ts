// The table of every KMI_* variable: default, accepted form and meaning. The single source for config, README and .env.example.

export type VarKind =
  | 'bool'
  | 'int' // whole number ≥ 0
  | 'port-listen'
  | 'url'
  | 'path'
  | 'string'
  | 'secret'
  | 'allowlist'
  | 'base-path'
  | 'timezone'
  | 'locale'
  | 'positive-number'
  | 'state-url';

export interface VarSpec {
  readonly name: string;
  readonly kind: VarKind;
  /** Default as it would be written in .env; '' means empty/unset. */
  readonly default: string;
  /** Shown in README and .env.example instead of `default` when the default is computed. */
  readonly defaultDoc?: string;
  readonly doc: string;
}

export const VARIABLES: readonly VarSpec[] = [
  {
    name: 'KMI_ENV_PATH',
    kind: 'path',
    default: '',
    defaultDoc: '–',
    doc: 'explicit .env file; its values override the environment; a missing file is an error',
  },
  {
    name: 'KMI_AUTHS_DIR',
    kind: 'path',
    default: '',
    defaultDoc: '`_auths` (else `~/.kimi/_auths`)',
    doc: 'folder of auth files, one key per file',
  },
  {
    name: 'KMI_STATE_DIR',
    kind: 'path',
    default: '',
    defaultDoc: '`~/.kmi`',
    doc: 'state.json, logs and trace',
  },
  {
    name: 'KMI_DRY_RUN',
    kind: 'bool',
    default: '1',
    doc: 'simulate the upstream; `0` for live traffic',
  },
  {
    name: 'KMI_UPSTREAM_BASE_URL',
    kind: 'url',
    default: 'https://api.kimi.com/coding/v1',
    doc: 'upstream API base; https unless the host is loopback',
  },
  {
    name: 'KMI_UPSTREAM_ALLOWLIST',
    kind: 'allowlist',
    default: '',
    defaultDoc: 'empty (any)',
    doc: 'comma-separated hosts; `*.example.com` matches subdomains only',
  },
  {
    name: 'KMI_PROXY_LISTEN',
    kind: 'port-listen',
    default: '127.0.0.1:54123',
    doc: 'host:port of the proxy (IPv6 as `[::1]:54123`)',
  },
  {
    name: 'KMI_PROXY_BASE_PATH',
    kind: 'base-path',
    default: '/kmi-rotor/v1',
    doc: 'path prefix clients use; must start with `/`',
  },
  { name: 'KMI_PROXY_ALLOW_REMOTE', kind: 'bool', default: '0', doc: 'allow a non-loopback bind' },
  {
    name: 'KMI_PROXY_TOKEN',
    kind: 'secret',
    default: '',
    defaultDoc: 'empty',
    doc: 'token clients must send (required for remote)',
  },
  {
    name: 'KMI_PROXY_REQUIRE_TLS',
    kind: 'bool',
    default: '1',
    doc: 'refuse a remote bind unless TLS is terminated in front',
  },
  {
    name: 'KMI_PROXY_TLS_TERMINATED',
    kind: 'bool',
    default: '0',
    doc: 'declare that a TLS terminator sits in front',
  },
  {
    name: 'KMI_PROXY_MAX_RPS',
    kind: 'int',
    default: '0',
    doc: 'global requests per second (0 = off)',
  },
  {
    name: 'KMI_PROXY_MAX_RPM',
    kind: 'int',
    default: '0',
    doc: 'global requests per minute (0 = off)',
  },
  {
    name: 'KMI_PROXY_MAX_RPS_PER_KEY',
    kind: 'int',
    default: '0',
    doc: 'per-key requests per second (0 = off)',
  },
  {
    name: 'KMI_PROXY_MAX_RPM_PER_KEY',
    kind: 'int',
    default: '0',
    doc: 'per-key requests per minute (0 = off)',
  },
  {
    name: 'KMI_PROXY_RETRY_MAX',
    kind: 'int',
    default: '0',
    doc: 'extra attempts on the same key after network errors/5xx',
  },
  {
    name: 'KMI_PROXY_RETRY_BASE_MS',
    kind: 'int',
    default: '250',
    doc: 'retry backoff base: base × 2^attempt, with jitter',
  },
  {
    name: 'KMI_PROXY_FAILOVER_MAX',
    kind: 'int',
    default: '3',
    doc: 'other keys tried before an error reaches the client',
  },
  {
    name: 'KMI_PROXY_MAX_BODY_MB',
    kind: 'positive-number',
    default: '32',
    doc: 'request bodies above this get 413',
  },
  {
    name: 'KMI_ROTATION_COOLDOWN_SECONDS',
    kind: 'int',
    default: '300',
    doc: 'default cooldown of an exhausted key',
  },
  {
    name: 'KMI_PAYMENT_BLOCK_SECONDS',
    kind: 'int',
    default: '3600',
    doc: 'block after 402/payment errors; `0` = until `kmi unblock`',
  },
  {
    name: 'KMI_REQUIRE_USAGE_BEFORE_REQUEST',
    kind: 'bool',
    default: '0',
    doc: 'only use keys with a fresh successful `/usages` check',
  },
  {
    name: 'KMI_USAGE_CACHE_SECONDS',
    kind: 'int',
    default: '600',
    doc: 'background `/usages` refresh interval in the proxy',
  },
  {
    name: 'KMI_FAIL_OPEN_ON_EMPTY_CACHE',
    kind: 'bool',
    default: '1',
    doc: 'with the strict pre-check, allow traffic until the first refresh finishes',
  },
  {
    name: 'KMI_BLOCKLIST_RECHECK_SECONDS',
    kind: 'int',
    default: '3600',
    doc: 'how often blocked keys are rechecked (0 = never)',
  },
  {
    name: 'KMI_BLOCKLIST_RECHECK_MAX',
    kind: 'int',
    default: '3',
    doc: 'blocked keys rechecked per pass',
  },
  { name: 'KMI_AUTO_ROTATE_ALLOWED', kind: 'bool', default: '0', doc: 'permit `kmi rotate auto`' },
  {
    name: 'KMI_AUTO_ROTATE_E2E',
    kind: 'bool',
    default: '1',
    doc: 'run the e2e check when auto-rotation is enabled',
  },
  {
    name: 'KMI_ROTATE_INCLUDE_WARN',
    kind: 'bool',
    default: '0',
    doc: 'let rotation use `warn` keys too',
  },
  {
    name: 'KMI_ROTATE_ON_TIE',
    kind: 'bool',
    default: '1',
    doc: 'manual rotate moves on even when the current key is tied for best',
  },
  {
    name: 'KMI_WRITE_CONFIG',
    kind: 'bool',
    default: '1',
    doc: 'manual rotate writes the Kimi CLI config (never in dry-run)',
  },
  {
    name: 'KMI_KIMI_CONFIG_PATH',
    kind: 'path',
    default: '',
    defaultDoc: '`~/.kimi/config.toml`',
    doc: 'Kimi CLI config to read and write',
  },
  {
    name: 'KMI_TRACE_MAX_MB',
    kind: 'positive-number',
    default: '5',
    doc: 'trace file size before rotation',
  },
  { name: 'KMI_TRACE_BACKUPS', kind: 'int', default: '3', doc: 'rotated trace files kept' },
  {
    name: 'KMI_LOG_MAX_MB',
    kind: 'positive-number',
    default: '5',
    doc: 'log file size before rotation',
  },
  { name: 'KMI_LOG_BACKUPS', kind: 'int', default: '3', doc: 'rotated log files kept' },
  {
    name: 'KMI_TIMEZONE',
    kind: 'timezone',
    default: 'local',
    doc: '`local`, `UTC`, `+03:00`, or an IANA name',
  },
  { name: 'KMI_LOCALE', kind: 'locale', default: 'en', doc: '`en` or `ru`' },
  {
    name: 'KMI_PLAIN',
    kind: 'bool',
    default: '0',
    doc: 'same as `--plain`: no colors, box drawing or emoji',
  },
  {
    name: 'KMI_NO_COLOR',
    kind: 'bool',
    default: '0',
    doc: 'same as `--no-color` (`NO_COLOR` is honoured too)',
  },
  {
    name: 'KMI_ENFORCE_FILE_PERMS',
    kind: 'bool',
    default: '1',
    doc: 'keep folders 0700 and files 0600 (POSIX)',
  },
  {
    name: 'KMI_AUDIT_ACTOR',
    kind: 'string',
    default: '',
    defaultDoc: '`$USER`, then `unknown`',
    doc: 'name recorded on audit events',
  },
  {
    name: 'KMI_SHOW_SOURCE',
    kind: 'bool',
    default: '0',
    doc: "dashboards show each key's source file",
  },
  {
    name: 'KMI_TRACE_PROMPTS',
    kind: 'bool',
    default: '1',
    doc: 'record `prompt_hint`/`prompt_head` in the trace; `0` records none',
  },
  {
    name: 'KMI_UPSTREAM_TIMEOUT_SECONDS',
    kind: 'int',
    default: '600',
    doc: 'max wait for upstream headers, and between body chunks (streams may run longer)',
  },
  {
    name: 'KMI_STATE_URL',
    kind: 'state-url',
    default: '',
    defaultDoc: 'empty (file store)',
    doc: 'shared state backend, e.g. `redis://127.0.0.1:6379/0`',
  },
  {
    name: 'KMI_STATE_FAIL_OPEN',
    kind: 'bool',
    default: '0',
    doc: 'start from the local cache of the last known state when Redis is unreachable',
  },
  { name: 'KMI_DEBUG', kind: 'bool', default: '0', doc: 'print stack traces of unexpected errors' },
];

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Validated, typed, frozen configuration. Read env variables nowhere else. */
export interface Config {
  /** The .env file that was loaded, or null. */
  readonly envFile: string | null;
  readonly authsDir: string;
  /** Where authsDir came from: the variable, ./_auths, or the ~/.kimi/_auths fallback. */
  readonly authsDirSource: 'env' | 'cwd' | 'home';
  readonly stateDir: string;
  readonly dryRun: boolean;
  readonly upstreamBaseUrl: string;
  readonly upstreamAllowlist: readonly string[];
  readonly proxyListen: ListenAddress;
  readonly proxyBasePath: string;
  readonly proxyAllowRemote: boolean;
  readonly proxyToken: string;
  readonly proxyRequireTls: boolean;
  readonly proxyTlsTerminated: boolean;
  readonly proxyMaxRps: number;
  readonly proxyMaxRpm: number;
  readonly proxyMaxRpsPerKey: number;
  readonly proxyMaxRpmPerKey: number;
  readonly proxyRetryMax: number;
  readonly proxyRetryBaseMs: number;
  readonly proxyFailoverMax: number;
  readonly proxyMaxBodyBytes: number;
  readonly rotationCooldownSeconds: number;
  readonly paymentBlockSeconds: number;
  readonly requireUsageBeforeRequest: boolean;
  readonly usageCacheSeconds: number;
  readonly failOpenOnEmptyCache: boolean;
  readonly blocklistRecheckSeconds: number;
  readonly blocklistRecheckMax: number;
  readonly autoRotateAllowed: boolean;
  readonly autoRotateE2e: boolean;
  readonly rotateIncludeWarn: boolean;
  readonly rotateOnTie: boolean;
  readonly writeConfig: boolean;
  readonly kimiConfigPath: string;
  readonly traceMaxBytes: number;
  readonly traceBackups: number;
  readonly logMaxBytes: number;
  readonly logBackups: number;
  /** 'local', 'UTC', '+03:00' or an IANA name, already validated. */
  readonly timezone: string;
  readonly locale: 'en' | 'ru';
  readonly plain: boolean;
  /** KMI_NO_COLOR or NO_COLOR. */
  readonly noColor: boolean;
  readonly enforceFilePerms: boolean;
  readonly auditActor: string;
  readonly showSource: boolean;
  readonly tracePrompts: boolean;
  readonly upstreamTimeoutMs: number;
  readonly stateUrl: string;
  /** KMI_STATE_FAIL_OPEN: start from the local cache when Redis is unreachable. */
  readonly stateFailOpen: boolean;
  readonly debug: boolean;
  /** The user's home folder (HOME), used for ~ paths. */
  readonly home: string;
  /** Variables loaded from the .env file, to hand to the proxy daemon only. */
  readonly envFileValues: Readonly<Record<string, string>>;
}
