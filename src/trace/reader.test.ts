import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseTraceLine, readTraceTail, traceFilePath } from './reader.js';

let root: string;
let path: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-trace-read-'));
  path = traceFilePath(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const rec = (i: number) =>
  JSON.stringify({
    ts: `2026-01-01 00:00:${String(i % 60).padStart(2, '0')} +0000`,
    request_id: `r${i}`,
    key_label: 'a',
  });
const file = (from: number, to: number, extra: string[] = []) => {
  const out: string[] = [];
  for (let i = from; i < to; i++) out.push(rec(i));
  return [...out, ...extra].join('\n') + '\n';
};
const ids = (records: { request_id: string }[]) => records.map((r) => r.request_id);

describe('readTraceTail', () => {
  it('reads the last N records of the live file, oldest first', async () => {
    await writeFile(path, file(0, 10));
    const r = await readTraceTail(path, 3);
    expect(ids(r.records)).toEqual(['r7', 'r8', 'r9']);
    expect(r.malformed).toBe(0);
    expect(r.files).toEqual([path]);
  });

  it('continues into rotated files (.1 newer than .2) when the live file is short', async () => {
    await writeFile(`${path}.2`, file(0, 5));
    await writeFile(`${path}.1`, file(5, 10));
    await writeFile(path, file(10, 12));
    const r = await readTraceTail(path, 8);
    expect(ids(r.records)).toEqual(['r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11']);
    expect(r.files).toEqual([path, `${path}.1`, `${path}.2`]);
    const all = await readTraceTail(path, 100);
    expect(all.records).toHaveLength(12);
  });

  it('reads rotated files when the live one is missing (just rotated)', async () => {
    await writeFile(`${path}.1`, file(0, 3));
    expect(ids((await readTraceTail(path, 5)).records)).toEqual(['r0', 'r1', 'r2']);
  });

  it('ignores and counts malformed lines, and skips a half-written last line', async () => {
    await writeFile(
      path,
      [
        rec(0),
        'not json',
        '{"broken":',
        '[1,2]',
        '{"no_ts":true}',
        '',
        rec(1),
        '{"ts":"2026-01-01 00:00:0',
      ].join('\n'),
    );
    const r = await readTraceTail(path, 10);
    expect(ids(r.records)).toEqual(['r0', 'r1']);
    expect(r.malformed).toBe(4);
  });

  it('handles CRLF, an empty trace and a missing one', async () => {
    await writeFile(path, `${rec(0)}\r\n${rec(1)}\r\n`);
    expect(ids((await readTraceTail(path, 5)).records)).toEqual(['r0', 'r1']);
    await writeFile(path, '');
    expect((await readTraceTail(path, 5)).records).toEqual([]);
    expect(await readTraceTail(join(root, 'nope.jsonl'), 5)).toEqual({
      records: [],
      malformed: 0,
      files: [],
    });
    expect((await readTraceTail(path, 0)).records).toEqual([]);
  });

  it('reads only the tail of a large file', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 50_000; i++) lines.push(rec(i));
    await writeFile(path, lines.join('\n') + '\n');
    const r = await readTraceTail(path, 200);
    expect(r.records).toHaveLength(200);
    expect(r.records.at(-1)!.request_id).toBe('r49999');
    expect(r.records[0]!.request_id).toBe('r49800');
  });
});

describe('parseTraceLine', () => {
  it('accepts objects with a ts and rejects the rest', () => {
    expect(parseTraceLine(rec(1))?.request_id).toBe('r1');
    expect(parseTraceLine('null')).toBeNull();
    expect(parseTraceLine('{"ts":5}')).toBeNull();
  });
});
