// RedisStateBackend: state.json's content kept in Redis hashes — atomic read-modify-write by version check in Lua, watched by polling the version, last known state cached on disk.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { systemClock, type Clock } from '../clock.js';
import { KmiError } from '../errors.js';
import { ensureSecureDir, writeFileAtomicSecure } from '../files/secure.js';
import type { StateBackend, StateEvent } from './backend.js';
import { InFlight } from './in-flight.js';
import { normalizeState } from './normalize.js';
import {
  emptyKeyState,
  emptyState,
  formatUtc,
  parseUtc,
  type KeyState,
  type State,
} from './schema.js';
import { lua, RedisLink, type RedisLinkEvent } from './redis-client.js';
import { parseStateText, serializeState } from './store.js';

/** Every key kmi writes starts with this. */
export const DEFAULT_REDIS_PREFIX = 'kmi:';

/**
 * Key names below the prefix (see docs/redis.md). Per-key fields live in one hash per label, except
 * the cooldown and the block: those are separate keys that expire by themselves.
 */
export const RKEY = {
  /** INCR on every change of the state (not on round-robin or rate-limit traffic). */
  version: 'version',
  /** Top-level state fields (JSON values), except `keys` and `rotation_index`. */
  top: 'state',
  /** The shared round-robin counter; read back as `rotation_index`. */
  roundRobin: 'rr',
  /** SET of the labels that have state. */
  labels: 'labels',
  /** HASH of one key's fields (JSON values; counters as plain integers for HINCRBY). */
  key: (label: string) => `key:${label}`,
  /** The cooldown end in ms, expiring at that moment (PXAT). */
  cooldown: (label: string) => `cooldown:${label}`,
  /** The block as JSON {reason, until, at}, expiring at `until` when it has one. */
  block: (label: string) => `block:${label}`,
  /** Sliding-window ZSETs of the rate limits: `rl:<s|m>:g` and `rl:<s|m>:k:<label>`. */
  rate: (window: 's' | 'm', label: string | null) =>
    label === null ? `rl:${window}:g` : `rl:${window}:k:${label}`,
} as const;

/** Fields not kept in the key hash: they live in the expiring cooldown and block keys. */
const EXPIRING_FIELDS = new Set([
  'exhausted_until',
  'blocked_until',
  'blocked_reason',
  'blocked_at',
]);
/** Top-level fields not kept in the state hash. */
const TOP_EXCLUDED = new Set(['keys', 'rotation_index']);

const TOP_ORDER = [
  'schema_version',
  'active_index',
  'active_label',
  'rotation_index',
  'auto_rotate',
  'last_health_refresh',
];

const KEY_DEFAULTS: Json = emptyKeyState();
const KEY_ORDER = Object.keys(KEY_DEFAULTS);

const MAX_UPDATE_TRIES = 200;
const CACHE_WRITE_INTERVAL_MS = 2000;

/** One consistent read of everything: [version, topHash, rr, [[label, hash, cooldownMs, blockJson], …]]. */
const SNAPSHOT = lua(`
local P = ARGV[1]
local labels = redis.call('SMEMBERS', P .. 'labels')
local keys = {}
for i, l in ipairs(labels) do
  keys[i] = { l, redis.call('HGETALL', P .. 'key:' .. l), redis.call('GET', P .. 'cooldown:' .. l),
    redis.call('GET', P .. 'block:' .. l) }
end
return { redis.call('GET', P .. 'version'), redis.call('HGETALL', P .. 'state'),
  redis.call('GET', P .. 'rr'), keys }
`);

/**
 * Apply a list of writes only if the version is still ARGV[2] ('' = none yet); returns the new
 * version, or -1 on a conflict (someone wrote in between: read again and retry).
 * Ops: <cmd> <key below prefix> <argc> <args…>; SETAT <key> 2 <value> <untilMs> sets a value
 * expiring at untilMs (deleted instead when that moment has passed).
 */
