// The JSON contract between the proxy and the dashboard page: the one definition, used by the page and by
// src/proxy/dashboard (types only, so nothing of the server reaches the browser bundle).

export type Health = 'healthy' | 'warn' | 'exhausted' | 'blocked';

export interface Quota {
  /** Remaining, 0–100; null when unknown. */
  readonly remaining_pct: number | null;
  /** Epoch ms; null when unknown. */
  readonly reset_at: number | null;
}

export interface KeyView {
  readonly label: string;
  readonly masked_key: string;
  readonly priority: number;
  readonly disabled: boolean;
  /** The key manual mode sends everything to (false for all keys while auto-rotate is on). */
  readonly active: boolean;
  readonly health: Health;
  /** Why the key has this health, in words. */
  readonly reason: string;
  /** Why the proxy skips the key right now, or null when it can serve. */
  readonly skip: string | null;
  readonly skip_text: string | null;
  /** Epoch ms when it may serve again (null: now, unknown or never by itself). */
  readonly available_at: number | null;
  readonly blocked_reason: string | null;
  /** Whether Unblock would change anything (a block, a cooldown or a failure streak). */
  readonly can_unblock: boolean;
  readonly five_hour: Quota | null;
  readonly weekly: Quota | null;
  /** Epoch ms of the usage numbers shown; null when none are known. */
  readonly usage_at: number | null;
  readonly usage_synthetic: boolean;
  readonly requests: number;
  readonly errors: number;
  readonly error_401: number;
  readonly error_403: number;
  readonly error_429: number;
  readonly error_5xx: number;
  readonly consecutive_failures: number;
  /** Epoch ms; null when never used. */
  readonly last_used: number | null;
}

export interface Distribution {
  readonly window: number;
  readonly confidence: number | null;
  readonly warn: boolean;
  readonly sample: number;
  readonly considered: number;
  readonly even_share: number;
  readonly keys: readonly {
    readonly label: string;
    readonly count: number;
    readonly share: number;
    readonly eligible: boolean;
  }[];
}

export interface Warning {
  readonly level: 'error' | 'warn';
  readonly text: string;
}

export interface Snapshot {
  /** Server time (epoch ms), so the page can count down without trusting its own clock. */
  readonly now: number;
  readonly version: string;
  readonly pid: number;
  readonly dry_run: boolean;
  readonly upstream: string;
  readonly base_path: string;
  readonly started_at: number;
  readonly uptime_s: number;
  readonly auto_rotate: boolean;
  readonly auto_rotate_allowed: boolean;
  readonly active_label: string | null;
  readonly eligible_keys: number;
  readonly failovers: number;
  readonly keys: readonly KeyView[];
  readonly distribution: Distribution;
  readonly warnings: readonly Warning[];
}

/** What the page gets per request: no prompt text, no key hash. */
export interface FeedRecord {
  readonly id: string;
  readonly ts: string;
  readonly key: string | null;
  readonly method: string;
  readonly endpoint: string;
  readonly status: number;
  readonly latency_ms: number;
  readonly ttfb_ms: number | null;
  readonly attempts: number;
  readonly failover_from: readonly string[];
  readonly error_code: string | null;
  readonly stream: boolean;
}

export interface RateSeries {
  /** The last second in the series (epoch seconds). */
  readonly end: number;
  /** Oldest second with complete data; earlier seconds were not observed. */
  readonly since: number;
  /** Requests per second, oldest first; `counts[counts.length - 1]` is second `end`. */
  readonly counts: readonly number[];
  readonly errors: readonly number[];
}

export interface HelloEvent {
  readonly snapshot: Snapshot;
  readonly rate: RateSeries;
  readonly records: readonly FeedRecord[];
}

export interface SnapshotEvent {
  readonly snapshot: Snapshot;
  readonly rate: RateSeries;
}

export interface RequestsEvent {
  readonly records: readonly FeedRecord[];
  readonly skipped: number;
}

export interface ActionReply {
  readonly ok?: boolean;
  readonly message?: string;
  readonly snapshot?: Snapshot;
  readonly error?: { readonly message: string; readonly code: string };
}
