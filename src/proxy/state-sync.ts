// StateSync: the proxy's in-memory view of state.json — changes batched as deltas, flushed at most once a second, CLI edits picked up via watch.
import type { Logger } from '../log/types.js';
import type { StateBackend } from '../state/backend.js';
import type { Coordination } from '../state/coordination.js';
import { addKeyCounters, blockKey, keyState, markExhausted, markUsed } from '../state/key-state.js';
import { parseUtc, type KeyState, type State, type UsageSnapshot } from '../state/schema.js';
import {
  applyUsage,
  DEFAULT_USAGE_FALLBACK_MS,
  runtimeFromState,
  type KeyRuntime,
} from './key-runtime.js';

export type ErrorCounter = 'error_401' | 'error_403' | 'error_429' | 'error_5xx';

/** What this proxy changed for one key since the last successful flush. */
interface PendingKey {
  request_count: number;
  error_401: number;
  error_403: number;
  error_429: number;
  error_5xx: number;
  lastUsedMs: number;
  block: { reason: string; atMs: number; untilMs: number | null } | null;
  exhaustUntilMs: number;
  failures: number | null;
}

function emptyPending(): PendingKey {
  return {
    request_count: 0,
    error_401: 0,
    error_403: 0,
    error_429: 0,
    error_5xx: 0,
    lastUsedMs: 0,
    block: null,
    exhaustUntilMs: 0,
    failures: null,
  };
}

/** `newer` merged into `older` (older is changed and returned). */
function mergePending(older: PendingKey, newer: PendingKey): PendingKey {
  older.request_count += newer.request_count;
  older.error_401 += newer.error_401;
  older.error_403 += newer.error_403;
  older.error_429 += newer.error_429;
  older.error_5xx += newer.error_5xx;
  older.lastUsedMs = Math.max(older.lastUsedMs, newer.lastUsedMs);
  if (newer.block !== null) older.block = newer.block;
  older.exhaustUntilMs = Math.max(older.exhaustUntilMs, newer.exhaustUntilMs);
  if (newer.failures !== null) older.failures = newer.failures;
  return older;
}

function overlay(rt: KeyRuntime, p: PendingKey): void {
  rt.requestCount += p.request_count;
  rt.error401 += p.error_401;
  rt.error403 += p.error_403;
  rt.error429 += p.error_429;
  rt.error5xx += p.error_5xx;
  rt.lastUsedMs = Math.max(rt.lastUsedMs, p.lastUsedMs);
  if (p.block !== null) {
    rt.blockedReason = p.block.reason;
    rt.blockedUntilMs = p.block.untilMs ?? Number.POSITIVE_INFINITY;
  }
  rt.exhaustedUntilMs = Math.max(rt.exhaustedUntilMs, p.exhaustUntilMs);
  if (p.failures !== null) rt.consecutiveFailures = p.failures;
}

/**
 * Add `batch` to `state` (as on disk, under the lock). Counters go in as deltas. Block and cooldown
 * fields are written only for keys this proxy changed them on — and not when someone lifted them
 * since our last view (`seen`): a `kmi unblock` wins over a block noted before it.
 */
function applyToState(state: State, batch: ReadonlyMap<string, PendingKey>, seen: State): void {
  for (const [label, p] of batch) {
    const ks = keyState(state, label);
    const before = ownEntry(seen, label);
    addKeyCounters(ks, p);
    if (p.lastUsedMs > 0 && p.lastUsedMs > (parseUtc(ks.last_used) ?? 0))
      markUsed(ks, p.lastUsedMs);
    if (p.block !== null && !(hasBlock(before) && !hasBlock(ks)))
      blockKey(ks, p.block.reason, p.block.atMs, p.block.untilMs);
    if (p.exhaustUntilMs > 0 && !(before?.exhausted_until != null && ks.exhausted_until == null))
      markExhausted(ks, p.exhaustUntilMs);
    if (p.failures !== null) ks.consecutive_failures = p.failures;
  }
}

