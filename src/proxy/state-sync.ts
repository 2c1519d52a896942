// StateSync: the proxy's in-memory view of state.json — changes batched as deltas, flushed at most once a second, CLI edits picked up via watch.
import type { Logger } from '../log/types.js';
import type { StateBackend } from '../state/backend.js';
import { addKeyCounters, blockKey, keyState, markExhausted, markUsed } from '../state/key-state.js';
import { parseUtc, type State } from '../state/schema.js';
import { runtimeFromState, type KeyRuntime } from './key-runtime.js';

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

function overlay(rt: KeyRuntime, p: PendingKey, counters = true): void {
  if (counters) {
    rt.requestCount += p.request_count;
    rt.error401 += p.error_401;
    rt.error403 += p.error_403;
    rt.error429 += p.error_429;
    rt.error5xx += p.error_5xx;
    rt.lastUsedMs = Math.max(rt.lastUsedMs, p.lastUsedMs);
  }
  if (p.block !== null) {
    rt.blockedReason = p.block.reason;
    rt.blockedUntilMs = p.block.untilMs ?? Number.POSITIVE_INFINITY;
  }
  rt.exhaustedUntilMs = Math.max(rt.exhaustedUntilMs, p.exhaustUntilMs);
  if (counters && p.failures !== null) rt.consecutiveFailures = p.failures;
}

/**
 * How long blocks and cooldowns just written stay applied on top of what watch reports: a watch poll
 * that read the file just before our write must not briefly lift them.
 */
const RECENT_WRITE_MS = 1500;

function applyToState(state: State, batch: ReadonlyMap<string, PendingKey>): void {
  for (const [label, p] of batch) {
    const ks = keyState(state, label);
    addKeyCounters(ks, p);
    if (p.lastUsedMs > 0 && p.lastUsedMs > (parseUtc(ks.last_used) ?? 0))
      markUsed(ks, p.lastUsedMs);
    if (p.block !== null) blockKey(ks, p.block.reason, p.block.atMs, p.block.untilMs);
    if (p.exhaustUntilMs > 0) markExhausted(ks, p.exhaustUntilMs);
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
}

export class StateSync {
  /** Index-aligned with the labels; objects are updated in place. */
  readonly runtimes: KeyRuntime[];
  /** The round-robin pointer: this proxy's own, flushed to state.rotation_index. */
  rotationIndex: number;
  private base: State;
  private pending = new Map<string, PendingKey>();
  private flushing: ReadonlyMap<string, PendingKey> | null = null;
  private recent: {
    readonly batch: ReadonlyMap<string, PendingKey>;
    readonly untilMs: number;
  } | null = null;
  private rotationDirty = false;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private lastFlushAt = 0;
  private closed = false;
  private readonly unwatch: () => void;
  private readonly intervalMs: number;

  private constructor(
    private readonly options: StateSyncOptions,
    initial: State,
  ) {
    this.base = initial;
    this.intervalMs = options.flushIntervalMs ?? 1000;
    this.rotationIndex =
      Number.isInteger(initial.rotation_index) && initial.rotation_index >= 0
        ? initial.rotation_index
        : 0;
    this.runtimes = options.labels.map((label) =>
      runtimeFromState(label, ownEntry(initial, label)),
    );
    this.unwatch = options.store.watch((state) => this.onExternalChange(state));
  }

  static async open(options: StateSyncOptions): Promise<StateSync> {
    return new StateSync(options, await options.store.read());
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
    this.schedule();
  }

  /** Put key `i` in cooldown until `untilMs` (never shortens a longer one). */
  exhaust(i: number, untilMs: number): void {
    const rt = this.runtimes[i] as KeyRuntime;
    if (untilMs <= rt.exhaustedUntilMs) return;
    rt.exhaustedUntilMs = untilMs;
    const p = this.pendingFor(rt.label);
    p.exhaustUntilMs = Math.max(p.exhaustUntilMs, untilMs);
    this.schedule();
  }

  setRotationIndex(index: number): void {
    if (index === this.rotationIndex) return;
    this.rotationIndex = index;
    this.rotationDirty = true;
    this.schedule();
  }

  /** True when changes wait to be written. */
  get dirty(): boolean {
    return this.pending.size > 0 || this.rotationDirty;
  }

  /** Write pending changes now (one store.update); concurrent calls share the write in progress. */
  async flush(): Promise<void> {
    while (this.inFlight !== null) await this.inFlight;
    if (!this.dirty) return;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    const rotation = this.rotationDirty;
    const rotationIndex = this.rotationIndex;
    this.pending = new Map();
    this.rotationDirty = false;
    this.flushing = batch;
    const run = async (): Promise<void> => {
      try {
        this.base = await this.options.store.update((state) => {
          applyToState(state, batch);
          if (rotation) state.rotation_index = rotationIndex;
        });
        this.flushing = null;
        this.recent = { batch, untilMs: Date.now() + RECENT_WRITE_MS };
        this.rebuild();
        // Re-derive once the overlay expires, so a CLI change seen meanwhile takes effect.
        setTimeout(() => this.rebuild(), RECENT_WRITE_MS + 10).unref();
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
      } finally {
        this.lastFlushAt = Date.now();
        this.inFlight = null;
      }
    };
    this.inFlight = run();
    await this.inFlight;
    if (this.dirty) this.schedule();
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

  private onExternalChange(state: State): void {
    this.base = state;
    this.rebuild();
  }

  /** Runtimes = the state as stored + what is being written + what is pending. */
  private rebuild(): void {
    if (this.recent !== null && Date.now() >= this.recent.untilMs) this.recent = null;
    for (const rt of this.runtimes) {
      Object.assign(rt, runtimeFromState(rt.label, ownEntry(this.base, rt.label)));
      const r = this.recent?.batch.get(rt.label);
      if (r) overlay(rt, r, false);
      const f = this.flushing?.get(rt.label);
      if (f) overlay(rt, f);
      const p = this.pending.get(rt.label);
      if (p) overlay(rt, p);
    }
  }
}

function ownEntry(state: State, label: string) {
  return Object.hasOwn(state.keys, label) ? state.keys[label] : undefined;
}
