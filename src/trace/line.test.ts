import { describe, expect, it } from 'vitest';
import { encodeTraceLine, jsonString, traceLine } from './line.js';
import type { TraceRecord } from './record.js';

const base: TraceRecord = {
  ts: '2026-11-25 10:00:00 +0300',
  request_id: '0123456789abcdef0123456789abcdef',
  method: 'POST',
  prompt_hint: 'Summarise the benchmark results in one short…',
  prompt_head: 'Summarise',
  key_label: 'alpha',
  key_hash: 'ab12cd34ef56ab78',
  endpoint: '/chat/completions',
  status: 200,
  latency_ms: 12,
  error_code: null,
  rotation_index: 2,
  schema_version: 1,
  ttfb_ms: null,
  attempts: 1,
  failover_from: ['beta', 'gamma'],
  stream: true,
  dry_run: false,
};

describe('traceLine', () => {
  it('parses back to the record, with the fields in the record order and a newline at the end', () => {
    const line = traceLine(base);
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    const parsed = JSON.parse(line) as TraceRecord;
    expect(parsed).toEqual(base);
    expect(Object.keys(parsed)).toEqual(Object.keys(base));
  });

  it('keeps non-ASCII text as it is, so the file reads well with tail and grep', () => {
    const r = { ...base, prompt_hint: 'привет “мир” 😀…', key_label: 'ключ' };
    const line = traceLine(r);
    expect(line).toContain('"prompt_hint":"привет “мир” 😀…"');
    expect(line).toContain('"key_label":"ключ"');
    expect(JSON.parse(line)).toEqual(r);
  });

  it('escapes quotes, backslashes and control characters in every string', () => {
    const nasty = 'a"b\\c\nd\te\u0001f\u2028';
    const r = {
      ...base,
      method: nasty,
      endpoint: `/x${nasty}`,
      key_label: nasty,
      error_code: nasty,
      failover_from: [nasty],
    };
    const line = traceLine(r);
    expect(line.indexOf('\n')).toBe(line.length - 1);
    expect(JSON.parse(line)).toEqual(r);
  });

  it('writes nulls and non-finite numbers as null', () => {
    const r = {
      ...base,
      prompt_hint: null,
      prompt_head: null,
      key_label: null,
      key_hash: null,
      latency_ms: Number.NaN,
      failover_from: [],
    };
    const parsed = JSON.parse(traceLine(r)) as Record<string, unknown>;
    expect(parsed.prompt_hint).toBeNull();
    expect(parsed.key_label).toBeNull();
    expect(parsed.latency_ms).toBeNull();
    expect(parsed.failover_from).toEqual([]);
  });
});

describe('encodeTraceLine', () => {
  it('gives the UTF-8 bytes of traceLine, in a buffer the next call reuses', () => {
    const first = encodeTraceLine(base);
    const bytes = Buffer.from(first.bytes.subarray(0, first.length));
    expect(bytes.toString('utf8')).toBe(traceLine(base));
    expect(JSON.parse(bytes.toString('utf8'))).toEqual(base);
  });

  it('never mixes up cached pieces: a hint with another head, a label with another hash', () => {
    const a = { ...base, prompt_hint: 'same hint', prompt_head: 'same', key_hash: 'hash-one' };
    const b = { ...a, prompt_head: 'other', key_hash: 'hash-two' };
    const c = { ...a, prompt_hint: null, prompt_head: null, key_label: null, key_hash: null };
    for (const r of [a, b, a, c, b, c]) expect(JSON.parse(traceLine(r))).toEqual(r);
  });

  it('writes numbers of every kind as JSON does', () => {
    for (const n of [0, 7, 10, 99, 100, 123456789, 1e15, 2 ** 53, -3, 1.5, 1e21, 5e-7]) {
      const r = { ...base, latency_ms: n, status: n, ttfb_ms: n };
      const parsed = JSON.parse(traceLine(r)) as TraceRecord;
      expect([parsed.latency_ms, parsed.status, parsed.ttfb_ms]).toEqual([n, n, n]);
    }
  });
});

describe('jsonString', () => {
  it('quotes plain text as it is and escapes what JSON needs escaped', () => {
    expect(jsonString('plain text 123')).toBe('"plain text 123"');
    expect(jsonString('é')).toBe('"é"');
    expect(jsonString('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"');
    expect(JSON.parse(jsonString('\ud83d\ude00'))).toBe('\ud83d\ude00');
    // a lone surrogate is escaped, so the file stays valid UTF-8
    expect(jsonString('\ud800')).toBe('"\\ud800"');
  });
});
