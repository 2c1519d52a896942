// openStateBackend: the file store by default, Redis when KMI_STATE_URL is set — plus the lazy wrapper the CLI uses, the coordination that goes with a backend, and a reachability probe for doctor.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { KmiError } from '../errors.js';
import type { StateBackend, StateEvent } from './backend.js';
import { LocalCoordination, RedisCoordination, type Coordination } from './coordination.js';
import { redactUrl, RedisLink } from './redis-client.js';
import {
  DEFAULT_REDIS_PREFIX,
  readStateCache,
  RedisStateBackend,
  RKEY,
  type RedisStateEvent,
} from './redis-store.js';
import { emptyState } from './schema.js';
import { FileStateStore, STATE_FILE_NAME } from './store.js';

export type StateConfig = Pick<
  Config,
  'stateUrl' | 'stateDir' | 'enforceFilePerms' | 'stateFailOpen'
>;

/** Everything a state backend reports: file events, Redis outages and the fail-open start. */
export type OpenStateEvent =
  | StateEvent
  | RedisStateEvent
  | {
      readonly kind: 'fail-open';
      readonly location: string;
      readonly reason: string;
      /** The cache the last known state came from; null when there was none (empty state). */
      readonly cachePath: string | null;
    };

export interface OpenStateOptions {
  readonly onEvent?: (event: OpenStateEvent) => void;
  /** Defaults to KMI_STATE_FAIL_OPEN. */
  readonly failOpen?: boolean;
  readonly connectTimeoutMs?: number;
  readonly watchIntervalMs?: number;
  /** Redis key prefix (default `kmi:`); tests use their own. */
  readonly prefix?: string;
}

export function isRedisUrl(value: string): boolean {
  return /^rediss?:\/\//i.test(value.trim());
}

/** Where state lives, safe to print: the state.json path or the Redis URL without its password. */
export function stateLocation(config: Pick<Config, 'stateUrl' | 'stateDir'>): string {
  return config.stateUrl !== ''
    ? redactUrl(config.stateUrl)
    : join(config.stateDir, STATE_FILE_NAME);
}

/** The local copy of a Redis state (one file per URL, named by a hash of the redacted URL). */
export function redisCachePath(
  stateDir: string,
  url: string,
  prefix = DEFAULT_REDIS_PREFIX,
): string {
  const id = createHash('sha256')
    .update(`${redactUrl(url)}\n${prefix}`)
    .digest('hex')
    .slice(0, 12);
  return join(stateDir, `state-cache-${id}.json`);
}

/**
 * Open the configured backend. With Redis unreachable at the start: KMI_E_STATE_IO naming
 * KMI_STATE_URL (redacted) and the fix — unless fail-open, then the last known state from the local
 * cache is served (a 'fail-open' event is sent) while the link keeps reconnecting.
 */
export async function openStateBackend(
  config: StateConfig,
  options: OpenStateOptions = {},
): Promise<StateBackend> {
  const onEvent = options.onEvent;
  if (config.stateUrl === '') {
    return new FileStateStore({
      dir: config.stateDir,
      enforcePerms: config.enforceFilePerms,
      onEvent,
      watchIntervalMs: options.watchIntervalMs,
    });
  }
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  const { link, error } = await RedisLink.open({
    url: config.stateUrl,
    connectTimeoutMs: options.connectTimeoutMs,
    onEvent,
  });
  const cachePath = redisCachePath(config.stateDir, config.stateUrl, prefix);
  let initial = null;
  if (error !== null) {
    if (!(options.failOpen ?? config.stateFailOpen)) {
      await link.close();
      throw new KmiError('KMI_E_STATE_IO', 'state.redisStartFailed', {
        url: link.location,
        reason: error,
      });
    }
    initial = await readStateCache(cachePath);
    emit(onEvent, {
      kind: 'fail-open',
      location: link.location,
      reason: error,
      cachePath: initial === null ? null : cachePath,
    });
    initial ??= emptyState();
  }
  return new RedisStateBackend({
    link,
    prefix,
    cachePath,
    enforcePerms: config.enforceFilePerms,
    initial,
    watchIntervalMs: options.watchIntervalMs,
    onEvent,
  });
}

/**
 * A backend opened on first use — `ctx.store()` hands this out, so commands that never touch state
 * never connect to Redis. Events can be subscribed to after the fact (the proxy logs outages).
 */
export class DeferredStateBackend implements StateBackend {
  private opening: Promise<StateBackend> | null = null;
  private current: StateBackend | null = null;
  private readonly listeners = new Set<(event: OpenStateEvent) => void>();

  constructor(
    readonly location: string,
    private readonly open: (onEvent: (event: OpenStateEvent) => void) => Promise<StateBackend>,
  ) {}

  /** The real backend, opened now if needed (rejects as opening does, e.g. Redis unreachable). */
  backend(): Promise<StateBackend> {
    this.opening ??= this.open((event) => {
      for (const listener of [...this.listeners]) {
        try {
          listener(event);
        } catch {
          // a listener's failure is its own
        }
      }
    }).then((backend) => (this.current = backend));
    return this.opening;
  }

