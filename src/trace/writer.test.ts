import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TRACE_SCHEMA_VERSION, type TraceEntry, type TraceRecord } from './record.js';
import { createTraceWriter, finaliseTraceRecord } from './writer.js';

const SECRET = 'sk-TopSecret0123456789abcdefZZ';
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-trace-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function entry(
  i: number,
  prompt: string | null = 'Please fix the failing test now thanks',
): TraceEntry {
  return {
    atMs: Date.UTC(2026, 10, 25, 11, 3, 9) + i * 1000,
    promptBody:
      prompt === null
        ? null
        : Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: prompt }] })),
    record: {
      request_id: i.toString(16).padStart(32, '0'),
      method: 'POST',
      key_label: i % 2 ? 'beta' : 'alpha',
      key_hash: 'abcdef012345',
      endpoint: '/chat/completions',
      status: 200,
      latency_ms: 12,
      error_code: null,
      rotation_index: i,
      ttfb_ms: 5,
      attempts: 1,
      failover_from: [],
      stream: false,
      dry_run: false,
    },
  };
}

const readLines = async (p: string): Promise<TraceRecord[]> =>
  (await readFile(p, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TraceRecord);

describe('finaliseTraceRecord', () => {
  it('formats ts in the zone, adds schema_version and the prompt hint, keeps field order', () => {
    const r = finaliseTraceRecord(entry(0), { timezone: '+03:00', tracePrompts: true });
    expect(r.ts).toBe('2026-11-25 14:03:09 +0300');
    expect(r.schema_version).toBe(TRACE_SCHEMA_VERSION);
    expect(r.prompt_hint).toBe('Please fix the failing test now…');
    expect(r.prompt_head).toBe('Please');
    expect(Object.keys(r)).toEqual([
      'ts',
      'request_id',
      'method',
      'prompt_hint',
      'prompt_head',
      'key_label',
      'key_hash',
      'endpoint',
      'status',
      'latency_ms',
      'error_code',
      'rotation_index',
      'schema_version',
      'ttfb_ms',
      'attempts',
      'failover_from',
      'stream',
      'dry_run',
    ]);
    expect(finaliseTraceRecord(entry(0), { timezone: 'UTC', tracePrompts: true }).ts).toBe(
      '2026-11-25 11:03:09 +0000',
    );
  });
});

describe('createTraceWriter', () => {
  it('finalises off the request path, keeps a ring, notifies subscribers and writes JSON lines', async () => {
    const w = createTraceWriter({
      dir: join(root, 'trace'),
      maxBytes: 1 << 20,
      backups: 3,
      enforcePerms: true,
      timezone: 'UTC',
      tracePrompts: true,
    });
    const seen: string[] = [];
    const unsubscribe = w.subscribe((r) => seen.push(r.request_id));
    w.record(entry(1));
    // Nothing finalised synchronously.
    expect(w.recent()).toEqual([]);
    expect(seen).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(1);
    w.record(entry(2));
    unsubscribe();
    await w.flush();
    expect(seen).toHaveLength(1);
    expect(w.recent().map((r) => r.rotation_index)).toEqual([1, 2]);
    const lines = await readLines(join(root, 'trace', 'trace.jsonl'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      ts: '2026-11-25 11:03:10 +0000',
      key_label: 'beta',
      prompt_hint: 'Please fix the failing test now…',
      prompt_head: 'Please',
      schema_version: TRACE_SCHEMA_VERSION,
    });
    if (process.platform !== 'win32') {
      expect((await stat(join(root, 'trace'))).mode & 0o777).toBe(0o700);
      expect((await stat(w.path)).mode & 0o777).toBe(0o600);
    }
    await w.close();
  });

  it('never writes a key that appears in the prompt', async () => {
    const w = createTraceWriter({
      dir: root,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      timezone: 'UTC',
      tracePrompts: true,
    });
    w.record(entry(0, `${SECRET} why does this fail`));
    w.record(entry(1, `my key is ${SECRET}`));
    w.record(entry(2, `Authorization: Bearer ${SECRET}`));
    await w.close();
    const text = await readFile(w.path, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('TopSecret');
    const lines = await readLines(w.path);
    expect(lines[0]!.prompt_head).toBe('sk-T…efZZ');
    expect(lines[1]!.prompt_hint).toBe('my key is sk-T…efZZ');
  });

  it('records null prompt fields when tracePrompts is off', async () => {
    const w = createTraceWriter({
      dir: root,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      timezone: 'UTC',
      tracePrompts: false,
    });
    w.record(entry(0, `secret plan ${SECRET}`));
    await w.close();
    const [line] = await readLines(w.path);
    expect(line!.prompt_hint).toBeNull();
    expect(line!.prompt_head).toBeNull();
    expect(await readFile(w.path, 'utf8')).not.toContain('secret plan');
  });

  it('bounds the ring and returns the newest records last', async () => {
    const w = createTraceWriter({
      dir: root,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      timezone: 'UTC',
      tracePrompts: false,
      ringSize: 5,
    });
    for (let i = 0; i < 12; i++) w.record(entry(i, null));
    await w.flush();
    expect(w.recent().map((r) => r.rotation_index)).toEqual([7, 8, 9, 10, 11]);
    expect(w.recent(2).map((r) => r.rotation_index)).toEqual([10, 11]);
    expect(w.recent(0)).toEqual([]);
    expect(w.stats().recorded).toBe(12);
    await w.close();
    expect(await readLines(w.path)).toHaveLength(12);
  });

  it('rotates trace.jsonl by size', async () => {
    const w = createTraceWriter({
      dir: root,
      maxBytes: 2000,
      backups: 2,
      enforcePerms: false,
      timezone: 'UTC',
      tracePrompts: true,
    });
    for (let i = 0; i < 40; i++) w.record(entry(i));
    await w.close();
    expect((await readdir(root)).sort()).toEqual(['trace.jsonl', 'trace.jsonl.1', 'trace.jsonl.2']);
    const last = await readLines(w.path);
    expect(last.at(-1)!.rotation_index).toBe(39);
  });

  it('survives a throwing subscriber and drops records after close', async () => {
    const w = createTraceWriter({
      dir: root,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      timezone: 'UTC',
      tracePrompts: false,
    });
    w.subscribe(() => {
      throw new Error('boom');
    });
    w.record(entry(0, null));
    await w.close();
    w.record(entry(1, null));
    await w.flush();
    expect(await readLines(w.path)).toHaveLength(1);
    expect(w.stats().droppedPending).toBe(1);
  });
});
