// Coordination: the shared, atomic operations several proxies need (round robin, rate limits, counters, cooldowns, blocks) — in memory for one proxy, in Redis for many.
import { RateLimiter } from '../proxy/rate-limit.js';
import { KEY_COUNTERS, type KeyCounterDelta } from './key-state.js';
import { lua, type RedisLink } from './redis-client.js';
import { DEFAULT_REDIS_PREFIX, RKEY } from './redis-store.js';
import { formatUtc } from './schema.js';

/** Requests per second and per minute; 0 switches that window off. */
export interface RateLimits {
  readonly rps: number;
  readonly rpm: number;
}

/** The global limit, or one key's (an object, so a key labelled "global" cannot collide). */
export type RateScope = 'global' | { readonly label: string };

/** What one proxy counted for a key since its last flush. */
export interface CounterDelta extends KeyCounterDelta {
  /** Newest use; kept only if newer than what is stored. */
  readonly lastUsedMs?: number;
  /** The key's current failure streak (a value, not a delta). */
  readonly consecutiveFailures?: number;
}

export interface Coordination {
  /** True when other proxies see these operations (Redis); false for the in-memory one. */
  readonly shared: boolean;
  /** False while the shared store is unreachable (the local fallback is in use). */
  available(): boolean;
  /** The next round-robin position in [0, eligibleCount): one shared counter for all proxies. */
  nextRoundRobin(eligibleCount: number): Promise<number>;
  /**
   * Take one request from `scope`'s sliding windows if both allow it: 0 when taken, else the
   * milliseconds until one would be (nothing taken). As RateLimiter.tryTake, but across proxies.
   */
  tryAcquireRate(scope: RateScope, limits: RateLimits, nowMs: number): Promise<number>;
  /** Add counter deltas to a key (HINCRBY). Queued while the store is away, written when it returns. */
  addCounters(label: string, delta: CounterDelta): Promise<void>;
  /** Cool a key down until `untilMs` (never shortens a longer cooldown); expires by itself. */
  setCooldown(label: string, untilMs: number): Promise<void>;
  /** Block a key; `untilMs` null = until a recheck or `kmi unblock`; expires by itself otherwise. */
  setBlock(label: string, reason: string, untilMs: number | null, nowMs: number): Promise<void>;
  /** Writes waiting for the store to come back. */
  pendingWrites(): number;
  /** Write what is queued (best effort, briefly) and stop. Does not close the state backend. */
  close(): Promise<void>;
}

function scopeKey(scope: RateScope): string {
  return scope === 'global' ? 'g' : `k:${scope.label}`;
}

/**
 * One proxy on its own (the file store): round robin and rate limits in memory. Counters, cooldowns
 * and blocks are persisted by the proxy's StateSync through `store.update`, so they are no-ops here.
 */
export class LocalCoordination implements Coordination {
  readonly shared = false;
  private rr: number;
  private readonly limiters = new Map<string, { rps: number; rpm: number; limiter: RateLimiter }>();

  constructor(options: { readonly rotationStart?: number } = {}) {
    const start = options.rotationStart ?? 0;
    this.rr = Number.isInteger(start) && start >= 0 ? start : 0;
  }

  available(): boolean {
    return true;
  }

  /** The counter value the next call starts from. */
  get position(): number {
    return this.rr;
  }

  set position(value: number) {
    if (Number.isInteger(value) && value >= 0) this.rr = value;
  }

  nextRoundRobin(eligibleCount: number): Promise<number> {
    return Promise.resolve(this.nextSync(eligibleCount));
  }

  nextSync(eligibleCount: number): number {
    if (!(eligibleCount >= 1)) return 0;
    const i = this.rr % eligibleCount;
    this.rr++;
    return i;
  }

  tryAcquireRate(scope: RateScope, limits: RateLimits, nowMs: number): Promise<number> {
    return Promise.resolve(this.tryAcquireSync(scope, limits, nowMs));
  }