export interface StateSyncOptions {
  readonly store: StateBackend;
  /** Key labels in pool order; runtimes[i] belongs to labels[i]. */
  readonly labels: readonly string[];
  readonly logger: Logger;
  /** Minimum time between two flushes (default 1000 ms). */
  readonly flushIntervalMs?: number;
  /** How long a used-up window without a reset time keeps a key out (default 300 s). */
  readonly usageFallbackMs?: number;
  /**
   * Shared state (Redis): counters go out with `addCounters` in the batched flush instead of
   * `store.update`, cooldowns and blocks with `setCooldown`/`setBlock` at once, and the rotation
   * pointer is not written (the shared counter is the position). Null/absent: the file-store path.
   */
  readonly coordination?: Coordination | null;
}

/** How long an own cooldown/block sent to the shared store stays applied while reads catch up. */
const RECENT_WRITE_MS = 2000;

/** A cooldown or block this proxy sent to the shared store, kept until a read shows it. */
interface RecentMark {
  exhaustUntilMs: number;
  block: { reason: string; atMs: number; untilMs: number | null } | null;
  sentAt: number;
}

/** A usage check this proxy made, kept until the state carries a newer one. */
interface OwnUsage {
  readonly snapshot: UsageSnapshot;
  readonly atMs: number;
}

/**
 * Ordering of reads and writes. The watch only tells us *that* the file changed; we then read it
 * ourselves, and drop a read that overlapped one of our own writes (it may predate the write, and
 * the write's result is at least as new). So the view never goes back in time, and a change the CLI
 * makes is taken as soon as it is read — no grace period that would delay an unblock.
 */
export class StateSync {
  /** Index-aligned with the labels; objects are updated in place. */
  readonly runtimes: KeyRuntime[];
  /** The round-robin pointer: this proxy's own, flushed to state.rotation_index. */
  rotationIndex: number;
  private base: State;
  private pending = new Map<string, PendingKey>();
  private flushing: ReadonlyMap<string, PendingKey> | null = null;
  private readonly ownUsage: (OwnUsage | undefined)[];
  private rotationDirty = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<State> | null = null;
  private lastFlushAt = 0;
  private closed = false;
  /** Bumped when one of our writes starts and when it ends. */
  private writeEpoch = 0;
  private writing = false;
  private reading = false;
  private readAgain = false;
  private readFailing = false;
  private readonly unwatch: () => void;
  private readonly shared: Coordination | null;
  /** Shared mode: counters written (or queued) but not yet in a state we read. */
  private sent = new Map<string, PendingKey>();
  /** Shared mode: own cooldowns/blocks sent, kept applied until a read carries them. */
  private readonly recent = new Map<string, RecentMark>();
  private readonly intervalMs: number;
  private readonly fallbackMs: number;

  private constructor(
    private readonly options: StateSyncOptions,
    initial: State,
  ) {
    this.base = initial;
    this.shared = options.coordination ?? null;
    this.intervalMs = options.flushIntervalMs ?? 1000;
    this.fallbackMs = options.usageFallbackMs ?? DEFAULT_USAGE_FALLBACK_MS;
    this.rotationIndex =
      Number.isInteger(initial.rotation_index) && initial.rotation_index >= 0
        ? initial.rotation_index
        : 0;
    this.runtimes = options.labels.map((label) =>
      runtimeFromState(label, ownEntry(initial, label), this.fallbackMs),
    );
    this.ownUsage = options.labels.map(() => undefined);
    this.unwatch = options.store.watch(() => this.onExternalChange());
  }

  static async open(options: StateSyncOptions): Promise<StateSync> {
    return new StateSync(options, await options.store.read());
  }

  /** As `open`, from a state the caller has just read. */
  static fromState(options: StateSyncOptions, initial: State): StateSync {
    return new StateSync(options, initial);
  }

  /** The state file is the truth for these: the CLI switches them while the proxy runs. */
  get autoRotate(): boolean {
    return this.base.auto_rotate === true;
  }
  get activeLabel(): string | null {
    return typeof this.base.active_label === 'string' ? this.base.active_label : null;
  }
  get activeIndex(): number {
    return this.base.active_index;
  }
  /** Where the state lives (for /_kmi/health). */
  get store(): StateBackend {
    return this.options.store;
  }
  /** The state as last read or written (without what is pending). Do not change it. */
  get state(): State {
    return this.base;
  }

