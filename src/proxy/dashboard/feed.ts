// The live feed: one trace subscription shared by every open dashboard, pushed as text/event-stream; nothing runs without viewers.
import type { ServerResponse } from 'node:http';
import type { TraceRecord } from '../../trace/record.js';
import type { FeedRecord } from '../../web/types.js';
import type { ProxyContext } from '../context.js';
import { isErrorStatus, RateBuckets, traceTsMs, type RateSeries } from './rate.js';
import { buildSnapshot } from './view.js';

export function feedRecord(r: TraceRecord): FeedRecord {
  return {
    id: r.request_id,
    ts: r.ts,
    key: r.key_label,
    method: r.method,
    endpoint: r.endpoint,
    status: r.status,
    latency_ms: r.latency_ms,
    ttfb_ms: r.ttfb_ms,
    attempts: r.attempts,
    failover_from: r.failover_from,
    error_code: r.error_code,
    stream: r.stream,
  };
}

const TICK_MS = 1000;
/** Requests are batched this long before being pushed, so a busy proxy costs one write per batch. */
const BATCH_MS = 200;
/** Records pushed per batch at most; the rest are counted as skipped (the rate chart still counts them). */
const BATCH_MAX = 100;
/** Records sent with the first message, to fill the feed. */
const HELLO_RECORDS = 50;
/** Seconds of the rate series sent with every tick (the page keeps the rest). */
const TAIL_S = 5;
/** A viewer this far behind (bytes queued) is cut off rather than buffered for. */
const MAX_BACKLOG = 1 << 20;

interface Viewer {
  readonly res: ServerResponse;
}

export class DashboardFeed {
  private readonly viewers = new Set<Viewer>();
  private readonly rate = new RateBuckets();
  private unsubscribe: (() => void) | null = null;
  private pending: TraceRecord[] = [];
  private skipped = 0;
  private batchTimer: NodeJS.Timeout | null = null;
  private tickTimer: NodeJS.Timeout | null = null;
  /** Last second the subscription was live; null while live or before the first viewer. */
  private coveredUntil: number | null = null;

  constructor(private readonly ctx: ProxyContext) {}

  get viewerCount(): number {
    return this.viewers.size;
  }

  /** Answer a feed request: headers, a hello with history, then events until the viewer leaves. */
  open(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
    });
    res.socket?.setNoDelay(true);
    const viewer: Viewer = { res };
    if (this.viewers.size === 0) this.start();
    this.viewers.add(viewer);
    // The response closes when the viewer goes away (or the proxy shuts down and cuts the socket).
    res.on('close', () => this.leave(viewer));
    const nowSec = Math.floor(this.ctx.clock.now() / 1000);
    this.send(viewer, 'hello', {
      snapshot: buildSnapshot(this.ctx),
      rate: this.rate.series(nowSec),
      records: this.ctx.trace.recent(HELLO_RECORDS).map(feedRecord),
    });
  }

  /** Push a fresh snapshot now (after an action), instead of waiting for the tick. */
  refresh(): void {
    if (this.viewers.size > 0) this.tick();
  }

  private leave(viewer: Viewer): void {
    if (!this.viewers.delete(viewer)) return;
    if (this.viewers.size === 0) this.stop();
  }

  private start(): void {
    this.backfill();
    this.unsubscribe = this.ctx.trace.subscribe(this.onRecord);
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    this.tickTimer.unref();
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    if (this.batchTimer !== null) clearTimeout(this.batchTimer);
    this.tickTimer = null;
    this.batchTimer = null;
    this.pending = [];
    this.skipped = 0;
    this.coveredUntil = Math.floor(this.ctx.clock.now() / 1000);
  }

  /**
   * Rebuild the rate buckets from the trace's in-memory ring. The seconds the ring covers are
   * recounted from it; older ones keep what an earlier viewer saw, if that reaches the ring.
   */
  private backfill(): void {
    const ring = this.ctx.trace.recent();
    const startSec = Math.floor(this.ctx.startedAtMs / 1000);
    const times: number[] = [];
    for (const r of ring) {
      const at = traceTsMs(r.ts);
      if (at !== null) times.push(at + r.latency_ms);
    }
    let first = Number.POSITIVE_INFINITY;
    for (const at of times) first = Math.min(first, Math.floor(at / 1000));
    if (!Number.isFinite(first)) first = Math.floor(this.ctx.clock.now() / 1000);
    const overlaps = this.coveredUntil !== null && first <= this.coveredUntil + 1;
    // A ring that is not full holds every request since the proxy started (its default size is 500).
    const complete = ring.length < 500;
    this.rate.clearFrom(complete ? startSec : first);
    for (let i = 0; i < times.length; i++) {
      this.rate.add(times[i]!, isErrorStatus(ring[i]!.status));
    }
    if (complete) this.rate.since = startSec;
    else if (!overlaps) this.rate.since = first;
    this.coveredUntil = null;
  }

  /** Trace subscriber: O(1) per request. */
  private readonly onRecord = (record: TraceRecord): void => {
    this.rate.add(this.ctx.clock.now(), isErrorStatus(record.status));
    if (this.pending.length < BATCH_MAX) this.pending.push(record);
    else this.skipped++;
    this.batchTimer ??= setTimeout(this.flushBatch, BATCH_MS);
  };

  private readonly flushBatch = (): void => {
    this.batchTimer = null;
    if (this.pending.length === 0) return;
    const records = this.pending.map(feedRecord);
    const skipped = this.skipped;
    this.pending = [];
    this.skipped = 0;
    this.broadcast('requests', { records, skipped });
  };

  private tick(): void {
    const nowSec = Math.floor(this.ctx.clock.now() / 1000);
    const rate: RateSeries = this.rate.series(nowSec, TAIL_S);
    this.broadcast('snapshot', { snapshot: buildSnapshot(this.ctx), rate });
  }

  private broadcast(event: string, data: unknown): void {
    const frame = sseFrame(event, data);
    for (const viewer of this.viewers) this.write(viewer, frame);
  }

  private send(viewer: Viewer, event: string, data: unknown): void {
    this.write(viewer, sseFrame(event, data));
  }

  private write(viewer: Viewer, frame: string): void {
    const { res } = viewer;
    if (res.destroyed || res.writableEnded) {
      this.leave(viewer);
      return;
    }
    if (res.writableLength > MAX_BACKLOG) {
      res.destroy();
      this.leave(viewer);
      return;
    }
    res.write(frame);
  }
}

/** One Server-Sent Events message; JSON has no raw newlines, so `data:` is one line. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

const feeds = new WeakMap<ProxyContext, DashboardFeed>();

/** The feed of one running proxy (created on first use). */
export function feedFor(ctx: ProxyContext): DashboardFeed {
  let feed = feeds.get(ctx);
  if (feed === undefined) {
    feed = new DashboardFeed(ctx);
    feeds.set(ctx, feed);
  }
  return feed;
}