const APPLY = lua(`
local P = ARGV[1]
local cur = redis.call('GET', P .. 'version')
if (cur or '') ~= ARGV[2] then return -1 end
local allowed = { DEL = true, HSET = true, HDEL = true, SET = true, SADD = true, SREM = true, SETAT = true }
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local i = 3
local n = #ARGV
while i <= n do
  local cmd = ARGV[i]
  local key = P .. ARGV[i + 1]
  local argc = tonumber(ARGV[i + 2])
  if not allowed[cmd] then return redis.error_reply('kmi: unknown op ' .. cmd) end
  local args = {}
  for j = 1, argc do args[j] = ARGV[i + 2 + j] end
  if cmd == 'SETAT' then
    if tonumber(args[2]) <= now then redis.call('DEL', key)
    else redis.call('SET', key, args[1], 'PXAT', args[2]) end
  else
    redis.call(cmd, key, unpack(args))
  end
  i = i + 3 + argc
end
return redis.call('INCR', P .. 'version')
`);

type Json = Record<string, unknown>;

function put(target: Json, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function decode(value: unknown): unknown {
  const text = String(value);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function pairs(flat: unknown): [string, unknown][] {
  const list = Array.isArray(flat) ? flat : [];
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < list.length; i += 2) out.push([String(list[i]), decode(list[i + 1])]);
  return out;
}

/** A snapshot reply turned into a normalized State plus its version ('' when Redis has none). */
export function parseSnapshot(reply: unknown): { state: State; version: string } {
  const [version, top, rr, keys] = Array.isArray(reply) ? reply : [];
  const fields = new Map(pairs(top));
  const raw: Json = {};
  // The known fields first, in state.json's order; then whatever else was stored.
  const defaults: Json = emptyState();
  for (const field of TOP_ORDER) {
    if (field === 'rotation_index') put(raw, field, rr == null ? 0 : Number(rr));
    else if (fields.has(field)) put(raw, field, fields.get(field));
    else if (Object.hasOwn(defaults, field)) put(raw, field, defaults[field]);
  }
  for (const [field, value] of fields) if (!Object.hasOwn(raw, field)) put(raw, field, value);
  const keyStates: Json = {};
  const entries = (Array.isArray(keys) ? keys : []) as unknown[][];
  entries.sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : String(a[0]) > String(b[0]) ? 1 : 0));
  for (const [label, fields, cooldown, block] of entries) {
    const stored = new Map(pairs(fields));
    for (const field of EXPIRING_FIELDS) stored.delete(field);
    const cooldownMs = cooldown == null ? NaN : Number(cooldown);
    stored.set('exhausted_until', Number.isFinite(cooldownMs) ? formatUtc(cooldownMs) : null);
    const b = block == null ? null : decode(block);
    const blk = b !== null && typeof b === 'object' ? (b as Json) : {};
    stored.set('blocked_until', typeof blk.until === 'string' ? blk.until : null);
    stored.set('blocked_reason', typeof blk.reason === 'string' ? blk.reason : null);
    if (typeof blk.at === 'string') stored.set('blocked_at', blk.at);
    // state.json's field order (the Python tool's), then the rest as stored.
    const ks: Json = {};
    for (const field of KEY_ORDER)
      put(ks, field, stored.has(field) ? stored.get(field) : KEY_DEFAULTS[field]);
    for (const [field, value] of stored) if (!Object.hasOwn(ks, field)) put(ks, field, value);
    put(keyStates, String(label), ks);
  }
  put(raw, 'keys', keyStates);
  return { state: normalizeState(raw), version: version == null ? '' : String(version) };
}

type Op = readonly string[];

function op(cmd: string, key: string, ...args: string[]): Op {
  return [cmd, key, String(args.length), ...args];
}

