import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRotatingWriter, unwritten } from './rotating-writer.js';

const posix = process.platform !== 'win32';
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-rw-'));
});
afterEach(async () => {
  await chmod(root, 0o700).catch(() => {});
  await rm(root, { recursive: true, force: true });
});

const lines = async (p: string) => (await readFile(p, 'utf8')).split('\n').filter((l) => l !== '');

describe('createRotatingWriter', () => {
  it('queues lines and writes them in one batch after the interval', async () => {
    const path = join(root, 'a.log');
    const w = createRotatingWriter({
      path,
      maxBytes: 1 << 20,
      backups: 2,
      enforcePerms: true,
      flushIntervalMs: 50,
    });
    w.write('one');
    w.write('two\n');
    w.write('three');
    // Nothing is written synchronously: write() only queues.
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    await new Promise((r) => setTimeout(r, 150));
    expect(await lines(path)).toEqual(['one', 'two', 'three']);
    expect(w.stats().written).toBe(3);
    await w.close();
  });

  it('writes at the next turn when more than the batch size is queued', async () => {
    const path = join(root, 'big.log');
    const w = createRotatingWriter({
      path,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      flushIntervalMs: 60_000,
      batchBytes: 100,
    });
    for (let i = 0; i < 20; i++) w.write(`line ${i} ${'x'.repeat(10)}`);
    await new Promise((r) => setTimeout(r, 50));
    expect((await lines(path)).length).toBe(20);
    await w.close();
  });

  it('writes encoded lines (writeBytes) between text lines, in order', async () => {
    const path = join(root, 'bytes.log');
    const w = createRotatingWriter({ path, maxBytes: 1 << 20, backups: 1, enforcePerms: false });
    const scratch = Buffer.from('encoded ü line\nrest');
    w.write('text');
    w.writeBytes(scratch, Buffer.byteLength('encoded ü line\n'));
    w.write('last');
    await w.close();
    expect(await lines(path)).toEqual(['text', 'encoded ü line', 'last']);
    w.writeBytes(scratch, 3);
    expect(w.stats()).toMatchObject({ written: 3, dropped: 1 });
  });

  it('flush() and close() put every queued line on disk', async () => {
    const path = join(root, 'sub', 'dir', 'f.log');
    const w = createRotatingWriter({
      path,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: true,
      flushIntervalMs: 60_000,
    });
    w.write('a');
    await w.flush();
    expect(await lines(path)).toEqual(['a']);
    w.write('b');
    w.write('c');
    await w.close();
    expect(await lines(path)).toEqual(['a', 'b', 'c']);
    w.write('after close');
    await w.flush();
    expect(await lines(path)).toEqual(['a', 'b', 'c']);
    expect(w.dropped).toBe(1);
  });

  it.runIf(posix)(
    'creates the folder 0700 and the file 0600, and tightens an existing 0644 file',
    async () => {
      const dir = join(root, 'logs');
      const path = join(dir, 'kmi.log');
      const w = createRotatingWriter({ path, maxBytes: 1 << 20, backups: 1, enforcePerms: true });
      w.write('x');
      await w.close();
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
      expect((await stat(path)).mode & 0o777).toBe(0o600);

      const loose = join(dir, 'loose.log');
      await writeFile(loose, 'old\n', { mode: 0o644 });
      await chmod(loose, 0o644);
      const w2 = createRotatingWriter({
        path: loose,
        maxBytes: 1 << 20,
        backups: 1,
        enforcePerms: true,
      });
      w2.write('new');
      await w2.close();
      expect((await stat(loose)).mode & 0o777).toBe(0o600);
      expect(await lines(loose)).toEqual(['old', 'new']);
    },
  );

  it('rotates by size into .1 … .N and keeps only N backups', async () => {
    const path = join(root, 'trace.jsonl');
    const w = createRotatingWriter({ path, maxBytes: 100, backups: 2, enforcePerms: true });
    // 14 lines of 25 bytes (24 + newline): 4 fit per file.
    for (let i = 0; i < 14; i++) {
      w.write(`line-${String(i).padStart(2, '0')}-${'z'.repeat(16)}`);
      if (i % 3 === 2) await w.flush();
    }
    await w.close();
    const names = (await readdir(root)).sort();
    expect(names).toEqual(['trace.jsonl', 'trace.jsonl.1', 'trace.jsonl.2']);
    const live = await lines(path);
    const one = await lines(`${path}.1`);
    const two = await lines(`${path}.2`);
    for (const f of [path, `${path}.1`, `${path}.2`])
      expect((await stat(f)).size).toBeLessThanOrEqual(100);
    // Newest in the live file, older in .1, oldest kept in .2; line-00 … line-03 rotated away.
    expect(two.map((l) => l.slice(0, 7))).toEqual(['line-04', 'line-05', 'line-06', 'line-07']);
    expect(one.map((l) => l.slice(0, 7))).toEqual(['line-08', 'line-09', 'line-10', 'line-11']);
    expect(live.map((l) => l.slice(0, 7))).toEqual(['line-12', 'line-13']);
    expect(w.stats().rotations).toBe(3);
    if (posix) expect((await stat(`${path}.1`)).mode & 0o777).toBe(0o600);
  });

  it('under sustained writes keeps every line, in order, across full batches and rotations', async () => {
    const path = join(root, 'volume.jsonl');
    const w = createRotatingWriter({
      path,
      maxBytes: 256 * 1024,
      backups: 20,
      enforcePerms: false,
    });
    const count = 20_000;
    for (let i = 0; i < count; i++) {
      w.write(
        JSON.stringify({
          i,
          hint: i % 3 === 0 ? 'ünïcödé …' : 'plain words here',
          pad: 'p'.repeat(i % 50),
        }),
      );
      if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 2));
    }
    await w.close();
    const files = (await readdir(root)).filter((n) => n.startsWith('volume.jsonl'));
    const ordered = files.sort((a, b) => {
      const n = (x: string) => (x === 'volume.jsonl' ? 0 : Number(x.split('.').pop()));
      return n(b) - n(a);
    });
    const all: number[] = [];
    for (const f of ordered) {
      expect((await stat(join(root, f))).size).toBeLessThanOrEqual(256 * 1024);
      for (const l of await lines(join(root, f))) all.push((JSON.parse(l) as { i: number }).i);
    }
    expect(w.stats()).toMatchObject({ dropped: 0 });
    expect(all).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(w.stats()).toMatchObject({ written: count, dropped: 0, errors: 0 });
  });

  it('with 0 backups drops the full file and starts a fresh one', async () => {
    const path = join(root, 'nobak.log');
    const w = createRotatingWriter({ path, maxBytes: 30, backups: 0, enforcePerms: false });
    for (let i = 0; i < 5; i++) w.write(`${i}${'y'.repeat(13)}`); // 15 bytes each: 2 per file
    await w.close();
    expect(await readdir(root)).toEqual(['nobak.log']);
    expect(await lines(path)).toEqual([`4${'y'.repeat(13)}`]);
  });

  it('continues an existing file and rotates it when already full', async () => {
    const path = join(root, 'existing.log');
    await writeFile(path, `${'o'.repeat(59)}\n`);
    const w = createRotatingWriter({ path, maxBytes: 64, backups: 1, enforcePerms: false });
    w.write('fresh');
    await w.close();
    expect(await lines(`${path}.1`)).toEqual(['o'.repeat(59)]);
    expect(await lines(path)).toEqual(['fresh']);
  });

  it('follows a rotation done by another process (file renamed under it)', async () => {
    const path = join(root, 'shared.log');
    const w = createRotatingWriter({ path, maxBytes: 1 << 20, backups: 1, enforcePerms: false });
    w.write('before');
    await w.flush();
    const { rename } = await import('node:fs/promises');
    await rename(path, `${path}.1`);
    w.write('after');
    await w.close();
    expect(await lines(`${path}.1`)).toEqual(['before']);
    expect(await lines(path)).toEqual(['after']);
  });

  it('bounds the queue, dropping the oldest lines and counting them', async () => {
    const path = join(root, 'bounded.log');
    const w = createRotatingWriter({
      path,
      maxBytes: 1 << 20,
      backups: 1,
      enforcePerms: false,
      maxQueuedLines: 5,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 12; i++) w.write(`l${i}`);
    expect(w.dropped).toBe(7);
    await w.close();
    expect(await lines(path)).toEqual(['l7', 'l8', 'l9', 'l10', 'l11']);
  });

  it('swallows I/O errors (folder is a file), counts them, and recovers', async () => {
    const dir = join(root, 'not-a-dir');
    await writeFile(dir, 'i am a file');
    const path = join(dir, 'x.log');
    const w = createRotatingWriter({ path, maxBytes: 1 << 20, backups: 1, enforcePerms: true });
    w.write('lost');
    await expect(w.flush()).resolves.toBeUndefined();
    expect(w.errors).toBeGreaterThan(0);
    expect(['EEXIST', 'ENOTDIR']).toContain(w.stats().lastError);
    expect(w.dropped).toBe(1);
    await rm(dir);
    await mkdir(dir);
    w.write('kept');
    await w.close();
    expect(await lines(path)).toEqual(['kept']);
  });

  it('keeps multibyte text intact and counts bytes, not characters', async () => {
    const path = join(root, 'utf8.log');
    const w = createRotatingWriter({ path, maxBytes: 19, backups: 1, enforcePerms: false });
    w.write('привет'); // 12 bytes + newline
    w.write('мир'); // 6 bytes + newline: 20 > 19, rotates (6 + 3 characters would fit)
    await w.close();
    expect(await lines(`${path}.1`)).toEqual(['привет']);
    expect(await lines(path)).toEqual(['мир']);
  });
});

describe('unwritten', () => {
  const views = [Buffer.from('abc'), Buffer.from('de'), Buffer.from('fgh')];
  const text = (bufs: Buffer[]) => bufs.map((b) => b.toString()).join('|');

  it('drops whole views and cuts into the first one not fully written', () => {
    expect(text(unwritten(views, 0))).toBe('abc|de|fgh');
    expect(text(unwritten(views, 2))).toBe('c|de|fgh');
    expect(text(unwritten(views, 3))).toBe('de|fgh');
    expect(text(unwritten(views, 4))).toBe('e|fgh');
    expect(text(unwritten(views, 7))).toBe('h');
    expect(unwritten(views, 8)).toEqual([]);
  });
});