  /** One upstream request sent with key `i`. */
  recordAttempt(i: number, nowMs: number): void {
    const rt = this.runtimes[i] as KeyRuntime;
    rt.requestCount++;
    if (nowMs > rt.lastUsedMs) rt.lastUsedMs = nowMs;
    const p = this.pendingFor(rt.label);
    p.request_count++;
    if (nowMs > p.lastUsedMs) p.lastUsedMs = nowMs;
    this.schedule();
  }

  countError(i: number, counter: ErrorCounter): void {
    const rt = this.runtimes[i] as KeyRuntime;
    if (counter === 'error_401') rt.error401++;
    else if (counter === 'error_403') rt.error403++;
    else if (counter === 'error_429') rt.error429++;
    else rt.error5xx++;
    this.pendingFor(rt.label)[counter]++;
    this.schedule();
  }

  /** A network error or 5xx on key `i`: returns the consecutive failure count. */
  recordFailure(i: number): number {
    const rt = this.runtimes[i] as KeyRuntime;
    rt.consecutiveFailures++;
    this.pendingFor(rt.label).failures = rt.consecutiveFailures;
    this.schedule();
    return rt.consecutiveFailures;
  }

  /** Key `i` answered; resets its failure streak (writes only when there was one). */
  recordSuccess(i: number): void {
    const rt = this.runtimes[i] as KeyRuntime;
    if (rt.consecutiveFailures === 0) return;
    rt.consecutiveFailures = 0;
    this.pendingFor(rt.label).failures = 0;
    this.schedule();
  }

  /** Block key `i`; `untilMs` null = until a recheck or `kmi unblock`. */
  block(i: number, reason: string, nowMs: number, untilMs: number | null): void {
    const rt = this.runtimes[i] as KeyRuntime;
    rt.blockedReason = reason;
    rt.blockedUntilMs = untilMs ?? Number.POSITIVE_INFINITY;
    this.pendingFor(rt.label).block = { reason, atMs: nowMs, untilMs };
    if (this.shared !== null) {
      const mark = this.recentFor(rt.label);
      mark.block = { reason, atMs: nowMs, untilMs };
      this.shared.setBlock(rt.label, reason, untilMs, nowMs).catch((err: unknown) => {
        this.warnShared('block', err);
      });
    }
    this.schedule();
  }

  /** Put key `i` in cooldown until `untilMs` (never shortens a longer one). */
  exhaust(i: number, untilMs: number): void {
    const rt = this.runtimes[i] as KeyRuntime;
    if (untilMs <= rt.exhaustedUntilMs) return;
    rt.exhaustedUntilMs = untilMs;
    const p = this.pendingFor(rt.label);
    p.exhaustUntilMs = Math.max(p.exhaustUntilMs, untilMs);
    if (this.shared !== null) {
      const mark = this.recentFor(rt.label);
      mark.exhaustUntilMs = Math.max(mark.exhaustUntilMs, untilMs);
      this.shared.setCooldown(rt.label, untilMs).catch((err: unknown) => {
        this.warnShared('cooldown', err);
      });
    }
    this.schedule();
  }

  /**
   * A successful /usages check of key `i` at `atMs`: selection uses it at once (the state write that
   * stores it may come later, or fail), and keeps it until the state carries a newer check.
   */
  recordUsage(i: number, snapshot: UsageSnapshot, atMs: number): void {
    const rt = this.runtimes[i] as KeyRuntime;
    if (atMs < rt.lastUsageAtMs) return;
    this.ownUsage[i] = { snapshot, atMs };
    applyUsage(rt, snapshot, atMs, this.fallbackMs);
  }

  setRotationIndex(index: number): void {
    if (index === this.rotationIndex) return;
    this.rotationIndex = index;
    // Shared state: the shared counter is the position; this one is only for display.
    if (this.shared !== null) return;
    this.rotationDirty = true;
    this.schedule();
  }

  /** True when changes wait to be written. */
  get dirty(): boolean {
    return this.pending.size > 0 || this.rotationDirty;
  }

  /** Write pending changes now (one store.update); failures are logged and the changes kept. */
  async flush(): Promise<void> {
    try {
      await this.write(null);
    } catch {
      // logged by write(); the changes stay pending for the next flush
    }
  }

