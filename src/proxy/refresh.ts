// UsageRefresher: the proxy's background /usages refresh — all keys at once, stored in state, fed into selection.
import type { KeyRecord } from '../auth/types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { saveHealthToState } from '../health/persist.js';
import { fetchAllUsages, type UsageResult } from '../health/usage-client.js';
import type { Logger } from '../log/types.js';
import { PeriodicTask } from './periodic.js';
import type { AvailabilityPolicy } from './select.js';
import type { StateSync } from './state-sync.js';

/** /usages for some keys, by label (the proxy's default: fetchAllUsages, synthetic in dry-run). */
export type FetchUsages = (keys: readonly KeyRecord[]) => Promise<ReadonlyMap<string, UsageResult>>;

export function defaultFetchUsages(
  config: Pick<Config, 'upstreamBaseUrl' | 'dryRun'>,
  clock: Clock,
): FetchUsages {
  return (keys) =>
    fetchAllUsages(keys, { baseUrl: config.upstreamBaseUrl, dryRun: config.dryRun, clock });
}

export type RefresherConfig = Pick<
  Config,
  | 'usageCacheSeconds'
  | 'requireUsageBeforeRequest'
  | 'failOpenOnEmptyCache'
  | 'paymentBlockSeconds'
  | 'rotationCooldownSeconds'
>;

export interface UsageRefresherOptions {
  readonly config: RefresherConfig;
  readonly keys: readonly KeyRecord[];
  /** Index-aligned with keys: false when the key's base URL failed the allowlist (never sent anywhere). */
  readonly allowed: readonly boolean[];
  readonly sync: StateSync;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly fetchUsages: FetchUsages;
}

/** What the last pass found, for /_kmi/status. */
export interface RefreshSummary {
  readonly atMs: number;
  readonly checked: number;
  readonly ok: number;
  readonly failed: number;
}

const OPEN: AvailabilityPolicy = { usageMaxAgeMs: 0, usageFailOpen: true };

export class UsageRefresher {
  /** The last pass that got answers, or null before the first. */
  last: RefreshSummary | null = null;
  /** Why the last pass could not be stored, or null. */
  lastError: string | null = null;
  private firstDone = false;
  private readonly task: PeriodicTask;
  private readonly indexOf = new Map<string, number>();
  /** Labels whose last check failed: a failure is logged when it starts, not on every pass. */
  private readonly failing = new Set<string>();
  private readonly policyBefore: AvailabilityPolicy;
  private readonly policyAfter: AvailabilityPolicy;
  private stopped = false;

  constructor(private readonly options: UsageRefresherOptions) {
    const { config } = options;
    options.keys.forEach((k, i) => this.indexOf.set(k.label, i));
    this.task = new PeriodicTask(config.usageCacheSeconds * 1000, () => this.pass());
    if (config.requireUsageBeforeRequest && config.usageCacheSeconds > 0) {
      const usageMaxAgeMs = 2 * config.usageCacheSeconds * 1000;
      this.policyBefore = {
        usageMaxAgeMs,
        usageFailOpen: config.failOpenOnEmptyCache,
        firstRefreshPending: true,
      };
      this.policyAfter = { usageMaxAgeMs, usageFailOpen: false };
    } else {
      this.policyBefore = OPEN;
      this.policyAfter = OPEN;
    }
  }

  /** KMI_REQUIRE_USAGE_BEFORE_REQUEST as it applies now (read per request: a field, no work). */
  get policy(): AvailabilityPolicy {
    return this.firstDone ? this.policyAfter : this.policyBefore;
  }

  get intervalSeconds(): number {
    return this.options.config.usageCacheSeconds;
  }

  /** True once a pass has finished since start. */
  get firstRefreshDone(): boolean {
    return this.firstDone;
  }

  /** Start the timer: the first pass runs at once. Nothing happens with KMI_USAGE_CACHE_SECONDS=0. */
  start(): void {
    this.task.start();
  }

  /** Run a pass now (after the one in progress); resolves when it is stored. */
  refreshNow(): Promise<void> {
    return this.task.runNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.task.stop();
  }

  private async pass(): Promise<void> {
    const { keys, allowed, sync, clock, logger, config } = this.options;
    const started = clock.now();
    // Blocked keys are the blocklist recheck's job; disabled and disallowed keys are never sent.
    const batch = keys.filter(
      (k, i) => !k.disabled && allowed[i] === true && !(started < sync.runtimes[i]!.blockedUntilMs),
    );
    let results: ReadonlyMap<string, UsageResult>;
    try {
      results = batch.length > 0 ? await this.options.fetchUsages(batch) : new Map();
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.stopped) return;
    const now = clock.now();
    let ok = 0;
    for (const [label, result] of results) {
      const i = this.indexOf.get(label);
      if (i === undefined) continue;
      if (result.ok) {
        ok++;
        sync.recordUsage(i, result.snapshot, now);
        if (this.failing.delete(label)) logger.info('proxy.usage_check_recovered', { label });
      } else if (!this.failing.has(label)) {
        this.failing.add(label);
        logger.warn('proxy.usage_check_failed', {
          label,
          kind: result.kind,
          status: result.status ?? null,
          detail: result.detail,
        });
      }
    }
    this.last = { atMs: now, checked: results.size, ok, failed: results.size - ok };
    this.firstDone = true;
    if (results.size === 0) return;
    try {
      const saved = await saveHealthToState({ update: (m) => sync.update(m) }, results, now, {
        paymentBlockSeconds: config.paymentBlockSeconds,
        cooldownSeconds: config.rotationCooldownSeconds,
      });
      for (const b of saved.blocked)
        logger.warn('proxy.key_blocked', { label: b.label, reason: b.reason, source: 'usages' });
      if (this.lastError !== null) logger.info('proxy.usage_refresh_recovered', {});
      this.lastError = null;
    } catch (err) {
      this.fail(err);
    }
  }

  /** Logged once per streak of failing passes. */
  private fail(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    if (this.lastError === null) this.options.logger.warn('proxy.usage_refresh_failed', { reason });
    this.lastError = reason;
  }
}