  tryAcquireSync(scope: RateScope, limits: RateLimits, nowMs: number): number {
    if (limits.rps <= 0 && limits.rpm <= 0) return 0;
    const key = scopeKey(scope);
    let entry = this.limiters.get(key);
    if (entry === undefined || entry.rps !== limits.rps || entry.rpm !== limits.rpm) {
      entry = {
        rps: limits.rps,
        rpm: limits.rpm,
        limiter: new RateLimiter(limits.rps, limits.rpm),
      };
      this.limiters.set(key, entry);
    }
    return entry.limiter.tryTake(nowMs);
  }

  /** Forget every window (used when the shared store takes over again). */
  resetRates(): void {
    this.limiters.clear();
  }

  addCounters(): Promise<void> {
    return Promise.resolve();
  }

  setCooldown(): Promise<void> {
    return Promise.resolve();
  }

  setBlock(): Promise<void> {
    return Promise.resolve();
  }

  pendingWrites(): number {
    return 0;
  }

  async close(): Promise<void> {}
}

/** Sliding windows as ZSETs of request times (Redis clock, so machines' clock skew does not matter). */
const RATE = lua(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[2])
local wait = 0
for i = 0, n - 1 do
  local key = ARGV[3 + i * 3]
  local limit = tonumber(ARGV[4 + i * 3])
  local win = tonumber(ARGV[5 + i * 3])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - win)
  local count = redis.call('ZCARD', key)
  if count >= limit then
    local e = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
    local w = tonumber(e[2]) + win - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 0, n - 1 do
  local key = ARGV[3 + i * 3]
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, ARGV[5 + i * 3])
end
return 0
`);

/** ARGV: prefix, label, lastUsed JSON or '', failures or '', then field/delta pairs. */
const COUNTERS = lua(`
local P = ARGV[1]
local k = P .. 'key:' .. ARGV[2]
for i = 5, #ARGV, 2 do redis.call('HINCRBY', k, ARGV[i], ARGV[i + 1]) end
if ARGV[3] ~= '' then
  local cur = redis.call('HGET', k, 'last_used')
  if (not cur) or cur == 'null' or cur < ARGV[3] then redis.call('HSET', k, 'last_used', ARGV[3]) end
end
if ARGV[4] ~= '' then redis.call('HSET', k, 'consecutive_failures', ARGV[4]) end
redis.call('SADD', P .. 'labels', ARGV[2])
return redis.call('INCR', P .. 'version')
`);

/** ARGV: prefix, label, untilMs. Never shortens; 0 when nothing changed. */
const COOLDOWN = lua(`
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local u = tonumber(ARGV[3])
if u <= now then return 0 end
local k = P .. 'cooldown:' .. ARGV[2]
local cur = tonumber(redis.call('GET', k) or '0') or 0
if cur >= u then return 0 end
redis.call('SET', k, ARGV[3], 'PXAT', ARGV[3])
redis.call('SADD', P .. 'labels', ARGV[2])
redis.call('INCR', P .. 'version')
return 1
`);

/** ARGV: prefix, label, block JSON, untilMs or '' (no end). */
const BLOCK = lua(`
local P = ARGV[1]
local k = P .. 'block:' .. ARGV[2]
if ARGV[4] == '' then
  redis.call('SET', k, ARGV[3])
else
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if tonumber(ARGV[4]) <= now then return 0 end
  redis.call('SET', k, ARGV[3], 'PXAT', ARGV[4])
