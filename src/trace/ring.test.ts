import { describe, expect, it } from 'vitest';
import type { TraceRecord } from './record.js';
import { RecordRing } from './ring.js';

function record(n: number, over: Partial<TraceRecord> = {}): TraceRecord {
  return {
    ts: `2026-11-25 10:00:0${n % 10} +0000`,
    request_id: n.toString(16).padStart(32, '0'),
    method: 'POST',
    prompt_hint: n % 2 === 0 ? `hint ${n}…` : null,
    prompt_head: n % 2 === 0 ? 'hint' : null,
    key_label: `k${n % 3}`,
    key_hash: 'ab12cd34ef56ab78',
    endpoint: '/chat/completions',
    status: 200 + n,
    latency_ms: n * 3,
    error_code: n % 4 === 0 ? `upstream_${500 + n}` : null,
    rotation_index: n % 3,
    schema_version: 1,
    ttfb_ms: n % 5 === 0 ? null : n,
    attempts: 1 + (n % 2),
    failover_from: n % 3 === 0 ? ['k1', 'k2'] : [],
    stream: n % 2 === 1,
    dry_run: n % 3 === 1,
    ...over,
  };
}

describe('RecordRing', () => {
  it('gives back every field of the records it holds, oldest first', () => {
    const ring = new RecordRing(8);
    const all = [1, 2, 3, 4, 5].map((n) => record(n));
    for (const r of all) ring.push(r);
    expect(ring.length).toBe(5);
    expect(ring.recent()).toEqual(all);
    expect(ring.recent(2)).toEqual(all.slice(3));
    expect(ring.recent(0)).toEqual([]);
    expect(ring.recent(99)).toEqual(all);
  });

  it('keeps only the newest `size` records once it wraps', () => {
    const ring = new RecordRing(4);
    const all = Array.from({ length: 11 }, (_, n) => record(n));
    for (const r of all) ring.push(r);
    expect(ring.length).toBe(4);
    expect(ring.recent()).toEqual(all.slice(7));
    expect(ring.recent(3)).toEqual(all.slice(8));
  });

  it('keeps request ids that are not 32 lowercase hex characters as they are', () => {
    const ring = new RecordRing(3);
    const odd = [
      record(1, { request_id: 'req-1' }),
      record(2, { request_id: 'ABCDEF0123456789ABCDEF0123456789' }),
      record(3, { request_id: '' }),
    ];
    for (const r of odd) ring.push(r);
    expect(ring.recent()).toEqual(odd);
  });

  it('hands out copies: changing a returned record does not change the ring', () => {
    const ring = new RecordRing(2);
    ring.push(record(3));
    const first = ring.recent()[0]!;
    first.failover_from.push('x');
    first.status = 999;
    expect(ring.recent()[0]).toEqual(record(3));
  });
});
