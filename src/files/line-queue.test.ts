import { describe, expect, it } from 'vitest';
import { LineQueue, type LineBatch } from './line-queue.js';

const text = (batch: LineBatch) => Buffer.concat(batch.views).toString('utf8');
const lines = (batch: LineBatch) => batch.lineViews().map((v) => v.toString('utf8'));

describe('LineQueue', () => {
  it('keeps lines in order as UTF-8, adding a newline only where one is missing', () => {
    const q = new LineQueue();
    q.push('one');
    q.push('two\n');
    q.push('');
    q.push('три “4” 😀');
    expect(q.lines).toBe(4);
    expect(q.bytes).toBe(Buffer.byteLength('one\ntwo\n\nтри “4” 😀\n'));
    const batch = q.take();
    expect(text(batch)).toBe('one\ntwo\n\nтри “4” 😀\n');
    expect(lines(batch)).toEqual(['one\n', 'two\n', '\n', 'три “4” 😀\n']);
    expect(batch.lines).toBe(4);
    expect(q.lines).toBe(0);
    expect(q.bytes).toBe(0);
  });

  it('queues encoded lines by copying the given prefix of a buffer that is then reused', () => {
    const q = new LineQueue();
    const scratch = Buffer.alloc(64, 0x78);
    scratch.write('ünï\n', 0);
    q.pushBytes(scratch, Buffer.byteLength('ünï\n'));
    scratch.write('two', 0); // reused at once: what was queued must not change
    q.pushBytes(scratch, 3);
    q.push('three');
    expect(text(q.take())).toBe('ünï\ntwo\nthree\n');
  });

  it('spreads many lines and very long ones over several buffers without losing a byte', () => {
    const q = new LineQueue();
    const want: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const line =
        i % 500 === 7 ? `long ${i} ${'é'.repeat(70_000)}` : `line ${i} ${'x'.repeat(i % 97)}`;
      want.push(`${line}\n`);
      q.push(line);
    }
    const batch = q.take();
    expect(batch.views.length).toBeGreaterThan(3);
    expect(batch.bytes).toBe(Buffer.byteLength(want.join('')));
    expect(text(batch)).toBe(want.join(''));
    expect(lines(batch)).toEqual(want);
  });

  it('drops the oldest lines first, across buffers, and counts what is left', () => {
    const q = new LineQueue();
    for (let i = 0; i < 2000; i++) q.push(`line ${i} ${'y'.repeat(60)}`);
    for (let i = 0; i < 1500; i++) q.dropOldest();
    expect(q.lines).toBe(500);
    const batch = q.take();
    const got = lines(batch);
    expect(got).toHaveLength(500);
    expect(got[0]).toBe(`line 1500 ${'y'.repeat(60)}\n`);
    expect(got[499]).toBe(`line 1999 ${'y'.repeat(60)}\n`);
    expect(batch.bytes).toBe(Buffer.byteLength(got.join('')));
    expect(text(batch)).toBe(got.join(''));
    const empty = new LineQueue();
    empty.dropOldest();
    expect(empty.lines).toBe(0);
  });

  it('reuses released buffers without disturbing a batch still being written', () => {
    const q = new LineQueue();
    q.push('first batch');
    const first = q.take();
    q.push('second batch');
    const second = q.take();
    expect(text(first)).toBe('first batch\n');
    q.release(first);
    q.push('third batch, in a reused buffer');
    expect(text(second)).toBe('second batch\n');
    expect(text(q.take())).toBe('third batch, in a reused buffer\n');
  });

  it('reuses as many written buffers as it was asked to keep, and allocates beyond that', () => {
    const fill = (q: LineQueue) => {
      for (let i = 0; i < 500; i++) q.push('z'.repeat(999)); // ~500 KB: 8 buffers of 64 KiB
      return q.take();
    };
    const reused = (q: LineQueue) => {
      const first = fill(q);
      const old = new Set(first.views.map((v) => v.buffer));
      q.release(first);
      return fill(q).views.filter((v) => old.has(v.buffer)).length;
    };
    expect(reused(new LineQueue({ reuseBytes: 512 * 1024 }))).toBe(8);
    expect(reused(new LineQueue())).toBe(5); // the default keeps 256 KiB, plus one
  });
});