end
redis.call('SADD', P .. 'labels', ARGV[2])
redis.call('INCR', P .. 'version')
return 1
`);

interface PendingCounters {
  counts: Record<string, number>;
  lastUsedMs: number;
  failures: number | null;
}

export interface RedisCoordinationOptions {
  readonly prefix?: string;
  /** Timeout of the calls on the request path (round robin, rate limits); default 250 ms. */
  readonly hotTimeoutMs?: number;
  /** Where the local fallback's round robin starts (e.g. the state's rotation_index). */
  readonly rotationStart?: number;
}

/**
 * Many proxies on one Redis. Every call works while Redis is away: round robin and rate limits fall
 * back to this proxy's own (LocalCoordination), writes are queued and sent when it returns.
 * Only an error answer from Redis itself (a bug or foreign data) rejects.
 */
export class RedisCoordination implements Coordination {
  readonly shared = true;
  private readonly prefix: string;
  private readonly hotTimeoutMs: number;
  private readonly local: LocalCoordination;
  private seq = 0;
  private usingLocal = false;
  private readonly counters = new Map<string, PendingCounters>();
  private readonly cooldowns = new Map<string, number>();
  private readonly blocks = new Map<
    string,
    { reason: string; untilMs: number | null; atMs: number }
  >();
  private flushing: Promise<void> | null = null;
  private readonly unhook: () => void;
  private closed = false;

  constructor(
    private readonly link: RedisLink,
    options: RedisCoordinationOptions = {},
  ) {
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.hotTimeoutMs = options.hotTimeoutMs ?? 250;
    this.local = new LocalCoordination({ rotationStart: options.rotationStart ?? 0 });
    this.unhook = link.onReconnect(() => this.flushPending());
  }

  available(): boolean {
    return this.link.available;
  }

  pendingWrites(): number {
    return this.counters.size + this.cooldowns.size + this.blocks.size;
  }

  async nextRoundRobin(eligibleCount: number): Promise<number> {
    if (!(eligibleCount >= 1)) return 0;
    if (this.link.available) {
      try {
        const value = Number(
          await this.link.command(['INCR', this.prefix + RKEY.roundRobin], this.hotTimeoutMs),
        );
        this.backToShared();
        // Keep the fallback close to the shared position, so an outage continues the sequence.
        this.local.position = value;
        return (value - 1) % eligibleCount;
      } catch (err) {
        if (this.link.isReply(err)) throw err;
      }
    }
    this.usingLocal = true;
    return this.local.nextSync(eligibleCount);
  }

  async tryAcquireRate(scope: RateScope, limits: RateLimits, nowMs: number): Promise<number> {
    const windows: string[] = [];
    if (limits.rps > 0) windows.push(this.rateKey('s', scope), String(limits.rps), '1000');
    if (limits.rpm > 0) windows.push(this.rateKey('m', scope), String(limits.rpm), '60000');
    if (windows.length === 0) return 0;
    if (this.link.available) {
      try {
        const member = `${this.link.id}:${(this.seq = (this.seq + 1) % Number.MAX_SAFE_INTEGER)}`;
        const wait = Number(
          await this.link.script(
            RATE,
            [],
            [member, windows.length / 3, ...windows],
            this.hotTimeoutMs,
          ),
        );
        this.backToShared();
        return wait > 0 ? wait : 0;
      } catch (err) {
        if (this.link.isReply(err)) throw err;
      }
    }
    this.usingLocal = true;
    return this.local.tryAcquireSync(scope, limits, nowMs);
  }

  addCounters(label: string, delta: CounterDelta): Promise<void> {
    const p = this.counters.get(label) ?? { counts: {}, lastUsedMs: 0, failures: null };
    for (const name of KEY_COUNTERS) {
      const add = delta[name];
      if (add !== undefined && Number.isFinite(add) && add !== 0)
        p.counts[name] = (p.counts[name] ?? 0) + Math.trunc(add);
    }
    if (delta.lastUsedMs !== undefined && delta.lastUsedMs > p.lastUsedMs)
      p.lastUsedMs = delta.lastUsedMs;
    if (delta.consecutiveFailures !== undefined) p.failures = delta.consecutiveFailures;
    this.counters.set(label, p);
    return this.flushPending();
  }

  setCooldown(label: string, untilMs: number): Promise<void> {
    this.cooldowns.set(label, Math.max(untilMs, this.cooldowns.get(label) ?? 0));
    return this.flushPending();
  }

  setBlock(label: string, reason: string, untilMs: number | null, nowMs: number): Promise<void> {
    this.blocks.set(label, { reason, untilMs, atMs: nowMs });
    return this.flushPending();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unhook();
    if (this.pendingWrites() > 0 && this.link.available) {
      const timeout = new Promise<void>((r) => setTimeout(r, 1000).unref());
      await Promise.race([this.flushPending().catch(() => undefined), timeout]);
    }
  }

  /** Send every queued write; what fails for an outage stays queued (merged with newer writes). */
  private flushPending(): Promise<void> {
    if (this.flushing !== null) {
      // Writes queued meanwhile go out with the next round.
      return this.flushing
        .catch(() => undefined)
        .then(() => (this.pendingWrites() > 0 ? this.flushPending() : undefined));
    }
    if (!this.link.available || this.pendingWrites() === 0) return Promise.resolve();
    const run = async (): Promise<void> => {
      const counters = [...this.counters];
      const cooldowns = [...this.cooldowns];
      const blocks = [...this.blocks];
      this.counters.clear();
      this.cooldowns.clear();
      this.blocks.clear();
      const failures: unknown[] = [];
      const attempt = async (write: () => Promise<unknown>, requeue: () => void) => {
        try {
          await write();
        } catch (err) {
          if (this.link.isReply(err)) failures.push(err);
          else requeue();
        }
      };
      // Sent together: node-redis pipelines commands issued in the same tick.
      await Promise.all([
        ...counters.map(([label, p]) =>
          attempt(
            () => this.writeCounters(label, p),
            () => this.requeueCounters(label, p),
          ),
        ),
        ...cooldowns.map(([label, untilMs]) =>
          attempt(
            () => this.link.script(COOLDOWN, [], [this.prefix, label, Math.floor(untilMs)]),
            () => this.cooldowns.set(label, Math.max(untilMs, this.cooldowns.get(label) ?? 0)),
          ),
        ),
        ...blocks.map(([label, b]) =>
          attempt(
            () => this.writeBlock(label, b),
            () => {
              if (!this.blocks.has(label)) this.blocks.set(label, b);
            },
          ),
        ),
      ]);
      if (failures.length > 0) throw failures[0];
    };
    const running = run().finally(() => {
      this.flushing = null;
    });
    this.flushing = running;
    return running;
  }

  private writeCounters(label: string, p: PendingCounters): Promise<unknown> {
    const args: (string | number)[] = [
      this.prefix,
      label,
      p.lastUsedMs > 0 ? JSON.stringify(formatUtc(p.lastUsedMs)) : '',
      p.failures === null ? '' : String(p.failures),
    ];
    for (const [name, add] of Object.entries(p.counts)) if (add !== 0) args.push(name, add);
    return this.link.script(COUNTERS, [], args);
  }

  private writeBlock(
    label: string,
    b: { reason: string; untilMs: number | null; atMs: number },
  ): Promise<unknown> {
    const value = JSON.stringify({
      reason: b.reason,
      until: b.untilMs === null ? null : formatUtc(b.untilMs),
      at: formatUtc(b.atMs),
    });
    return this.link.script(
      BLOCK,
      [],
      [this.prefix, label, value, b.untilMs === null ? '' : Math.floor(b.untilMs)],
    );
  }

  private requeueCounters(label: string, older: PendingCounters): void {
    const newer = this.counters.get(label);
    if (newer !== undefined) {
      for (const [name, add] of Object.entries(newer.counts))
        older.counts[name] = (older.counts[name] ?? 0) + add;
      older.lastUsedMs = Math.max(older.lastUsedMs, newer.lastUsedMs);
      if (newer.failures !== null) older.failures = newer.failures;
    }
    this.counters.set(label, older);
  }

  private rateKey(window: 's' | 'm', scope: RateScope): string {
    return this.prefix + RKEY.rate(window, scope === 'global' ? null : scope.label);
  }

  /** The shared windows are the truth again: drop what the fallback counted meanwhile. */
  private backToShared(): void {
    if (!this.usingLocal) return;
    this.usingLocal = false;
    this.local.resetRates();
  }
}
