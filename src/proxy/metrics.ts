// ProxyMetrics: counters and a latency histogram kept in memory, rendered as Prometheus text for /_kmi/metrics.

export type UpstreamErrorKind = 'status_5xx' | 'timeout' | 'connect' | 'reset' | 'stream' | 'other';

/** Upper bounds (seconds) of the request duration histogram. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
] as const;

export class ProxyMetrics {
  /** key label → status → count */
  private readonly requests = new Map<string, Map<number, number>>();
  private readonly upstreamErrors = new Map<string, number>();
  private failovers = 0;
  private readonly buckets = new Float64Array(DURATION_BUCKETS.length);
  private durationCount = 0;
  private durationSum = 0;

  /** One finished client request; `key` is '' when no key served it. */
  request(key: string, status: number, seconds: number): void {
    let byStatus = this.requests.get(key);
    if (byStatus === undefined) {
      byStatus = new Map();
      this.requests.set(key, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    this.durationCount++;
    this.durationSum += seconds;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= (DURATION_BUCKETS[i] as number)) {
        this.buckets[i] = (this.buckets[i] as number) + 1;
        break;
      }
    }
  }

  failover(): void {
    this.failovers++;
  }

  upstreamError(key: string, kind: UpstreamErrorKind): void {
    const id = `${key}\u0000${kind}`;
    this.upstreamErrors.set(id, (this.upstreamErrors.get(id) ?? 0) + 1);
  }

  get failoverCount(): number {
    return this.failovers;
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const lines: string[] = [];
    lines.push('# HELP kmi_requests_total Client requests finished, by key label and status.');
    lines.push('# TYPE kmi_requests_total counter');
    for (const [key, byStatus] of this.requests) {
      for (const [status, n] of byStatus) {
        lines.push(`kmi_requests_total{key="${escapeLabel(key)}",status="${status}"} ${n}`);
      }
    }
    lines.push(
      '# HELP kmi_failovers_total Times a request moved on to another key before answering.',
    );
    lines.push('# TYPE kmi_failovers_total counter');
    lines.push(`kmi_failovers_total ${this.failovers}`);
    lines.push(
      '# HELP kmi_upstream_errors_total Upstream failures (5xx, timeouts, connection errors, broken streams).',
    );
    lines.push('# TYPE kmi_upstream_errors_total counter');
    for (const [id, n] of this.upstreamErrors) {
      const [key, kind] = id.split('\u0000') as [string, string];
      lines.push(`kmi_upstream_errors_total{key="${escapeLabel(key)}",kind="${kind}"} ${n}`);
    }
    lines.push(
      '# HELP kmi_request_duration_seconds Whole client request time, including the streamed body.',
    );
    lines.push('# TYPE kmi_request_duration_seconds histogram');
    let cumulative = 0;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      cumulative += this.buckets[i] as number;
      lines.push(`kmi_request_duration_seconds_bucket{le="${DURATION_BUCKETS[i]}"} ${cumulative}`);
    }
    lines.push(`kmi_request_duration_seconds_bucket{le="+Inf"} ${this.durationCount}`);
    lines.push(`kmi_request_duration_seconds_sum ${this.durationSum}`);
    lines.push(`kmi_request_duration_seconds_count ${this.durationCount}`);
    return `${lines.join('\n')}\n`;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
