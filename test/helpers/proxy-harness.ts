// Start the real proxy in-process against the fake upstream: temp state dir, FileStateStore or memory store, a capturing trace sink.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyHash, maskKey } from '../../src/auth/mask.js';
import type { KeyRecord } from '../../src/auth/types.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/server.js';
import type { StateBackend } from '../../src/state/backend.js';
import type { State } from '../../src/state/schema.js';
import { FileStateStore } from '../../src/state/store.js';
import type { TraceEntry, TraceRecord, TraceSink } from '../../src/trace/record.js';
import { fakeKey, usedSecrets } from './kmi.js';
import { startFakeUpstream, type FakeUpstream } from './fake-upstream.js';
import { MemoryStateStore } from './memory-state.js';

export function makeKey(label: string, extra: Partial<KeyRecord> = {}): KeyRecord {
  const apiKey = extra.apiKey ?? fakeKey(label);
  usedSecrets.add(apiKey);
  return {
    label,
    apiKey,
    maskedKey: maskKey(apiKey),
    keyHash: keyHash(apiKey),
    source: `/tmp/_auths/${label}.env`,
    format: 'env',
    baseUrl: null,
    priority: 0,
    disabled: false,
    email: null,
    provider: null,
    ...extra,
  };
}

/** A TraceSink that keeps every entry in memory. */
export class CapturingTrace implements TraceSink {
  readonly entries: TraceEntry[] = [];
  private waiters: (() => void)[] = [];
  record(entry: TraceEntry): void {
    this.entries.push(entry);
    for (const w of this.waiters.splice(0)) w();
  }
  recent(): readonly TraceRecord[] {
    return [];
  }
  subscribe(): () => void {
    return () => {};
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  /** Resolve once at least `n` entries were recorded. */
  async waitFor(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.entries.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.entries.length}/${n} trace entries`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

export interface HarnessOptions {
  /** Key labels (default a, b, c). */
  readonly labels?: readonly string[];
  readonly keys?: readonly KeyRecord[];
  readonly env?: Record<string, string>;
  /** Applied on top of the loaded config. */
  readonly config?: Partial<Config>;
  readonly store?: 'file' | 'memory';
  readonly initialState?: State;
  readonly upstream?: FakeUpstream;
  readonly proxy?: Partial<ProxyOptions>;
}

export interface Harness {
  readonly proxy: RunningProxy;
  readonly upstream: FakeUpstream;
  readonly keys: readonly KeyRecord[];
  readonly store: StateBackend;
  readonly trace: CapturingTrace;
  readonly config: Config;
  readonly dir: string;
  /** Proxy URL + path. */
  url(path: string): string;
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'kmi-proxy-'));
  const ownUpstream = options.upstream === undefined;
  const upstream = options.upstream ?? (await startFakeUpstream());
  const keys = options.keys ?? (options.labels ?? ['a', 'b', 'c']).map((l) => makeKey(l));
  const { config: loaded } = loadConfig({
    env: {
      HOME: dir,
      KMI_STATE_DIR: join(dir, 'state'),
      KMI_AUTHS_DIR: join(dir, '_auths'),
      KMI_DRY_RUN: '0',
      KMI_UPSTREAM_BASE_URL: upstream.url,
      KMI_PROXY_LISTEN: '127.0.0.1:0',
      KMI_TIMEZONE: 'UTC',
      // Background /usages refresh and blocklist recheck off unless a test turns them on: they would
      // add /usages calls to the fake upstream's request log.
      KMI_USAGE_CACHE_SECONDS: '0',
      KMI_BLOCKLIST_RECHECK_SECONDS: '0',
      ...options.env,
    },
    cwd: dir,
  });
  const config: Config = Object.freeze({ ...loaded, ...options.config });
  const store: StateBackend =
    options.store === 'memory'
      ? new MemoryStateStore(options.initialState)
      : new FileStateStore({ dir: config.stateDir, enforcePerms: true, watchIntervalMs: 100 });
  if (options.store !== 'memory' && options.initialState) {
    const initial = options.initialState;
    await store.update((s) => Object.assign(s, structuredClone(initial)));
  }
  const trace = new CapturingTrace();
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({ config, keys, store, trace, version: 'test', ...options.proxy });
  } catch (err) {
    await store.close();
    if (ownUpstream) await upstream.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    proxy,
    upstream,
    keys,
    store,
    trace,
    config,
    dir,
    url: (path: string) => `${proxy.url}${path}`,
    close: async () => {
      await proxy.close();
      await store.close();
      if (ownUpstream) await upstream.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A state with auto-rotate on (round-robin). */
export function autoState(extra: Partial<State> = {}): State {
  return {
    schema_version: 1,
    active_index: 0,
    rotation_index: 0,
    auto_rotate: true,
    last_health_refresh: null,
    keys: {},
    ...extra,
  };
}

/** Race a promise against a generous timeout so a bug fails the test instead of hanging it. */
export function within<T>(promise: Promise<T>, ms = 10_000, what = 'operation'): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what} did not finish in ${ms} ms`)), ms).unref(),
    ),
  ]);
}
