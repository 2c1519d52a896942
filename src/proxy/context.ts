// ProxyContext: everything one running proxy shares between requests (config, keys, state view, pools, limits, sinks).
import type { KeyRecord } from '../auth/types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { Coordination } from '../state/coordination.js';
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
  /** This proxy's own global limit (file store); null when off or when `shared` takes it. */
  readonly globalLimit: RateLimiter | null;
  /** Index-aligned with keys; null when per-key limits are off or when `shared` takes them. */
  readonly keyLimits: readonly RateLimiter[] | null;
  /** Round robin, rate limits, counters, cooldowns and blocks for the whole pool (Redis state). */
  readonly coordination: Coordination;
  /**
   * The coordination when it is shared by several proxies (Redis), else null: the request path then
   * stays synchronous and uses `globalLimit`, `keyLimits` and the StateSync rotation pointer.
   */
  readonly shared: Coordination | null;
  /** Set in dry-run: the simulator answers instead of the upstream. */
  readonly simulate: SimulateOptions | null;
  readonly version: string;
  /** clock.now() at start. */
  readonly startedAtMs: number;
}