/** Writes that make a key's Redis entries equal `ks` (whole rewrite of the hash). */
function keyOps(label: string, ks: KeyState, nowMs: number): Op[] {
  const ops: Op[] = [op('DEL', RKEY.key(label))];
  const fields: string[] = [];
  for (const field of Object.keys(ks)) {
    if (EXPIRING_FIELDS.has(field) || ks[field] === undefined) continue;
    fields.push(field, JSON.stringify(ks[field]));
  }
  if (fields.length > 0) ops.push(op('HSET', RKEY.key(label), ...fields));

  const cooldownMs = parseUtc(ks.exhausted_until);
  ops.push(
    cooldownMs !== null && cooldownMs > nowMs
      ? op('SETAT', RKEY.cooldown(label), String(cooldownMs), String(cooldownMs))
      : op('DEL', RKEY.cooldown(label)),
  );

  const hasBlock = ks.blocked_reason != null || ks.blocked_until != null;
  const untilMs =
    typeof ks.blocked_until === 'string' && ks.blocked_until !== ''
      ? parseUtc(ks.blocked_until)
      : null;
  const value = JSON.stringify({
    reason: ks.blocked_reason ?? null,
    until: ks.blocked_until ?? null,
    at: typeof ks.blocked_at === 'string' ? ks.blocked_at : null,
  });
  if (!hasBlock || (untilMs !== null && untilMs <= nowMs)) ops.push(op('DEL', RKEY.block(label)));
  else if (untilMs !== null) ops.push(op('SETAT', RKEY.block(label), value, String(untilMs)));
  // No end, or an unreadable one: blocked until cleared, as the file store treats it.
  else ops.push(op('SET', RKEY.block(label), value));
  ops.push(op('SADD', RKEY.labels, label));
  return ops;
}

function deleteKeyOps(label: string): Op[] {
  return [
    op('DEL', RKEY.key(label)),
    op('DEL', RKEY.cooldown(label)),
    op('DEL', RKEY.block(label)),
    op('SREM', RKEY.labels, label),
  ];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** The Redis writes that turn `before` (as read) into `after` (as mutated). */
export function diffOps(before: State, after: State, nowMs: number): Op[] {
  const ops: Op[] = [];
  const topFields = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const field of topFields) {
    if (TOP_EXCLUDED.has(field)) continue;
    const inAfter = Object.hasOwn(after, field) && after[field] !== undefined;
    const inBefore = Object.hasOwn(before, field) && before[field] !== undefined;
    if (!inAfter) {
      if (inBefore) ops.push(op('HDEL', RKEY.top, field));
    } else if (!inBefore || !same(before[field], after[field])) {
      ops.push(op('HSET', RKEY.top, field, JSON.stringify(after[field])));
    }
  }
  if (before.rotation_index !== after.rotation_index) {
    const rr = Number.isInteger(after.rotation_index) ? Math.max(0, after.rotation_index) : 0;
    ops.push(op('SET', RKEY.roundRobin, String(rr)));
  }
  const beforeKeys = before.keys;
  const afterKeys = after.keys;
  for (const label of Object.keys(afterKeys)) {
    const ks = afterKeys[label] as KeyState;
    if (Object.hasOwn(beforeKeys, label) && same(beforeKeys[label], ks)) continue;
    ops.push(...keyOps(label, ks, nowMs));
  }
  for (const label of Object.keys(beforeKeys)) {
    if (!Object.hasOwn(afterKeys, label)) ops.push(...deleteKeyOps(label));
  }
  return ops;
}

/** True when a state holds nothing worth keeping (what `migrate` may overwrite without --force). */
export function isEmptyState(state: State): boolean {
  const fresh = emptyState();
  return (
    Object.keys(state.keys).length === 0 &&
    state.active_index === fresh.active_index &&
    state.rotation_index === fresh.rotation_index &&
    state.auto_rotate === fresh.auto_rotate &&
    state.last_health_refresh === fresh.last_health_refresh &&
    (state.active_label ?? null) === null
  );
}

/** Events of the Redis backend: the connection's (down/up) and the file store's kinds it reuses. */
export type RedisStateEvent =
  RedisLinkEvent | { readonly kind: 'backend-reseeded'; readonly location: string } | StateEvent;

export interface RedisStateBackendOptions {
  readonly link: RedisLink;
  readonly prefix?: string;
  /** Local file with the last known state (read for KMI_STATE_FAIL_OPEN; null = none). */
  readonly cachePath?: string | null;
  readonly enforcePerms?: boolean;
  /** Last known state to serve while Redis is away (e.g. from the cache at a fail-open start). */
  readonly initial?: State | null;
  readonly watchIntervalMs?: number;
  readonly clock?: Clock;
  readonly onEvent?: (event: RedisStateEvent) => void;
}

