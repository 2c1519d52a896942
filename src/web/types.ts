// The JSON the proxy sends the dashboard page (mirrors src/proxy/dashboard/view.ts and feed.ts).

export type Health = 'healthy' | 'warn' | 'exhausted' | 'blocked';

export interface Quota {
  readonly remaining_pct: number | null;
  readonly reset_at: number | null;
}

export interface KeyView {
  readonly label: string;
  readonly masked_key: string;
  readonly priority: number;
  readonly disabled: boolean;
  readonly active: boolean;
  readonly health: Health;
  readonly reason: string;
  readonly skip: string | null;
  readonly skip_text: string | null;
  readonly available_at: number | null;
  readonly blocked_reason: string | null;
  readonly can_unblock: boolean;
  readonly five_hour: Quota | null;
  readonly weekly: Quota | null;
  readonly usage_at: number | null;
  readonly usage_synthetic: boolean;
  readonly requests: number;
  readonly errors: number;
  readonly error_401: number;
  readonly error_403: number;
  readonly error_429: number;
  readonly error_5xx: number;
  readonly consecutive_failures: number;
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
  readonly end: number;
  readonly since: number;
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
