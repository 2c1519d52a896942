import { appendFile, mkdtemp, rename, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRotatingWriter } from '../files/rotating-writer.js';
import {
  followFile,
  lineTimestamp,
  linesBackward,
  linesSince,
  parseSince,
  readLastLines,
} from './tail.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-tail-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);

describe('parseSince', () => {
  it('reads durations back from now', () => {
    expect(parseSince('30s', NOW, 'UTC')).toBe(NOW - 30_000);
    expect(parseSince('10m', NOW, 'UTC')).toBe(NOW - 600_000);
    expect(parseSince('2h', NOW, 'UTC')).toBe(NOW - 7_200_000);
    expect(parseSince('1d', NOW, 'UTC')).toBe(NOW - 86_400_000);
    expect(parseSince(' 1.5H ', NOW, 'UTC')).toBe(NOW - 5_400_000);
  });

  it('reads times, a time without offset in the given zone', () => {
    expect(parseSince('2026-03-01T10:00:00Z', NOW, '+03:00')).toBe(Date.UTC(2026, 2, 1, 10));
    expect(parseSince('2026-03-01 10:00', NOW, '+03:00')).toBe(Date.UTC(2026, 2, 1, 7));
    expect(parseSince('2026-03-01T10:00:00+0100', NOW, 'UTC')).toBe(Date.UTC(2026, 2, 1, 9));
    expect(parseSince('2026-03-01', NOW, 'UTC')).toBe(Date.UTC(2026, 2, 1));
    expect(parseSince('2026-03-01T10:00:00.250Z', NOW, 'UTC')).toBe(Date.UTC(2026, 2, 1, 10) + 250);
    expect(parseSince('2026-07-01 12:00', NOW, 'Europe/Berlin')).toBe(Date.UTC(2026, 6, 1, 10));
  });

  it('returns null for anything else', () => {
    for (const bad of ['', 'ten minutes', '10x', 'm10', '2026-13-45x', 'yesterday']) {
      expect(parseSince(bad, NOW, 'UTC'), bad).toBeNull();
    }
  });
});

describe('lineTimestamp', () => {
  it('reads the ts of a JSON line (kmi.log format) and other time fields', () => {
    expect(lineTimestamp('{"ts":"2026-03-01 14:00:00 +0300","level":"info","message":"x"}')).toBe(
      Date.UTC(2026, 2, 1, 11),
    );
    expect(lineTimestamp('{"time":"2026-03-01T11:00:00.5Z"}')).toBe(Date.UTC(2026, 2, 1, 11) + 500);
    expect(lineTimestamp('{"timestamp":1772362800}')).toBe(1772362800_000);
  });

  it('reads a leading time, with or without zone, plain or ISO, bracketed or not', () => {
    expect(lineTimestamp('2026-03-01 14:00:00 +0300 proxy listening')).toBe(
      Date.UTC(2026, 2, 1, 11),
    );
    expect(lineTimestamp('2026-03-01T11:00:00Z GET /x')).toBe(Date.UTC(2026, 2, 1, 11));
    expect(lineTimestamp('[2026-03-01 11:00:00,123] INFO x', 'UTC')).toBe(
      Date.UTC(2026, 2, 1, 11) + 123,
    );
    expect(lineTimestamp('2026-03-01 11:00:00 started', '+02:00')).toBe(Date.UTC(2026, 2, 1, 9));
  });

  it('returns null for lines without a time', () => {
    expect(lineTimestamp('    at Object.<anonymous> (file.js:1:1)')).toBeNull();
    expect(lineTimestamp('{"level":"info"}')).toBeNull();
    expect(lineTimestamp('')).toBeNull();
  });
});

describe('linesSince', () => {
  it('filters by time, keeping untimed lines with the line before them', () => {
    const lines = [
      '2026-03-01 10:00:00 +0000 old',
      '  old stack line',
      '2026-03-01 11:30:00 +0000 new',
      '  new stack line',
      '{"ts":"2026-03-01 11:45:00 +0000","message":"json"}',
    ];
    expect(linesSince(lines, Date.UTC(2026, 2, 1, 11), 'UTC')).toEqual(lines.slice(2));
  });
});

