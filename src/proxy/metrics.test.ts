// Prometheus text: counters by label, escaped label values, a cumulative histogram.
import { describe, expect, it } from 'vitest';
import { ProxyMetrics } from './metrics.js';

describe('ProxyMetrics', () => {
  it('renders counters and a cumulative histogram', () => {
    const m = new ProxyMetrics();
    m.request('a', 200, 0.003);
    m.request('a', 200, 0.2);
    m.request('', 503, 400);
    m.failover();
    m.upstreamError('we"ird\\', 'timeout');
    const text = m.render();
    expect(text).toContain('kmi_requests_total{key="a",status="200"} 2');
    expect(text).toContain('kmi_requests_total{key="",status="503"} 1');
    expect(text).toContain('kmi_failovers_total 1');
    expect(text).toContain('kmi_upstream_errors_total{key="we\\"ird\\\\",kind="timeout"} 1');
    expect(text).toContain('kmi_request_duration_seconds_bucket{le="0.005"} 1');
    expect(text).toContain('kmi_request_duration_seconds_bucket{le="0.25"} 2');
    expect(text).toContain('kmi_request_duration_seconds_bucket{le="300"} 2');
    expect(text).toContain('kmi_request_duration_seconds_bucket{le="+Inf"} 3');
    expect(text).toContain('kmi_request_duration_seconds_count 3');
    expect(text.endsWith('\n')).toBe(true);
  });
});
