// FileStateStore: state.json read, merged under a lock, written atomically, watched for other writers.
import { statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { KmiError } from '../errors.js';
import {
  SECURE_DIR_MODE,
  SECURE_FILE_MODE,
  ensureSecureDir,
  errnoCode,
  moveAside,
  permissionBits,
  tightenMode,
  writeFileAtomicSecure,
} from '../files/secure.js';
import type { StateBackend, StateEvent } from './backend.js';
import { InFlight } from './in-flight.js';
import { withFileLock, type HeldLock } from './lock.js';
import { isPlainObject, normalizeState } from './normalize.js';
import { emptyState, formatUtc, type State } from './schema.js';

export const STATE_FILE_NAME = 'state.json';
export const DEFAULT_WATCH_INTERVAL_MS = 250;

export interface FileStateStoreOptions {
  /** The state folder (KMI_STATE_DIR, default ~/.kmi). */
  readonly dir: string;
  /** KMI_ENFORCE_FILE_PERMS: folder 0700, files 0600, looser existing modes fixed. */
  readonly enforcePerms: boolean;
  readonly clock?: Clock;
  /** Corrupt files set aside, permissions fixed, watch failures. Exceptions thrown here are ignored. */
  readonly onEvent?: (event: StateEvent) => void;
  /** Poll interval of `watch`; changes are seen within about this long. */
  readonly watchIntervalMs?: number;
  /** How long `update` waits for the lock before KMI_E_STATE_LOCK. */
  readonly lockWaitMs?: number;
  /** After this long without a refresh, a lock is considered left by a dead process. */
  readonly lockStaleMs?: number;
}

/** What is on disk: missing, a usable state, or something to set aside (with why). */
export type DiskRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'ok'; readonly state: State }
  | { readonly kind: 'corrupt'; readonly reason: string };

/** Read errors that mean "this file cannot be used", as opposed to a passing condition like EMFILE. */
const UNREADABLE_CODES = new Set(['EACCES', 'EPERM', 'EISDIR']);

/** Pretty JSON with a trailing newline: the Python tool's format, so diffs and hand edits stay easy. */
export function serializeState(state: State): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Parse state file bytes; never throws. */
export function parseStateText(text: string): DiskRead {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === '') return { kind: 'corrupt', reason: 'empty file' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return { kind: 'corrupt', reason: `invalid JSON: ${printable((err as Error).message)}` };
  }
  if (!isPlainObject(parsed)) return { kind: 'corrupt', reason: 'not a JSON object' };
  return { kind: 'ok', state: normalizeState(parsed) };
}

export class FileStateStore implements StateBackend {
  readonly location: string;
  readonly path: string;
  readonly lockPath: string;
  private readonly dir: string;
  private readonly enforcePerms: boolean;
  private readonly clock: Clock;
  private readonly onEvent: ((event: StateEvent) => void) | undefined;
  private readonly watchIntervalMs: number;
  private readonly lockWaitMs: number | undefined;
  private readonly lockStaleMs: number | undefined;
  private prepared: Promise<void> | null = null;
  private readonly unwatchers = new Set<() => void>();
  private readonly inFlight = new InFlight();

  constructor(opts: FileStateStoreOptions) {
    this.dir = opts.dir;
    this.path = join(opts.dir, STATE_FILE_NAME);
    this.lockPath = `${this.path}.lock`;
    this.location = this.path;
    this.enforcePerms = opts.enforcePerms;
    this.clock = opts.clock ?? systemClock;
    this.onEvent = opts.onEvent;
    this.watchIntervalMs = opts.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
    this.lockWaitMs = opts.lockWaitMs;
    this.lockStaleMs = opts.lockStaleMs;
  }

  read(): Promise<State> {
    return this.inFlight.track(this.readNow());
  }

  update(mutate: (state: State) => void): Promise<State> {
    return this.inFlight.track(
      (async () => {
        await this.prepare();
        return this.locked(async (lock) => {
          const state = await this.loadLocked();
          mutate(state);
          lock.assertHeld();
          await this.write(state);
          return state;
        });
      })(),
    );
  }

  watch(onChange: (state: State) => void): () => void {
    // Polling stat() works on every file system (fs.watch misses network mounts and loses track of a
    // file replaced by rename, which every write here does). The baseline is taken now, synchronously,
    // so any write finishing after watch() returns is seen, even one racing a read() right after it.
    let last = this.signatureSync();
    let polling = false;
    let active = true;
    // Report a failing watch once, not on every poll, until it works again.
    let failing = false;
    const fail = (err: unknown): void => {
      if (!failing) this.emit({ kind: 'watch-error', path: this.path, reason: describe(err) });
      failing = true;
    };

    const poll = async (): Promise<void> => {
      if (polling || !active) return;
      polling = true;
      try {
        const now = await this.signature();
        if (now !== last && active) {
          const state = await this.readNow();
          last = now;
          if (active) onChange(state);
        }
        failing = false;
      } catch (err) {
        fail(err);
      } finally {
        polling = false;
      }
    };

    const timer = setInterval(() => void this.inFlight.track(poll()), this.watchIntervalMs);
    // Watching alone must not keep a CLI process alive; the proxy's server does that.
    timer.unref();

    const unsubscribe = (): void => {
      if (!active) return;
      active = false;
      clearInterval(timer);
      this.unwatchers.delete(unsubscribe);
    };
    this.unwatchers.add(unsubscribe);
    return unsubscribe;
  }