describe('readLastLines / linesBackward', () => {
  it('returns the last n lines in order, across chunk boundaries', async () => {
    const p = join(root, 'a.log');
    const all = Array.from({ length: 1000 }, (_, i) => `line ${i} ${'é'.repeat(i % 7)}`);
    await writeFile(p, all.join('\n') + '\n');
    expect(await readLastLines(p, 3)).toEqual(all.slice(-3));
    expect(await readLastLines(p, 5000)).toEqual(all);
    const back: string[] = [];
    for await (const l of linesBackward(p, { chunkBytes: 7 })) back.push(l);
    expect(back.reverse()).toEqual(all);
  });

  it('handles no trailing newline, CRLF, empty and missing files', async () => {
    const p = join(root, 'b.log');
    await writeFile(p, 'a\r\nb\r\n\r\nc');
    expect(await readLastLines(p, 10)).toEqual(['a', 'b', 'c']);
    const dropped: string[] = [];
    for await (const l of linesBackward(p, { dropUnterminated: true, chunkBytes: 1 }))
      dropped.push(l);
    expect(dropped).toEqual(['b', 'a']);
    await writeFile(p, '');
    expect(await readLastLines(p, 10)).toEqual([]);
    expect(await readLastLines(join(root, 'missing'), 10)).toEqual([]);
    expect(await readLastLines(p, 0)).toEqual([]);
  });

  it('drops a long unterminated last line spanning several chunks', async () => {
    const p = join(root, 'c.log');
    await writeFile(p, `first\nsecond\n${'x'.repeat(100)}`);
    const out: string[] = [];
    for await (const l of linesBackward(p, { dropUnterminated: true, chunkBytes: 8 })) out.push(l);
    expect(out).toEqual(['second', 'first']);
  });
});

describe('followFile', () => {
  const waitFor = async (cond: () => boolean, ms = 5000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('starts at the end, sees appended lines, and survives rename rotation', async () => {
    const p = join(root, 'proxy.out');
    await writeFile(p, 'old line\n');
    const seen: string[] = [];
    const ac = new AbortController();
    const done = followFile(p, (l) => seen.push(l), { signal: ac.signal, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 60));
    await appendFile(p, 'one\ntw');
    await waitFor(() => seen.length === 1);
    await appendFile(p, 'o\n');
    await waitFor(() => seen.length === 2);
    // Rotate: a last line lands in the old file, then the name points to a new file.
    await appendFile(p, 'three\n');
    await rename(p, `${p}.1`);
    await writeFile(p, 'four\n');
    await waitFor(() => seen.length === 4);
    await appendFile(p, 'five\n');
    await waitFor(() => seen.length === 5);
    ac.abort();
    await done;
    expect(seen).toEqual(['one', 'two', 'three', 'four', 'five']);
  });

  it('re-reads a file truncated in place and waits for a deleted file to come back', async () => {
    const p = join(root, 'kmi.log');
    await writeFile(p, '');
    const seen: string[] = [];
    const ac = new AbortController();
    const done = followFile(p, (l) => seen.push(l), { signal: ac.signal, intervalMs: 20 });
    await new Promise((r) => setTimeout(r, 50));
    await appendFile(p, 'a long first line\n');
    await waitFor(() => seen.length === 1);
    await truncate(p, 0);
    await new Promise((r) => setTimeout(r, 60));
    await appendFile(p, 'b\n');
    await waitFor(() => seen.length === 2);
    await unlink(p);
    await new Promise((r) => setTimeout(r, 60));
    await writeFile(p, 'c\n');
    await waitFor(() => seen.length === 3);
    ac.abort();
    await done;
    expect(seen).toEqual(['a long first line', 'b', 'c']);
  });

  it('follows a file being rotated by the rotating writer without losing lines', async () => {
    const p = join(root, 'rot.log');
    const w = createRotatingWriter({
      path: p,
      maxBytes: 200,
      backups: 3,
      enforcePerms: false,
      flushIntervalMs: 5,
    });
    w.write('start');
    await w.flush();
    const seen: string[] = [];
    const ac = new AbortController();
    const done = followFile(p, (l) => seen.push(l), { signal: ac.signal, intervalMs: 10 });
    await new Promise((r) => setTimeout(r, 40));
    for (let i = 0; i < 30; i++) {
      w.write(`msg-${i}-${'p'.repeat(20)}`);
      await w.flush();
      await new Promise((r) => setTimeout(r, 25));
    }
    await w.close();
    await waitFor(() => seen.length >= 30);
    ac.abort();
    await done;
    expect(w.stats().rotations).toBeGreaterThan(2);
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `msg-${i}-${'p'.repeat(20)}`));
  });

  it('returns at once when already aborted, and reads from the start with fromStart', async () => {
    const p = join(root, 'x.log');
    await writeFile(p, 'x\ny\n');
    const ac = new AbortController();
    ac.abort();
    await followFile(p, () => {}, { signal: ac.signal });
    const seen: string[] = [];
    const ac2 = new AbortController();
    const done = followFile(p, (l) => seen.push(l), {
      signal: ac2.signal,
      fromStart: true,
      intervalMs: 10,
    });
    await waitFor(() => seen.length === 2);
    ac2.abort();
    await done;
    expect(seen).toEqual(['x', 'y']);
  });
});
