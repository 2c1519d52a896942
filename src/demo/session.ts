// A demo session: the real proxy in-process over the demo workspace, a burst through it, and what happened (keys, failovers, trace, confidence).
import { existsSync } from 'node:fs';
import { Agent, request } from 'undici';
import { loadAuthRegistry } from '../auth/registry.js';
import type { KeyRecord } from '../auth/types.js';
import { nullLogger } from '../log/types.js';
import { startProxy, type RunningProxy } from '../proxy/server.js';
import type { SimulatedFault } from '../proxy/simulate.js';
import { clearBlock, clearExhausted, keyState } from '../state/key-state.js';
import { FileStateStore } from '../state/store.js';
import {
  CONFIDENCE_WINDOW,
  rotationConfidence,
  type RotationConfidence,
} from '../trace/confidence.js';
import { readTraceTail } from '../trace/reader.js';
import type { TraceRecord } from '../trace/record.js';
import { createTraceWriterFor, type TraceWriter } from '../trace/writer.js';
import { sendBurst, type BurstPhase, type BurstResult } from './burst.js';
import { createDemoWorkspace, DEMO_LABELS, type DemoWorkspace } from './workspace.js';

export interface DemoKeyRow {
  readonly label: string;
  readonly maskedKey: string;
  /** Upstream attempts made with the key (the proxy's request_count). */
  readonly requests: number;
  /** Attempts that failed: answers the proxy failed over from, plus error answers it relayed. */
  readonly errors: number;
  /** The proxy's view now: ok, blocked, exhausted, … */
  readonly state: string;
  /** blocked_reason when blocked (e.g. payment). */
  readonly blockedReason: string | null;
  /** When the key can serve again (UTC `YYYY-MM-DDTHH:MM:SSZ`), when known. */
  readonly availableAt: string | null;
  /** The fault the simulated upstream answered this key with at the end of the burst. */
  readonly fault: SimulatedFault;
}

export interface DemoFailover {
  /** Position of the request in the burst (null when the trace record could not be matched). */
  readonly n: number | null;
  readonly requestId: string;
  readonly method: string;
  readonly endpoint: string;
  /** Keys tried first, each with the answer the simulated upstream gave it. */
  readonly from: readonly { readonly label: string; readonly fault: SimulatedFault }[];
  /** The key that served the request. */
  readonly to: string | null;
  readonly status: number;
}

export interface DemoReport {
  readonly dir: string;
  readonly url: string;
  readonly results: readonly BurstResult[];
  readonly keys: readonly DemoKeyRow[];
  readonly failovers: readonly DemoFailover[];
  readonly trace: readonly TraceRecord[];
  readonly tracePath: string;
  readonly eligible: readonly string[];
  readonly confidence: RotationConfidence;
}

export interface DemoSession {
  readonly report: DemoReport;
  readonly url: string;
  readonly dir: string;
  /** Clear the injected faults and every block/cooldown, so all keys serve again (for --keep). */
  heal(): Promise<void>;
  /** Stop the proxy, flush and close everything, remove the temp folder. True when it is gone. */
  close(): Promise<boolean>;
}

export interface StartDemoOptions {
  readonly timezone: string;
  readonly locale: 'en' | 'ru';
  readonly version: string;
  /** Parent of the temp folder (default os.tmpdir()). */
  readonly tmpParent?: string;
  readonly phases?: readonly BurstPhase[];
  readonly onResult?: (result: BurstResult) => void;
}

/** A field of the proxy's /_kmi/status key entry. */
interface StatusKey {
  readonly label: string;
  readonly state: string;
  readonly eligible: boolean;
  readonly request_count: number;
  readonly blocked_reason: string | null;
  readonly available_at: string | null;
}