export class RedisStateBackend implements StateBackend {
  readonly kind = 'redis' as const;
  readonly location: string;
  readonly link: RedisLink;
  readonly prefix: string;
  private readonly cachePath: string | null;
  private readonly enforcePerms: boolean;
  private readonly watchIntervalMs: number;
  private readonly clock: Clock;
  private readonly onEvent: ((event: RedisStateEvent) => void) | undefined;
  private last: { state: State; version: string } | null;
  private readonly watchers = new Set<(state: State) => void>();
  private watchTimer: NodeJS.Timeout | null = null;
  private seenVersion: string | null = null;
  private polling = false;
  private resyncing: Promise<void> | null = null;
  private cacheWrittenAt = 0;
  private cacheTimer: NodeJS.Timeout | null = null;
  private cacheVersion: string | null = null;
  private readonly inFlight = new InFlight();
  private readonly unhook: () => void;
  private closed = false;

  constructor(options: RedisStateBackendOptions) {
    this.link = options.link;
    this.location = options.link.location;
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    this.cachePath = options.cachePath ?? null;
    this.enforcePerms = options.enforcePerms ?? true;
    this.watchIntervalMs = options.watchIntervalMs ?? 250;
    this.clock = options.clock ?? systemClock;
    this.onEvent = options.onEvent;
    this.last = options.initial ? { state: structuredClone(options.initial), version: '?' } : null;
    this.unhook = this.link.onReconnect(() => this.resync());
  }

  /** True while Redis answers. */
  get available(): boolean {
    return this.link.available;
  }

  /** The last state read from or written to Redis (or the cache at a fail-open start). */
  lastKnown(): State | null {
    return this.last === null ? null : structuredClone(this.last.state);
  }

  /** The current state; while Redis is away, the last known one (or KMI_E_STATE_IO when there is none). */
  read(): Promise<State> {
    return this.inFlight.track(
      (async () => {
        if (!this.link.available) return this.fallback();
        try {
          return (await this.snapshot()).state;
        } catch (err) {
          if (this.isOutage(err)) return this.fallback(err);
          throw err;
        }
      })(),
    );
  }

  /**
   * Read-modify-write: `mutate` gets the state as it is in Redis now; the changes are written only if
   * nobody wrote in between (else read again and retry), so concurrent writers never lose an update.
   */
  update(mutate: (state: State) => void): Promise<State> {
    return this.inFlight.track(
      (async () => {
        for (let attempt = 0; attempt < MAX_UPDATE_TRIES; attempt++) {
          let snap: { state: State; version: string };
          try {
            snap = await this.snapshot();
          } catch (err) {
            throw this.ioError(err);
          }
          const next = structuredClone(snap.state);
          mutate(next);
          const ops = diffOps(snap.state, next, this.clock.now());
          if (ops.length === 0) return next;
          let result: unknown;
          try {
            result = await this.link.script(APPLY, [], [this.prefix, snap.version, ...ops.flat()]);
          } catch (err) {
            throw this.ioError(err);
          }
          if (Number(result) >= 0) {
            this.remember(normalizeState(next), String(result));
            return next;
          }
          // Lost the race: back off a little (more with each try) so writers do not stay in lockstep.
          await sleep(Math.random() * Math.min(2 + attempt, 20));
        }
        throw new KmiError('KMI_E_STATE_LOCK', 'state.redisBusy', {
          url: this.location,
          tries: MAX_UPDATE_TRIES,
        });
      })(),
    );
  }