  async close(): Promise<void> {
    for (const unsubscribe of [...this.unwatchers]) unsubscribe();
    await this.inFlight.settled();
  }

  /** ino+size+mtime+ctime of the state file, or "missing"; every atomic replace changes it. */
  private async signature(): Promise<string> {
    try {
      return statSignature(await stat(this.path));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'missing';
      throw err;
    }
  }

  private signatureSync(): string {
    try {
      return statSignature(statSync(this.path));
    } catch {
      return 'missing';
    }
  }

  private async readNow(): Promise<State> {
    await this.prepare();
    const first = await this.readDisk();
    if (first.kind === 'ok') return first.state;
    if (first.kind === 'missing') return emptyState();
    // Re-check under the lock: a writer may have replaced the file meanwhile, and only one process
    // should set a broken file aside and report it.
    return this.locked(async (lock) => {
      const state = await this.loadLocked();
      lock.assertHeld();
      await this.write(state);
      return state;
    });
  }

  /** The state as on disk now; a corrupt file is set aside (reported once) and a fresh state returned. */
  private async loadLocked(): Promise<State> {
    const disk = await this.readDisk();
    if (disk.kind === 'ok') return disk.state;
    if (disk.kind === 'missing') return emptyState();
    const suffix = `corrupt-${formatUtc(this.clock.now()).replace(/[-:]/g, '')}`;
    let movedTo: string;
    try {
      movedTo = await moveAside(this.path, suffix);
    } catch (err) {
      throw ioError('state.writeFailed', this.path, err);
    }
    this.emit({ kind: 'corrupt', path: this.path, movedTo, reason: disk.reason });
    return emptyState();
  }

  private async readDisk(): Promise<DiskRead> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return { kind: 'missing' };
      if (code !== undefined && UNREADABLE_CODES.has(code)) {
        return { kind: 'corrupt', reason: `unreadable (${code})` };
      }
      throw ioError('state.readFailed', this.path, err);
    }
    return parseStateText(bytes.toString('utf8'));
  }

  private async write(state: State): Promise<void> {
    try {
      await writeFileAtomicSecure(this.path, serializeState(state), this.enforcePerms);
    } catch (err) {
      throw ioError('state.writeFailed', this.path, err);
    }
  }

  private locked<T>(fn: (lock: HeldLock) => Promise<T>): Promise<T> {
    return withFileLock(
      this.path,
      { lockPath: this.lockPath, waitMs: this.lockWaitMs, staleMs: this.lockStaleMs },
      fn,
    );
  }

  /** Once per store: create the folder, and with enforcement tighten a loose folder or file. */
  private prepare(): Promise<void> {
    this.prepared ??= this.prepareOnce().catch((err: unknown) => {
      this.prepared = null;
      throw err;
    });
    return this.prepared;
  }

  private async prepareOnce(): Promise<void> {
    try {
      const dirBits = this.enforcePerms ? await permissionBits(this.dir) : null;
      await ensureSecureDir(this.dir, this.enforcePerms);
      if (dirBits !== null && (dirBits & ~SECURE_DIR_MODE) !== 0) {
        this.emit({ kind: 'permissions-fixed', path: this.dir, mode: octal(SECURE_DIR_MODE) });
      }
    } catch (err) {
      throw ioError('state.dirFailed', this.dir, err);
    }
    try {
      if ((await tightenMode(this.path, SECURE_FILE_MODE, this.enforcePerms)) !== null) {
        this.emit({ kind: 'permissions-fixed', path: this.path, mode: octal(SECURE_FILE_MODE) });
      }
    } catch (err) {
      throw ioError('state.writeFailed', this.path, err);
    }
  }

  private emit(event: StateEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // A reporting failure must not break state handling.
    }
  }
}

function statSignature(s: Stats): string {
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}

function describe(err: unknown): string {
  if (err instanceof KmiError) return err.code;
  return errnoCode(err) ?? (err instanceof Error ? err.message : String(err));
}

function ioError(
  key: 'state.readFailed' | 'state.writeFailed' | 'state.dirFailed',
  path: string,
  err: unknown,
): KmiError {
  if (err instanceof KmiError) return err;
  return new KmiError('KMI_E_STATE_IO', key, { path, reason: describe(err) }, { cause: err });
}

/** One printable line: parser messages may quote raw (binary) bytes of the file. */
function printable(text: string): string {
  const flat = text
    .replace(/[\u0000-\u001f\u007f-\u009f\ufffd]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > 120 ? `${flat.slice(0, 117)}...` : flat;
}