  /**
   * Read-modify-write the state with `mutate`, together with what is pending, as one of this
   * proxy's writes (so a watch read racing it is ordered correctly). The result becomes the view.
   * For background work (usage refresh, blocklist recheck); rejects when the write fails.
   */
  update(mutate: (state: State) => void): Promise<State> {
    return this.write(mutate);
  }

  /** Stop watching, cancel the timer and write what is pending. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.flush();
  }

  /** One write at a time: later calls wait for the one in progress. */
  private async write(mutate: ((state: State) => void) | null): Promise<State> {
    while (this.inFlight !== null) await this.inFlight.catch(() => undefined);
    if (mutate === null && !this.dirty) return this.base;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    const rotation = this.rotationDirty;
    const rotationIndex = this.rotationIndex;
    const seen = this.base;
    this.pending = new Map();
    this.rotationDirty = false;
    this.flushing = batch;
    this.writing = true;
    this.writeEpoch++;
    const shared = this.shared;
    const run = async (): Promise<State> => {
      try {
        let state: State;
        if (shared !== null) {
          // Counters as deltas (one script per label, pipelined); cooldowns and blocks went out at
          // once. Resolves once written or queued (Redis away): the batch is then the coordination's.
          await Promise.all([...batch].map(([label, p]) => shared.addCounters(label, toDelta(p))));
          for (const [label, p] of batch) {
            const older = this.sent.get(label);
            this.sent.set(label, older === undefined ? p : mergePending(older, p));
          }
          state = mutate !== null ? await this.options.store.update(mutate) : this.base;
          // A state read after the counters were written carries them.
          if (mutate !== null) this.sent.clear();
        } else {
          state = await this.options.store.update((s) => {
            applyToState(s, batch, seen);
            if (rotation) s.rotation_index = rotationIndex;
            if (mutate !== null) mutate(s);
          });
        }
        this.base = state;
        this.flushing = null;
        this.rebuild();
        return state;
      } catch (err) {
        // Keep the changes for the next flush: older batch first, then what arrived meanwhile.
        for (const [label, p] of this.pending) {
          const older = batch.get(label);
          if (older) mergePending(older, p);
        }
        for (const [label, p] of batch) this.pending.set(label, p);
        this.rotationDirty ||= rotation;
        this.flushing = null;
        this.options.logger.warn('proxy.state_flush_failed', {
          reason: err instanceof Error ? err.message : String(err),
        });
        throw err;
      } finally {
        this.writing = false;
        this.writeEpoch++;
        this.lastFlushAt = Date.now();
        this.inFlight = null;
        if (this.dirty) this.schedule();
        if (this.readAgain && !this.reading) void this.readFromStore();
      }
    };
    this.inFlight = run();
    return this.inFlight;
  }

  private recentFor(label: string): RecentMark {
    let mark = this.recent.get(label);
    if (mark === undefined) {
      mark = { exhaustUntilMs: 0, block: null, sentAt: 0 };
      this.recent.set(label, mark);
    }
    mark.sentAt = Date.now();
    return mark;
  }

  /**
   * Drop own cooldowns/blocks that `state` (newer than our view) carries, that someone lifted
   * (kmi unblock), or that are older than RECENT_WRITE_MS (the shared store has them by then).
   */
  private settleRecent(state: State): void {
    const now = Date.now();
    for (const [label, mark] of this.recent) {
      const before = ownEntry(this.base, label);
      const after = ownEntry(state, label);
      if (mark.block !== null && (hasBlock(after) || (hasBlock(before) && !hasBlock(after))))
        mark.block = null;
      if (
        mark.exhaustUntilMs > 0 &&
        ((parseUtc(after?.exhausted_until) ?? 0) >= mark.exhaustUntilMs ||
          (before?.exhausted_until != null && after?.exhausted_until == null))
      )
        mark.exhaustUntilMs = 0;
      if ((mark.block === null && mark.exhaustUntilMs === 0) || now - mark.sentAt > RECENT_WRITE_MS)
        this.recent.delete(label);
    }
  }

  private warnShared(what: string, err: unknown): void {
    this.options.logger.warn('proxy.state_write_failed', {
      what,
      reason: err instanceof Error ? err.message : String(err),
    });
  }

  private pendingFor(label: string): PendingKey {
    let p = this.pending.get(label);
    if (p === undefined) {
      p = emptyPending();
      this.pending.set(label, p);
    }
    return p;
  }

