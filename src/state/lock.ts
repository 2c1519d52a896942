// withFileLock: a cross-process advisory lock on a sibling lock path (proper-lockfile), waited for with backoff.
import { lstat, unlink } from 'node:fs/promises';
import lockfile from 'proper-lockfile';
import { KmiError } from '../errors.js';
import { errnoCode, moveAside } from '../files/secure.js';
import { formatUtc } from './schema.js';

export interface FileLockOptions {
  /** The lock's own path (a folder proper-lockfile creates), e.g. `<dir>/state.json.lock`. */
  readonly lockPath: string;
  /** How long to keep trying before giving up. Longer than `staleMs`, so a crashed holder's lock is taken over. */
  readonly waitMs?: number;
  /** A lock not refreshed for this long belongs to a dead process and may be taken over. */
  readonly staleMs?: number;
}

export const DEFAULT_LOCK_WAIT_MS = 12_000;
export const DEFAULT_LOCK_STALE_MS = 10_000;

export interface HeldLock {
  /** Throws KMI_E_STATE_LOCK if the lock was lost (e.g. this process was paused past the stale time). */
  assertHeld(): void;
}

/**
 * Calls within one process queue here first, so proper-lockfile (which refuses a second lock of the
 * same path from the same process) only ever sees one of them, and they do not poll each other.
 */
const inProcessTails = new Map<string, Promise<void>>();

/** Run `fn` while holding the lock on `target`; the lock is released however `fn` ends. */
export async function withFileLock<T>(
  target: string,
  options: FileLockOptions,
  fn: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const key = options.lockPath;
  const previous = inProcessTails.get(key) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => {
    done = resolve;
  });
  const tail = previous.then(() => mine);
  inProcessTails.set(key, tail);
  await previous;
  try {
    let lostReason: string | null = null;
    const release = await acquire(target, options, (err) => {
      lostReason = err.message;
    });
    const held: HeldLock = {
      assertHeld() {
        if (lostReason !== null) {
          throw new KmiError('KMI_E_STATE_LOCK', 'state.lockLost', { path: target });
        }
      },
    };
    try {
      return await fn(held);
    } finally {
      // A lost lock is already gone; releasing it again only reports ERELEASED.
      await release().catch(() => undefined);
    }
  } finally {
    done();
    if (inProcessTails.get(key) === tail) inProcessTails.delete(key);
  }
}

async function acquire(
  target: string,
  options: FileLockOptions,
  onCompromised: (err: Error) => void,
): Promise<() => Promise<void>> {
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const staleMs = options.staleMs ?? DEFAULT_LOCK_STALE_MS;
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await lockfile.lock(target, {
        lockfilePath: options.lockPath,
        realpath: false,
        stale: staleMs,
        retries: 0,
        // The default throws from a timer, which would crash the process; we refuse to write instead.
        onCompromised,
      });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ELOCKED' || code === 'ENOTDIR') {
        if (await clearForeignLockFile(options.lockPath)) continue;
        if (Date.now() >= deadline) {
          throw new KmiError(
            'KMI_E_STATE_LOCK',
            'state.lockTimeout',
            { path: options.lockPath, seconds: Math.round(waitMs / 1000) },
            { cause: err },
          );
        }
        await sleep(backoffMs(attempt));
        continue;
      }
      throw new KmiError(
        'KMI_E_STATE_LOCK',
        'state.lockFailed',
        { path: options.lockPath, reason: code ?? String(err) },
        { cause: err },
      );
    }
  }
}

/**
 * The Python tool locks with flock() on a plain *file* at the same path; proper-lockfile uses a
 * folder there and would wait forever on that file. An empty leftover file holds nothing, so it is
 * removed; anything else is moved aside, never deleted. Returns true when it cleared something.
 */
async function clearForeignLockFile(lockPath: string): Promise<boolean> {
  try {
    const info = await lstat(lockPath);
    if (info.isDirectory()) return false;
    if (info.isFile() && info.size === 0) await unlink(lockPath);
    else await moveAside(lockPath, `foreign-${formatUtc(Date.now()).replace(/[-:]/g, '')}`);
    return true;
  } catch {
    // Gone meanwhile (the next attempt takes the lock) or not removable (we wait, then time out).
    return false;
  }
}

/** 2 ms doubling-ish up to ~60 ms, with jitter so waiting processes do not retry in lockstep. */
function backoffMs(attempt: number): number {
  const base = Math.min(60, 2 * 1.6 ** attempt);
  return base * (0.5 + Math.random());
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
