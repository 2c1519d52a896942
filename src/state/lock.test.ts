import { mkdtemp, readdir, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withFileLock } from './lock.js';

let root: string;
let target: string;
let lockPath: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kmi-lock-'));
  target = join(root, 'state.json');
  lockPath = `${target}.lock`;
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('withFileLock', () => {
  it('runs callers of one process one at a time, in order', async () => {
    const log: string[] = [];
    let inside = 0;
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        withFileLock(target, { lockPath }, async () => {
          inside++;
          expect(inside).toBe(1);
          log.push(`start ${n}`);
          await tick();
          log.push(`end ${n}`);
          inside--;
        }),
      ),
    );
    expect(log).toEqual([1, 2, 3, 4, 5].flatMap((n) => [`start ${n}`, `end ${n}`]));
    expect(await readdir(root)).toEqual([]);
  });

  it('holds the lock folder only while the callback runs, and releases it on throw', async () => {
    await expect(
      withFileLock(target, { lockPath }, async () => {
        expect(await readdir(root)).toEqual(['state.json.lock']);
        throw new Error('inner');
      }),
    ).rejects.toThrow('inner');
    expect(await readdir(root)).toEqual([]);
    expect(await withFileLock(target, { lockPath }, async () => 42)).toBe(42);
  });

  it('reports a lost lock instead of writing under it', async () => {
    const result = withFileLock(target, { lockPath, staleMs: 2000 }, async (lock) => {
      lock.assertHeld();
      // Someone else removed our lock (as a takeover after a long pause would); the refresh, due
      // after 1 s, notices.
      await rmdir(lockPath);
      await new Promise((r) => setTimeout(r, 1300));
      lock.assertHeld();
    });
    await expect(result).rejects.toMatchObject({
      code: 'KMI_E_STATE_LOCK',
      messageKey: 'state.lockLost',
    });
  });
});
