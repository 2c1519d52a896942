// KmiError: every expected failure carries a stable code; only src/bin.ts turns it into an exit.
import type { MessageKey, Params } from './ui/i18n/index.js';

/** Exit codes used everywhere: 0 success, 1 an operation failed, 2 bad usage or configuration. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Stable error codes. The exit code of each is fixed here, not at the throw site. */
export const ERROR_CODES = {
  KMI_E_CONFIG: EXIT_USAGE,
  KMI_E_USAGE: EXIT_USAGE,
  KMI_E_ENV_FILE: EXIT_USAGE,
  KMI_E_AUTH_FILE: EXIT_FAILED,
  KMI_E_NO_KEYS: EXIT_FAILED,
  KMI_E_NO_ELIGIBLE_KEY: EXIT_FAILED,
  KMI_E_NOT_FOUND: EXIT_FAILED,
  KMI_E_STATE_CORRUPT: EXIT_FAILED,
  KMI_E_STATE_LOCK: EXIT_FAILED,
  KMI_E_STATE_IO: EXIT_FAILED,
  KMI_E_KIMI_CONFIG: EXIT_FAILED,
  KMI_E_HEALTH: EXIT_FAILED,
  KMI_E_PROXY_UNREACHABLE: EXIT_FAILED,
  KMI_E_PROXY_START: EXIT_FAILED,
  KMI_E_PORT_IN_USE: EXIT_FAILED,
  KMI_E_POLICY: EXIT_FAILED,
  KMI_E_CHECK_FAILED: EXIT_FAILED,
  KMI_E_KIMI_MISSING: EXIT_FAILED,
  KMI_E_INTERNAL: EXIT_FAILED,
} as const;

export type KmiErrorCode = keyof typeof ERROR_CODES;

/**
 * An expected, user-facing failure. The message is a catalogue key plus parameters so it can be
 * rendered in the user's locale at the edge; never put a full API key or token into params.
 */
export class KmiError extends Error {
  readonly code: KmiErrorCode;
  readonly messageKey: MessageKey;
  readonly params: Params;
  readonly exitCode: number;

  constructor(
    code: KmiErrorCode,
    messageKey: MessageKey,
    params: Params = {},
    options?: { cause?: unknown; exitCode?: number },
  ) {
    super(
      `${code}: ${messageKey}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'KmiError';
    this.code = code;
    this.messageKey = messageKey;
    this.params = params;
    this.exitCode = options?.exitCode ?? ERROR_CODES[code];
  }
}

/** A failure whose message was already printed (e.g. doctor FAIL rows); exits without more output. */
export class SilentExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super(`exit ${exitCode}`);
    this.name = 'SilentExit';
    this.exitCode = exitCode;
  }
}

export function isKmiError(err: unknown): err is KmiError {
  return err instanceof KmiError;
}