  /** Poll the version every ~250 ms; on a change, read and report. Also reports the resync after an outage. */
  watch(onChange: (state: State) => void): () => void {
    this.watchers.add(onChange);
    if (this.watchTimer === null) {
      this.seenVersion = this.last?.version ?? null;
      this.watchTimer = setInterval(
        () => void this.inFlight.track(this.poll()),
        this.watchIntervalMs,
      );
      this.watchTimer.unref();
    }
    return () => {
      this.watchers.delete(onChange);
      if (this.watchers.size === 0 && this.watchTimer !== null) {
        clearInterval(this.watchTimer);
        this.watchTimer = null;
      }
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watchers.clear();
    if (this.watchTimer !== null) clearInterval(this.watchTimer);
    this.watchTimer = null;
    this.unhook();
    await this.inFlight.settled();
    if (this.cacheTimer !== null) {
      clearTimeout(this.cacheTimer);
      this.cacheTimer = null;
      await this.flushCache();
    }
    await this.link.close();
  }

  /** Everything in one consistent read (a Lua script runs atomically). */
  private async snapshot(): Promise<{ state: State; version: string }> {
    const reply = await this.link.script(SNAPSHOT, [], [this.prefix]);
    const snap = parseSnapshot(reply);
    this.remember(snap.state, snap.version);
    return snap;
  }

  private remember(state: State, version: string): void {
    this.last = { state: structuredClone(state), version };
    this.writeCache();
  }

  private fallback(err?: unknown): State {
    if (this.last !== null) return structuredClone(this.last.state);
    throw this.ioError(err ?? new Error(this.link.outage?.reason ?? 'unavailable'));
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed || this.watchers.size === 0 || !this.link.available) return;
    this.polling = true;
    try {
      if (this.resyncing !== null) return;
      const raw = await this.link.command(['GET', this.prefix + RKEY.version]);
      const version = raw == null ? '' : String(raw);
      if (version === this.seenVersion) return;
      if (version === '' && this.last !== null && !isEmptyState(this.last.state)) {
        // Redis lost its data (restart without persistence, flush): put back what we knew.
        await this.resync();
        return;
      }
      const snap = await this.snapshot();
      this.seenVersion = snap.version;
      this.notify(snap.state);
    } catch {
      // An outage is reported by the link; the next poll after it returns catches up.
    } finally {
      this.polling = false;
    }
  }

  /**
   * After an outage: if Redis came back empty, write the last known state back (only if still empty,
   * so one proxy does it); then read and report the state to the watchers.
   */
  private resync(): Promise<void> {
    this.resyncing ??= (async () => {
      try {
        const raw = await this.link.command(['GET', this.prefix + RKEY.version]);
        if (raw == null && this.last !== null && !isEmptyState(this.last.state)) {
          const ops = diffOps(emptyState(), this.last.state, this.clock.now());
          const result = await this.link.script(APPLY, [], [this.prefix, '', ...ops.flat()]);
          if (Number(result) >= 0) this.emit({ kind: 'backend-reseeded', location: this.location });
        }
        const snap = await this.snapshot();
        this.seenVersion = snap.version;
        this.notify(snap.state);
      } finally {
        this.resyncing = null;
      }
    })();
    return this.resyncing;
  }

  private notify(state: State): void {
    for (const onChange of [...this.watchers]) {
      try {
        onChange(structuredClone(state));
      } catch {
        // A watcher's failure is its own business.
      }
    }
  }

  /** Keep the last known state on disk (at most every 2 s), for a KMI_STATE_FAIL_OPEN start while Redis is away. */
  private writeCache(): void {
    if (this.cachePath === null || this.closed || this.cacheTimer !== null) return;
    const wait = Math.max(0, this.cacheWrittenAt + CACHE_WRITE_INTERVAL_MS - this.clock.now());
    if (wait === 0) {
      void this.inFlight.track(this.flushCache());
      return;
    }
    this.cacheTimer = setTimeout(() => {
      this.cacheTimer = null;
      void this.inFlight.track(this.flushCache());
    }, wait);
    this.cacheTimer.unref();
  }

  private async flushCache(): Promise<void> {
    const path = this.cachePath;
    const last = this.last;
    if (path === null || last === null || last.version === this.cacheVersion) return;
    this.cacheWrittenAt = this.clock.now();
    this.cacheVersion = last.version;
    try {
      await ensureSecureDir(dirname(path), this.enforcePerms);
      await writeFileAtomicSecure(path, serializeState(last.state), this.enforcePerms);
    } catch {
      // The cache is a convenience; Redis is the truth.
    }
  }

  private isOutage(err: unknown): boolean {
    return !this.link.available || !this.link.isReply(err);
  }

  private ioError(err: unknown): KmiError {
    if (err instanceof KmiError) return err;
    return new KmiError(
      'KMI_E_STATE_IO',
      this.link.isReply(err) ? 'state.redisError' : 'state.redisUnreachable',
      { url: this.location, reason: this.link.describe(err) },
      { cause: err },
    );
  }

  private emit(event: RedisStateEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // Reporting must not break state handling.
    }
  }
}

/** The state kept in a cache file, or null when there is none or it cannot be read. */
export async function readStateCache(path: string): Promise<State | null> {
  try {
    const parsed = parseStateText(await readFile(path, 'utf8'));
    return parsed.kind === 'ok' ? parsed.state : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
