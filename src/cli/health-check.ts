// checkAllKeys: the shared first half of `kmi health` and `kmi rotate` — /usages for every key, saved to state, ranked.
import { buildHealthReport, type HealthReport } from '../health/report.js';
import { saveHealthToState } from '../health/persist.js';
import { fetchAllUsages, type UsageResult } from '../health/usage-client.js';
import { lookupCurrentKey, type CurrentKeyLookup } from '../kimi/config-toml.js';
import { KmiError } from '../errors.js';
import type { AuthRegistry } from '../auth/types.js';
import { t } from '../ui/i18n/index.js';
import type { Context } from './context.js';

export interface KeysChecked {
  readonly registry: AuthRegistry;
  readonly report: HealthReport;
  readonly results: ReadonlyMap<string, UsageResult>;
  readonly current: CurrentKeyLookup;
  readonly now: number;
}

/** Check every enabled key (concurrently), store the results, and build the ranked report. */
export async function checkAllKeys(ctx: Context): Promise<KeysChecked> {
  const { config } = ctx;
  const registry = await ctx.auth();
  for (const w of registry.warnings) if (!ctx.json) ctx.io.err(`kmi: ${t(w.messageKey, w.params)}`);
  if (registry.keys.length === 0)
    throw new KmiError('KMI_E_NO_KEYS', 'health.noKeys', { dir: registry.dir });
  const current = await lookupCurrentKey(config.kimiConfigPath, registry.keys);
  const now = Date.now();
  const results = await fetchAllUsages(
    registry.keys.filter((k) => !k.disabled),
    { baseUrl: config.upstreamBaseUrl, dryRun: config.dryRun },
  );
  const saved = await saveHealthToState(ctx.store(), results, now, {
    paymentBlockSeconds: config.paymentBlockSeconds,
    cooldownSeconds: config.rotationCooldownSeconds,
  });
  const report = buildHealthReport({
    keys: registry.keys,
    state: saved.state,
    results,
    now,
    currentLabel: current.label,
    includeWarn: config.rotateIncludeWarn,
    rotateOnTie: config.rotateOnTie,
  });
  return { registry, report, results, current, now };
}
