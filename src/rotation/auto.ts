// Auto-rotation policy: enabling needs KMI_AUTO_ROTATE_ALLOWED and (with KMI_AUTO_ROTATE_E2E) a passing e2e run; audited.
import type { Config } from '../config/schema.js';
import { KmiError } from '../errors.js';
import type { Logger } from '../log/types.js';
import type { StateBackend } from '../state/backend.js';
import type { MessageKey, Params } from '../ui/i18n/index.js';

export type E2eOutcome =
  /** KMI_AUTO_ROTATE_E2E=0: not wanted. */
  | 'off'
  /** Wanted, but no runner was provided. */
  | 'skipped'
  | 'passed'
  | 'failed';

export interface AutoRotateDeps {
  readonly config: Pick<Config, 'autoRotateAllowed' | 'autoRotateE2e' | 'auditActor'>;
  readonly store: Pick<StateBackend, 'update'>;
  readonly logger?: Pick<Logger, 'audit' | 'warn'>;
  /** The e2e check through the proxy; its failure keeps auto-rotation off. */
  readonly runE2e?: () => Promise<{ ok: boolean; summary: string }>;
}

export interface AutoRotateOutcome {
  /** auto_rotate in state after the call. */
  readonly enabled: boolean;
  /** auto_rotate before the call (null when the state was not touched). */
  readonly wasEnabled: boolean | null;
  readonly e2e: E2eOutcome;
  /** The e2e runner's summary, when it ran. */
  readonly e2eSummary: string | null;
  /** What to tell the user. */
  readonly messageKey: MessageKey;
  readonly messageParams: Params;
}

/**
 * Turn auto-rotation on. Throws KMI_E_POLICY when not allowed. When the e2e check is wanted and
 * provided, it runs first; on failure nothing changes and `enabled` is false (the caller exits 1).
 */
export async function enableAutoRotate(deps: AutoRotateDeps): Promise<AutoRotateOutcome> {
  const { config, store, logger, runE2e } = deps;
  if (!config.autoRotateAllowed) throw new KmiError('KMI_E_POLICY', 'rotation.autoNotAllowed');

  let e2e: E2eOutcome = config.autoRotateE2e ? 'skipped' : 'off';
  let e2eSummary: string | null = null;
  if (config.autoRotateE2e && runE2e) {
    try {
      const run = await runE2e();
      e2e = run.ok ? 'passed' : 'failed';
      e2eSummary = run.summary;
    } catch (err) {
      e2e = 'failed';
      e2eSummary = err instanceof Error ? err.message : String(err);
    }
  }
  if (e2e === 'failed') {
    logger?.warn('auto_rotate_e2e_failed', { actor: config.auditActor, summary: e2eSummary ?? '' });
    return {
      enabled: false,
      wasEnabled: null,
      e2e,
      e2eSummary,
      messageKey: 'rotation.autoE2eFailed',
      messageParams: { summary: e2eSummary ?? '' },
    };
  }

  let wasEnabled = false;
  await store.update((s) => {
    wasEnabled = s.auto_rotate === true;
    s.auto_rotate = true;
  });
  logger?.audit('auto_rotate_on', { actor: config.auditActor, e2e });
  const messageKey: MessageKey =
    e2e === 'passed'
      ? 'rotation.autoEnabledE2e'
      : e2e === 'skipped'
        ? 'rotation.autoEnabledE2eSkipped'
        : 'rotation.autoEnabled';
  return {
    enabled: true,
    wasEnabled,
    e2e,
    e2eSummary,
    messageKey,
    messageParams: { summary: e2eSummary ?? '' },
  };
}

/** Turn auto-rotation off (always allowed). */
export async function disableAutoRotate(
  deps: Pick<AutoRotateDeps, 'config' | 'store' | 'logger'>,
): Promise<AutoRotateOutcome> {
  let wasEnabled = false;
  await deps.store.update((s) => {
    wasEnabled = s.auto_rotate === true;
    s.auto_rotate = false;
  });
  deps.logger?.audit('auto_rotate_off', { actor: deps.config.auditActor });
  return {
    enabled: false,
    wasEnabled,
    e2e: 'off',
    e2eSummary: null,
    messageKey: wasEnabled ? 'rotation.autoDisabled' : 'rotation.autoAlreadyOff',
    messageParams: {},
  };
}