/** Start everything, send the burst, and collect the report; on any failure everything is cleaned up. */
export async function startDemo(options: StartDemoOptions): Promise<DemoSession> {
  const ws: DemoWorkspace = await createDemoWorkspace({
    timezone: options.timezone,
    locale: options.locale,
    ...(options.tmpParent !== undefined ? { parent: options.tmpParent } : {}),
  });
  const { config } = ws;
  let store: FileStateStore | null = null;
  let trace: TraceWriter | null = null;
  let proxy: RunningProxy | null = null;
  const agent = new Agent({ connections: 4, keepAliveTimeout: 1_000 });
  let closing: Promise<boolean> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await agent.close().catch(() => undefined);
      await proxy?.close().catch(() => undefined);
      await trace?.close().catch(() => undefined);
      await store?.close().catch(() => undefined);
      await ws.remove().catch(() => undefined);
      return !existsSync(ws.dir);
    })());

  try {
    const registry = await loadAuthRegistry({
      dir: ws.authsDir,
      upstreamAllowlist: config.upstreamAllowlist,
    });
    const keys: readonly KeyRecord[] = registry.keys;
    if (keys.length !== DEMO_LABELS.length)
      throw new Error(`the demo expected ${DEMO_LABELS.length} demo keys, found ${keys.length}`);
    store = new FileStateStore({
      dir: config.stateDir,
      enforcePerms: config.enforceFilePerms,
      watchIntervalMs: 200,
    });
    // Round-robin, so every key (the faulty ones too) gets its turn.
    await store.update((s) => {
      s.auto_rotate = true;
      s.active_label = keys[0]!.label;
      s.active_index = 0;
    });
    trace = createTraceWriterFor(config);
    const faults: Record<string, SimulatedFault> = Object.fromEntries(
      keys.map((k) => [k.label, 'ok' as SimulatedFault]),
    );
    proxy = await startProxy({
      config,
      keys,
      store,
      trace,
      logger: nullLogger,
      version: options.version,
      simulate: { faults },
    });
    const url = proxy.url;
    const results = await sendBurst({
      url,
      dispatcher: agent,
      faults,
      ...(options.phases !== undefined ? { phases: options.phases } : {}),
      ...(options.onResult !== undefined ? { onResult: options.onResult } : {}),
    });

    const statusRes = await request(`${url}/_kmi/status`, { dispatcher: agent });
    const status = (await statusRes.body.json()) as { keys?: StatusKey[] };
    await trace.flush();
    const read = await readTraceTail(trace.path, CONFIDENCE_WINDOW);
    const records = read.records;

    const failedAttempts = new Map<string, number>();
    const bump = (label: string) => failedAttempts.set(label, (failedAttempts.get(label) ?? 0) + 1);
    for (const r of records) {
      for (const l of r.failover_from ?? []) bump(l);
      if (r.key_label !== null && (r.status >= 400 || r.error_code !== null)) bump(r.key_label);
    }
    const statusKeys = status.keys ?? [];
    const rows: DemoKeyRow[] = keys.map((k) => {
      const s = statusKeys.find((x) => x.label === k.label);
      return {
        label: k.label,
        maskedKey: k.maskedKey,
        requests: s?.request_count ?? 0,
        errors: failedAttempts.get(k.label) ?? 0,
        state: s?.state ?? 'unknown',
        blockedReason: s?.blocked_reason ?? null,
        availableAt: s?.available_at ?? null,
        fault: faults[k.label] ?? 'ok',
      };
    });
    const nByRequestId = new Map(
      results.filter((r) => r.requestId !== null).map((r) => [r.requestId as string, r.n]),
    );
    const failovers: DemoFailover[] = records
      .filter((r) => Array.isArray(r.failover_from) && r.failover_from.length > 0)
      .map((r) => ({
        n: nByRequestId.get(r.request_id) ?? null,
        requestId: r.request_id,
        method: r.method,
        endpoint: r.endpoint,
        from: r.failover_from.map((label) => ({ label, fault: faults[label] ?? 'ok' })),
        to: r.key_label,
        status: r.status,
      }));
    const eligible = statusKeys.filter((x) => x.eligible).map((x) => x.label);
    const report: DemoReport = {
      dir: ws.dir,
      url,
      results,
      keys: rows,
      failovers,
      trace: records,
      tracePath: trace.path,
      eligible,
      confidence: rotationConfidence(records, eligible),
    };
    const demoStore = store;
    return {
      report,
      url,
      dir: ws.dir,
      heal: async () => {
        for (const label of Object.keys(faults)) faults[label] = 'ok';
        // The proxy writes its counters and blocks at most once a second; clearing the blocks
        // before that write lands would let the write block the keys again.
        await waitFor(async () => {
          const state = await demoStore.read();
          return rows.every((r) => (state.keys[r.label]?.request_count ?? 0) >= r.requests);
        }, 5_000);
        await demoStore.update((s) => {
          for (const k of keys) {
            const ks = keyState(s, k.label);
            clearBlock(ks);
            clearExhausted(ks);
            ks.consecutive_failures = 0;
          }
        });
        // …and the proxy notices the change within a second or two.
        await waitFor(async () => {
          const res = await request(`${url}/_kmi/status`, { dispatcher: agent });
          const now = (await res.body.json()) as { keys?: StatusKey[] };
          return (now.keys ?? []).every((k) => k.eligible);
        }, 5_000);
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Poll `check` every 100 ms until it is true or `timeoutMs` passed (then give up quietly). */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
