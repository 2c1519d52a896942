// ReplyBody: an upstream answer's body, held (bounded) until the proxy decides: read a prefix to classify it, relay it with backpressure, or drop it.
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Cancellation, CancelTarget } from './cancel.js';

/** How a relay ended: whole body delivered, the upstream broke mid-body, or the client left. */
export type RelayEnd = 'ok' | 'stream_aborted' | 'client_aborted';

export interface BodyPrefix {
  readonly prefix: Buffer;
  /** True when the body ended within the prefix. */
  readonly complete: boolean;
}

/** How the body's source is paused, resumed and stopped (undici's controller, or a Readable). */
export interface SourceControl {
  pause(): void;
  resume(): void;
  abort(): void;
}

/** Held data beyond this pauses the source until someone consumes it. */
const HOLD_LIMIT = 64 * 1024;
/** A dropped body is read up to this much (keeping its connection), then the connection is closed. */
const DISCARD_LIMIT = 128 * 1024;

type Mode = 'hold' | 'prefix' | 'pipe' | 'discard';

export class ReplyBody implements CancelTarget {
  private control: SourceControl | null = null;
  private mode: Mode = 'hold';
  private chunks: Buffer[] = [];
  private size = 0;
  private paused = false;
  private ended = false;
  private error: Error | null = null;
  private prefixLimit = 0;
  private prefixWaiter: { resolve: (p: BodyPrefix) => void; reject: (e: Error) => void } | null =
    null;
  private sink: ServerResponse | null = null;
  private settleRelay: ((end: RelayEnd) => void) | null = null;

  /** Set once the source can be controlled (undici hands the controller over when the request starts). */
  attach(control: SourceControl): void {
    this.control = control;
    if (this.paused) control.pause();
  }

  /** True once the source ended or failed. */
  get done(): boolean {
    return this.ended || this.error !== null;
  }

  // ---- fed by the source ----

  push(chunk: Buffer): void {
    switch (this.mode) {
      case 'pipe':
        if (!this.sink!.write(chunk)) {
          this.pause();
          this.sink!.once('drain', () => this.onDrain());
        }
        return;
      case 'discard':
        this.size += chunk.length;
        if (this.size > DISCARD_LIMIT) this.control?.abort();
        return;
      default:
        this.chunks.push(chunk);
        this.size += chunk.length;
        if (this.mode === 'prefix' && this.size >= this.prefixLimit) this.givePrefix(false);
        else if (this.mode === 'hold' && this.size >= HOLD_LIMIT) this.pause();
    }
  }

  end(): void {
    if (this.done) return;
    this.ended = true;
    if (this.mode === 'pipe') this.sink!.end();
    else if (this.mode === 'prefix') this.givePrefix(true);
  }

  fail(err: Error): void {
    if (this.done) return;
    this.error = err;
    if (this.mode === 'pipe') {
      // Headers are out: the only honest signal left is a broken connection.
      this.sink!.destroy();
      this.settle('stream_aborted');
    } else if (this.mode === 'prefix') {
      const waiter = this.prefixWaiter!;
      this.prefixWaiter = null;
      this.mode = 'hold';
      waiter.reject(err);
    }
  }

  // ---- used by the proxy ----

  /** Up to `limit` bytes (more if a chunk crosses it); they stay held, so a later pipeTo relays them too. */
  readPrefix(limit: number): Promise<BodyPrefix> {
    if (this.error !== null) return Promise.reject(this.error);
    if (this.ended || this.size >= limit)
      return Promise.resolve({ prefix: this.held(), complete: this.ended });
    return new Promise((resolve, reject) => {
      this.mode = 'prefix';
      this.prefixLimit = limit;
      this.prefixWaiter = { resolve, reject };
      this.resume();
    });
  }

  /**
   * Relay what is held and everything after it into `res` (its head already written). `cancel`
   * (watching `res`) reports the end: response done, or the client gone (then the source is stopped).
   */
  pipeTo(res: ServerResponse, cancel: Cancellation): Promise<RelayEnd> {
    return new Promise<RelayEnd>((resolve) => {
      this.settleRelay = resolve;
      this.sink = res;
      cancel.watch(this);
      if (this.settleRelay === null) return; // the client had already left
      const held = this.chunks;
      this.chunks = [];
      this.size = 0;
      if (this.ended) {
        // A whole body: end(last) sends head and body together now, with no deferred uncork.
        const last = held.length - 1;
        for (let i = 0; i < last; i++) res.write(held[i]);
        if (last >= 0) res.end(held[last]);
        else res.end();
        return;
      }
      for (const chunk of held) res.write(chunk);
      if (this.error !== null) {
        cancel.release(this);
        res.destroy();
        this.settle('stream_aborted');
        return;
      }
      this.mode = 'pipe';
      if (res.writableNeedDrain) res.once('drain', () => this.onDrain());
      else this.resume();
    });
  }

  /** The client left mid-relay: stop the source. */
  cancelled(): void {
    this.settle('client_aborted');
    if (!this.done) this.control?.abort();
  }

  /** The response was handed over completely. */
  completed(): void {
    this.settle('ok');
  }

  /** Drop the body: small ones are read to the end (the connection stays reusable), big ones cut. */
  discard(): void {
    this.chunks = [];
    if (this.done) return;
    this.mode = 'discard';
    this.resume();
  }

  private held(): Buffer {
    return this.chunks.length === 1
      ? (this.chunks[0] as Buffer)
      : Buffer.concat(this.chunks, this.size);
  }

  private givePrefix(complete: boolean): void {
    const waiter = this.prefixWaiter!;
    this.prefixWaiter = null;
    this.mode = 'hold';
    if (!complete && this.size >= HOLD_LIMIT) this.pause();
    waiter.resolve({ prefix: this.held(), complete });
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.control?.pause();
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.control?.resume();
  }

  private onDrain(): void {
    if (this.mode === 'pipe') this.resume();
  }

  private settle(end: RelayEnd): void {
    const s = this.settleRelay;
    if (s === null) return;
    this.settleRelay = null;
    s(end);
  }
}

/** A ReplyBody fed by a Readable (the dry-run simulator's bodies). */
export function replyBodyFrom(readable: Readable): ReplyBody {
  const body = new ReplyBody();
  body.attach({
    pause: () => readable.pause(),
    resume: () => readable.resume(),
    abort: () => readable.destroy(),
  });
  readable.on('data', (chunk: Buffer) => body.push(chunk));
  readable.on('end', () => body.end());
  readable.on('error', (err) => body.fail(err));
  readable.on('close', () => {
    if (!body.done) body.fail(new Error('body closed early'));
  });
  return body;
}
