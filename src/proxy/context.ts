// ProxyContext: everything one running proxy shares between requests (config, keys, state view, pools, limits, sinks).
import type { KeyRecord } from '../auth/types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/types.js';
import type { TraceSink } from '../trace/record.js';
import type { BlocklistRechecker } from './background.js';
import type { Cancellation } from './cancel.js';
import type { ProxyMetrics } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { UsageRefresher } from './refresh.js';
import type { SimulateOptions } from './simulate.js';
import type { StateSync } from './state-sync.js';
import type { UpstreamPools, UpstreamTarget } from './upstream.js';

export interface ProxyContext {
  readonly config: Config;
  readonly keys: readonly KeyRecord[];
  readonly labels: readonly string[];
  /** `Bearer <key>` per key, built once. */
  readonly bearers: readonly string[];
  /** Index-aligned with keys; null when the key's base URL failed the https/allowlist check. */
  readonly targets: readonly (UpstreamTarget | null)[];
  readonly sync: StateSync;
  /** Background /usages refresh; its `policy` is the strict pre-check as it applies now. */
  readonly usage: UsageRefresher;
  /** Background blocklist recheck. */
  readonly recheck: BlocklistRechecker;
  readonly pools: UpstreamPools;
  readonly metrics: ProxyMetrics;
  readonly trace: TraceSink;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  /** Backoff between retries; rejects when the client goes away. */
  readonly sleep: (ms: number, cancel: Cancellation) => Promise<void>;
  readonly globalLimit: RateLimiter | null;
  /** Index-aligned with keys; null when per-key limits are off. */
  readonly keyLimits: readonly RateLimiter[] | null;
  /** Set in dry-run: the simulator answers instead of the upstream. */
  readonly simulate: SimulateOptions | null;
  readonly version: string;
  /** clock.now() at start. */
  readonly startedAtMs: number;
}
