// `kmi e2e`: send batches through the proxy (starting one if needed) and check that keys share them evenly.
import { join } from 'node:path';
import { daemonStatus, startDaemon, stopDaemon } from '../daemon/control.js';
import { proxyBaseUrl } from '../daemon/probe.js';
import { KmiError, SilentExit } from '../errors.js';
import { runE2e, type E2eResult } from '../rotation/e2e.js';
import { isBlocked, isExhausted } from '../state/key-state.js';
import { t } from '../ui/i18n/index.js';
import type { Context } from './context.js';
import type { CommandResult } from './program.js';

function wholeNumber(name: string, value: unknown, min: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min)
    throw new KmiError('KMI_E_USAGE', 'e2e.badNumber', { name, value: String(value), min });
  return n;
}

function seconds(name: string, value: unknown): number {
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n))
    throw new KmiError('KMI_E_USAGE', 'e2e.badNumber', { name, value: String(value), min: 0 });
  return n * 1000;
}

export interface E2eRun {
  readonly result: E2eResult;
  readonly startedProxy: boolean;
}

/** Run the check against the configured proxy, starting (and afterwards stopping) one when none answers. */
export async function runE2eCheck(
  ctx: Context,
  opts: Record<string, unknown>,
  print: boolean,
): Promise<E2eRun> {
  const { config, io } = ctx;
  const requests = wholeNumber('--requests', opts.requests ?? '50', 1);
  const batch = wholeNumber('--batch', opts.batch ?? '10', 1);
  const window = wholeNumber('--window', opts.window ?? '50', 1);
  const minConfidence = wholeNumber('--min-confidence', opts.minConfidence ?? '95', 0);
  const timeoutMs = seconds('--timeout', opts.timeout ?? '10');
  const pauseMs = seconds('--pause', opts.pause ?? '0.5');
  const scheme = opts.scheme === 'https' ? 'https' : 'http';
  const endpoint = typeof opts.endpoint === 'string' ? opts.endpoint : '/models';

  const [registry, state] = await Promise.all([ctx.auth(), ctx.store().read()]);
  const now = Date.now();
  const eligible = registry.keys
    .filter(
      (k) =>
        !k.disabled &&
        !(
          state.keys[k.label] &&
          (isBlocked(state.keys[k.label]!, now) || isExhausted(state.keys[k.label]!, now))
        ),
    )
    .map((k) => k.label);
  if (eligible.length === 0) throw new KmiError('KMI_E_NO_ELIGIBLE_KEY', 'e2e.noEligible');

  const status = await daemonStatus(config);
  let startedProxy = false;
  if (!status.answering) {
    if (print) io.out(t('e2e.startingProxy'));
    await startDaemon(config, { binPath: join(ctx.installDir, 'dist', 'bin.js') });
    startedProxy = true;
  }
  try {
    const result = await runE2e({
      proxyUrl: proxyBaseUrl(config).replace(/^http:/, `${scheme}:`),
      token: config.proxyToken,
      requests,
      batch,
      window,
      endpoint,
      minConfidence,
      timeoutMs,
      pauseMs,
      eligibleLabels: eligible,
      onBatch: print
        ? (b) =>
            io.out(
              `sent=${b.sent} keys=${b.keysUsed}/${b.keysEligible} confidence=${b.confidence === null ? 'n/a' : `${b.confidence.toFixed(1)}%`} errors=${b.errors}`,
            )
        : undefined,
    });
    return { result, startedProxy };
  } finally {
    if (startedProxy) await stopDaemon(config);
  }
}

export async function run(ctx: Context, opts: Record<string, unknown>): Promise<CommandResult> {
  const { io } = ctx;
  if (!ctx.json) ctx.banner();
  const { result } = await runE2eCheck(ctx, opts, !ctx.json);
  if (ctx.json) {
    io.out(JSON.stringify({ mode: ctx.config.dryRun ? 'dry-run' : 'live', ...result }, null, 2));
  } else {
    io.out(t('e2e.distribution'));
    for (const k of result.confidence.keys)
      io.out(`  ${k.label}: ${k.count} (${k.share.toFixed(1)}%)`);
    for (const e of result.errorSamples) io.out(`  ${t('e2e.errorSample', { error: e })}`);
    const c = result.confidence.confidence;
    io.out(
      result.ok
        ? io.paint.green(t('e2e.ok', { confidence: c === null ? 'n/a' : c.toFixed(1) }))
        : io.paint.yellow(
            t('e2e.warn', { confidence: c === null ? 'n/a' : c.toFixed(1), errors: result.errors }),
          ),
    );
  }
  if (!result.ok) throw new SilentExit(1);
  return 0;
}