  private schedule(): void {
    if (this.timer !== null || this.inFlight !== null || this.closed) return;
    const wait = Math.max(0, this.lastFlushAt + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, wait);
    this.timer.unref();
  }

  /** The watch saw the state change (someone else's write, or our own): read it, in order. */
  private onExternalChange(): void {
    if (this.closed) return;
    if (this.writing || this.reading) {
      this.readAgain = true;
      return;
    }
    void this.readFromStore();
  }

  private async readFromStore(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.readAgain = false;
        if (this.closed) return;
        const epoch = this.writeEpoch;
        let state: State;
        try {
          state = await this.options.store.read();
        } catch (err) {
          if (!this.readFailing) {
            this.options.logger.warn('proxy.state_read_failed', {
              reason: err instanceof Error ? err.message : String(err),
            });
          }
          this.readFailing = true;
          // The watch reports a change once: try again shortly so it is not missed.
          setTimeout(() => this.onExternalChange(), 1000).unref();
          return;
        }
        this.readFailing = false;
        // A write of ours overlapped this read: its result is the newer view; read again after it.
        if (epoch !== this.writeEpoch || this.writing) {
          this.readAgain = true;
          if (this.writing) return;
          continue;
        }
        this.adopt(state);
      } while (this.readAgain);
    } finally {
      this.reading = false;
    }
  }

  /** Take `state` as read from the store (newer than our view). */
  private adopt(state: State): void {
    // A block or cooldown someone lifted (kmi unblock, doctor --clear-blocklist) wins over one this
    // proxy noted before it saw the lift and has not written yet.
    for (const [label, p] of this.pending) {
      const before = ownEntry(this.base, label);
      const after = ownEntry(state, label);
      if (p.block !== null && hasBlock(before) && !hasBlock(after)) p.block = null;
      if (p.exhaustUntilMs > 0 && before?.exhausted_until != null && after?.exhausted_until == null)
        p.exhaustUntilMs = 0;
    }
    if (this.shared !== null) {
      // The read came after our counter writes (reads overlapping a write are dropped): it has them.
      this.sent.clear();
      this.settleRecent(state);
    }
    this.base = state;
    this.rebuild();
  }

  /** Runtimes = the state as stored + what is being written + what is pending + our newer usage checks. */
  private rebuild(): void {
    for (let i = 0; i < this.runtimes.length; i++) {
      const rt = this.runtimes[i] as KeyRuntime;
      Object.assign(rt, runtimeFromState(rt.label, ownEntry(this.base, rt.label), this.fallbackMs));
      const own = this.ownUsage[i];
      if (own !== undefined) {
        if (own.atMs >= rt.lastUsageAtMs) applyUsage(rt, own.snapshot, own.atMs, this.fallbackMs);
        else this.ownUsage[i] = undefined;
      }
      const s = this.sent.get(rt.label);
      if (s) overlay(rt, s);
      const r = this.recent.get(rt.label);
      if (r) {
        if (r.block !== null) {
          rt.blockedReason = r.block.reason;
          rt.blockedUntilMs = r.block.untilMs ?? Number.POSITIVE_INFINITY;
        }
        rt.exhaustedUntilMs = Math.max(rt.exhaustedUntilMs, r.exhaustUntilMs);
      }
      const f = this.flushing?.get(rt.label);
      if (f) overlay(rt, f);
      const p = this.pending.get(rt.label);
      if (p) overlay(rt, p);
    }
  }
}

function toDelta(p: PendingKey) {
  return {
    request_count: p.request_count,
    error_401: p.error_401,
    error_403: p.error_403,
    error_429: p.error_429,
    error_5xx: p.error_5xx,
    ...(p.lastUsedMs > 0 ? { lastUsedMs: p.lastUsedMs } : {}),
    ...(p.failures !== null ? { consecutiveFailures: p.failures } : {}),
  };
}

function ownEntry(state: State, label: string): KeyState | undefined {
  return Object.hasOwn(state.keys, label) ? state.keys[label] : undefined;
}

function hasBlock(ks: KeyState | undefined): boolean {
  return ks !== undefined && (ks.blocked_reason != null || ks.blocked_until != null);
}
