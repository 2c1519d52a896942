// BlocklistRechecker: every KMI_BLOCKLIST_RECHECK_SECONDS, /usages for a few blocked keys (least recently checked first); those that answer are unblocked.
import type { KeyRecord } from '../auth/types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import {
  pickBlockedForRecheck,
  recheckBlockedKeys,
  type RecheckOutcome,
} from '../health/recheck.js';
import type { UsageResult } from '../health/usage-client.js';
import type { Logger } from '../log/types.js';
import { PeriodicTask } from './periodic.js';
import type { FetchUsages } from './refresh.js';
import type { StateSync } from './state-sync.js';

export type RecheckerConfig = Pick<
  Config,
  'blocklistRecheckSeconds' | 'blocklistRecheckMax' | 'auditActor'
>;

export interface BlocklistRecheckerOptions {
  readonly config: RecheckerConfig;
  readonly keys: readonly KeyRecord[];
  /** Index-aligned with keys: false when the key's base URL failed the allowlist. */
  readonly allowed: readonly boolean[];
  readonly sync: StateSync;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly fetchUsages: FetchUsages;
}

/** What the last pass did, for /_kmi/status. */
export interface RecheckSummary {
  readonly atMs: number;
  readonly checked: readonly string[];
  readonly unblocked: readonly string[];
}

const NO_ANSWER: UsageResult = { ok: false, kind: 'network', detail: 'no answer' };

export class BlocklistRechecker {
  last: RecheckSummary | null = null;
  lastError: string | null = null;
  private readonly task: PeriodicTask;
  /** Keys a recheck may lift: not disabled, allowed upstream. */
  private readonly candidates: readonly KeyRecord[];
  private stopped = false;

  constructor(private readonly options: BlocklistRecheckerOptions) {
    this.task = new PeriodicTask(options.config.blocklistRecheckSeconds * 1000, () =>
      this.pass().then(() => undefined),
    );
    this.candidates = options.keys.filter((k, i) => !k.disabled && options.allowed[i] === true);
  }

  get intervalSeconds(): number {
    return this.options.config.blocklistRecheckSeconds;
  }

  /** Start the timer: the first pass runs at once. Nothing happens with KMI_BLOCKLIST_RECHECK_SECONDS=0. */
  start(): void {
    this.task.start();
  }

  /** Run a pass now (after the one in progress). */
  recheckNow(): Promise<void> {
    return this.task.runNow();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.task.stop();
  }

  private async pass(): Promise<RecheckOutcome[]> {
    const { sync, clock, logger, config } = this.options;
    try {
      // Blocks noted in memory go to the state first, so the pick sees them.
      await sync.flush();
      const now = clock.now();
      const state = sync.state;
      // A payment block ends at blocked_until, never earlier: asking /usages would change nothing.
      const eligible = this.candidates.filter(
        (k) => state.keys[k.label]?.blocked_reason !== 'payment',
      );
      const picked = pickBlockedForRecheck(eligible, state, now, config.blocklistRecheckMax);
      if (picked.length === 0) {
        this.last = { atMs: now, checked: [], unblocked: [] };
        return [];
      }
      const reasons = new Map(picked.map((k) => [k.label, state.keys[k.label]?.blocked_reason]));
      const results = await this.options.fetchUsages(picked);
      if (this.stopped) return [];
      const outcomes = await recheckBlockedKeys({
        keys: picked,
        store: { update: (m) => sync.update(m) },
        fetch: (k) => Promise.resolve(results.get(k.label) ?? NO_ANSWER),
        nowMs: clock.now(),
      });
      const unblocked: string[] = [];
      for (const o of outcomes) {
        if (o.unblocked) {
          unblocked.push(o.label);
          const reason = reasons.get(o.label) ?? null;
          logger.info('proxy.key_unblocked_by_recheck', { label: o.label, reason });
          logger.audit('key_unblocked_by_recheck', {
            label: o.label,
            reason,
            actor: config.auditActor,
          });
        } else if (!o.result.ok) {
          logger.debug('proxy.recheck_still_failing', { label: o.label, kind: o.result.kind });
        }
      }
      this.last = { atMs: now, checked: picked.map((k) => k.label), unblocked };
      this.lastError = null;
      return outcomes;
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (this.lastError === null) logger.warn('proxy.blocklist_recheck_failed', { reason });
      this.lastError = reason;
      return [];
    }
  }
}
