// Dashboard actions: unblock a key, switch auto-rotate — written to state as the CLI writes them, audited, applied at once.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { KmiError } from '../../errors.js';
import type { LogFields, Logger } from '../../log/types.js';
import { disableAutoRotate, enableAutoRotate } from '../../rotation/auto.js';
import { clearBlock, clearExhausted, keyState } from '../../state/key-state.js';
import type { State } from '../../state/schema.js';
import { t } from '../../ui/i18n/index.js';
import type { ProxyContext } from '../context.js';
import { feedFor } from './feed.js';
import { readJsonObject, sameOriginAction, sendJson, sendJsonError } from './http.js';
import { buildSnapshot } from './view.js';

export const ACTIONS = ['unblock', 'auto-rotate'] as const;
export type ActionName = (typeof ACTIONS)[number];

export function isAction(name: string): name is ActionName {
  return (ACTIONS as readonly string[]).includes(name);
}

/** The proxy's logger, with every audit and warning marked as coming from the dashboard. */
function dashboardLogger(logger: Logger): Pick<Logger, 'audit' | 'warn'> {
  return {
    audit: (event: string, fields: LogFields = {}) =>
      logger.audit(event, { ...fields, via: 'dashboard' }),
    warn: (event: string, fields: LogFields = {}) =>
      logger.warn(event, { ...fields, via: 'dashboard' }),
  };
}

export async function handleAction(
  ctx: ProxyContext,
  name: ActionName,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== 'POST') {
    sendJsonError(res, 405, 'kmi_method_not_allowed', `Use POST for /_kmi/actions/${name}.`, {
      allow: 'POST',
    });
    return;
  }
  const refused = sameOriginAction(req, ctx.config.proxyToken !== '');
  if (refused !== null) {
    sendJsonError(res, 403, 'kmi_forbidden', refused);
    return;
  }
  const body = await readJsonObject(req);
  if (!body.ok) {
    sendJsonError(res, 400, 'kmi_bad_request', body.message);
    return;
  }
  if (name === 'unblock') await unblock(ctx, body.value, res);
  else await autoRotate(ctx, body.value, res);
}

/** `{label}` or `{all: true}`: clear blocks, cooldowns and failure streaks, as `kmi unblock` does. */
async function unblock(
  ctx: ProxyContext,
  body: Record<string, unknown>,
  res: ServerResponse,
): Promise<void> {
  const all = body.all === true;
  const label = typeof body.label === 'string' ? body.label : undefined;
  if ((label === undefined) === !all) {
    sendJsonError(res, 400, 'kmi_bad_request', 'Send {"label": "<key label>"} or {"all": true}.');
    return;
  }
  if (label !== undefined && !ctx.labels.includes(label)) {
    sendJsonError(res, 404, 'kmi_unknown_label', 'No key with that label in this proxy.');
    return;
  }
  const targets = label !== undefined ? [label] : [...ctx.labels];
  const changed: string[] = [];
  // Through the proxy's own state view: written under the store's lock like the CLI's write, and the
  // result is the proxy's view at once (the next request may use the key).
  await ctx.sync.update((s) => {
    changed.length = 0;
    for (const l of targets) {
      const ks = keyState(s, l);
      const a = clearBlock(ks);
      const b = clearExhausted(ks);
      if (a || b || (ks.consecutive_failures ?? 0) > 0) changed.push(l);
      ks.consecutive_failures = 0;
    }
  });
  dashboardLogger(ctx.logger).audit('unblock', {
    labels: changed,
    requested: label ?? '--all',
    actor: ctx.config.auditActor,
  });
  feedFor(ctx).refresh();
  sendJson(res, 200, {
    ok: true,
    unblocked: changed,
    requested: targets,
    message:
      changed.length > 0
        ? t('unblock.done', { labels: changed.join(', ') }, 'en')
        : t('unblock.nothing', {}, 'en'),
    snapshot: buildSnapshot(ctx),
  });
}

/**
 * `{on: boolean}`. On is refused unless KMI_AUTO_ROTATE_ALLOWED=1, like `kmi rotate auto`. The
 * dashboard cannot run the e2e check the CLI runs with KMI_AUTO_ROTATE_E2E=1 (it would have to send
 * traffic through itself), so it reports the check as skipped, as the shared policy does.
 */
async function autoRotate(
  ctx: ProxyContext,
  body: Record<string, unknown>,
  res: ServerResponse,
): Promise<void> {
  if (typeof body.on !== 'boolean') {
    sendJsonError(res, 400, 'kmi_bad_request', 'Send {"on": true} or {"on": false}.');
    return;
  }
  const store = { update: (mutate: (s: State) => void) => ctx.sync.update(mutate) };
  const deps = { config: ctx.config, store, logger: dashboardLogger(ctx.logger) };
  let outcome;
  try {
    outcome = body.on ? await enableAutoRotate(deps) : await disableAutoRotate(deps);
  } catch (err) {
    if (err instanceof KmiError && err.code === 'KMI_E_POLICY') {
      sendJsonError(
        res,
        403,
        'kmi_auto_rotate_not_allowed',
        `${t('rotation.autoNotAllowed', {}, 'en')} (in the proxy's environment, then restart it).`,
      );
      return;
    }
    throw err;
  }
  feedFor(ctx).refresh();
  sendJson(res, 200, {
    ok: true,
    auto_rotate: outcome.enabled,
    e2e: outcome.e2e,
    message: t(outcome.messageKey, outcome.messageParams, 'en'),
    snapshot: buildSnapshot(ctx),
  });
}