  /** The backend if it is open already. */
  get opened(): StateBackend | null {
    return this.current;
  }

  subscribe(listener: (event: OpenStateEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async read() {
    return (await this.backend()).read();
  }

  async update(mutate: Parameters<StateBackend['update']>[0]) {
    return (await this.backend()).update(mutate);
  }

  watch(onChange: Parameters<StateBackend['watch']>[0]): () => void {
    let active = true;
    let unsubscribe: (() => void) | null = null;
    this.backend().then(
      (backend) => {
        if (active) unsubscribe = backend.watch(onChange);
      },
      () => undefined,
    );
    return () => {
      active = false;
      unsubscribe?.();
    };
  }

  async close(): Promise<void> {
    if (this.opening === null) return;
    try {
      await (await this.opening).close();
    } catch {
      // never opened: nothing to close
    }
  }
}

/** The backend behind a possibly deferred one (opening it if needed). */
export async function resolveStateBackend(store: StateBackend): Promise<StateBackend> {
  return store instanceof DeferredStateBackend ? store.backend() : store;
}

/** Listen to a backend's events (only backends opened through the CLI context support this). */
export function subscribeStateEvents(
  store: StateBackend,
  listener: (event: OpenStateEvent) => void,
): () => void {
  return store instanceof DeferredStateBackend ? store.subscribe(listener) : () => undefined;
}

/**
 * The coordination matching a backend: Redis → shared (using the backend's connection; close it
 * before the backend), anything else → in memory.
 */
export async function openCoordination(
  store: StateBackend,
  options: { readonly rotationStart?: number; readonly hotTimeoutMs?: number } = {},
): Promise<Coordination> {
  const backend = await resolveStateBackend(store);
  if (backend instanceof RedisStateBackend) {
    return new RedisCoordination(backend.link, {
      prefix: backend.prefix,
      rotationStart: options.rotationStart,
      hotTimeoutMs: options.hotTimeoutMs,
    });
  }
  return new LocalCoordination({ rotationStart: options.rotationStart });
}

/** For /_kmi/health and status: which backend, and whether it answers now. */
export interface StateBackendStatus {
  readonly kind: 'file' | 'redis';
  readonly location: string;
  readonly available: boolean;
  /** While Redis is away: since when (ms) and why. */
  readonly downSinceMs: number | null;
  readonly reason: string | null;
}

export function stateBackendStatus(store: StateBackend): StateBackendStatus {
  const backend = store instanceof DeferredStateBackend ? (store.opened ?? store) : store;
  if (backend instanceof RedisStateBackend) {
    const outage = backend.link.outage;
    return {
      kind: 'redis',
      location: backend.location,
      available: backend.available,
      downSinceMs: outage?.sinceMs ?? null,
      reason: outage?.reason ?? null,
    };
  }
  const kind = isRedisUrl(backend.location) ? 'redis' : 'file';
  return { kind, location: backend.location, available: true, downSinceMs: null, reason: null };
}

/** What `kmi doctor` reports about the state backend. */
export type StateProbe =
  | {
      readonly kind: 'file';
      readonly location: string;
      readonly ok: boolean;
      readonly exists: boolean;
      readonly reason: string | null;
    }
  | {
      readonly kind: 'redis';
      readonly location: string;
      readonly ok: boolean;
      readonly reason: string | null;
      readonly serverVersion: string | null;
      readonly keys: number | null;
    };

/** Check the configured backend without changing anything: file folder writable, or Redis answering. */
export async function probeStateBackend(
  config: Pick<Config, 'stateUrl' | 'stateDir'>,
  options: { readonly timeoutMs?: number; readonly prefix?: string } = {},
): Promise<StateProbe> {
  const location = stateLocation(config);
  if (config.stateUrl === '') {
    try {
      await stat(config.stateDir);
    } catch {
      return { kind: 'file', location, ok: true, exists: false, reason: null };
    }
    try {
      await access(config.stateDir, constants.W_OK);
      return { kind: 'file', location, ok: true, exists: true, reason: null };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return { kind: 'file', location, ok: false, exists: true, reason: code };
    }
  }
  const { link, error } = await RedisLink.open({
    url: config.stateUrl,
    connectTimeoutMs: options.timeoutMs ?? 2000,
  });
  try {
    if (error !== null)
      return { kind: 'redis', location, ok: false, reason: error, serverVersion: null, keys: null };
    const info = String(await link.command(['INFO', 'server']));
    const serverVersion = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? null;
    const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    const keys = Number(await link.command(['SCARD', prefix + RKEY.labels]));
    return { kind: 'redis', location, ok: true, reason: null, serverVersion, keys };
  } catch (err) {
    return {
      kind: 'redis',
      location,
      ok: false,
      reason: link.describe(err),
      serverVersion: null,
      keys: null,
    };
  } finally {
    await link.close();
  }
}

function emit(onEvent: ((event: OpenStateEvent) => void) | undefined, event: OpenStateEvent): void {
  try {
    onEvent?.(event);
  } catch {
    // reporting must not break opening
  }
}
