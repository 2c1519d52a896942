// RecordRing: the last N trace records kept as columns (numbers in typed arrays, repeated strings shared), so no per-request object outlives the request.
import type { TraceRecord } from './record.js';

const NO_LABELS: string[] = [];

/**
 * Under load a ring of record objects gets every record promoted to the old generation (each one
 * lives for `size` requests), which costs the proxy GC time and memory. Here a record is copied into
 * preallocated columns instead, and rebuilt as an object only when someone asks for recent ones.
 */
export class RecordRing {
  private readonly ts: string[];
  private readonly ids: string[];
  private readonly method: string[];
  private readonly hint: (string | null)[];
  private readonly head: (string | null)[];
  private readonly label: (string | null)[];
  private readonly hash: (string | null)[];
  private readonly endpoint: string[];
  private readonly errorCode: (string | null)[];
  private readonly failoverFrom: string[][];
  /** status, latency_ms, rotation_index, ttfb_ms (NaN = null), attempts, schema_version. */
  private readonly numbers: Float64Array;
  /** bit 0 stream, bit 1 dry_run. */
  private readonly flags: Uint8Array;
  private next = 0;
  private count = 0;
  /** Endpoints and error codes repeat: one string each, not one per request. */
  private readonly interned = new Map<string, string>();

  constructor(readonly size: number) {
    this.ts = new Array<string>(size).fill('');
    this.ids = new Array<string>(size).fill('');
    this.method = new Array<string>(size).fill('');
    this.hint = new Array<string | null>(size).fill(null);
    this.head = new Array<string | null>(size).fill(null);
    this.label = new Array<string | null>(size).fill(null);
    this.hash = new Array<string | null>(size).fill(null);
    this.endpoint = new Array<string>(size).fill('');
    this.errorCode = new Array<string | null>(size).fill(null);
    this.failoverFrom = new Array<string[]>(size).fill(NO_LABELS);
    this.numbers = new Float64Array(size * 6);
    this.flags = new Uint8Array(size);
  }

  get length(): number {
    return this.count;
  }

  push(r: TraceRecord): void {
    const i = this.next;
    this.next = i + 1 === this.size ? 0 : i + 1;
    if (this.count < this.size) this.count++;
    this.ts[i] = r.ts;
    this.ids[i] = r.request_id;
    this.method[i] = r.method;
    this.hint[i] = r.prompt_hint;
    this.head[i] = r.prompt_head;
    this.label[i] = r.key_label;
    this.hash[i] = r.key_hash;
    this.endpoint[i] = this.intern(r.endpoint);
    this.errorCode[i] = r.error_code === null ? null : this.intern(r.error_code);
    this.failoverFrom[i] = r.failover_from.length === 0 ? NO_LABELS : r.failover_from;
    const n = i * 6;
    this.numbers[n] = r.status;
    this.numbers[n + 1] = r.latency_ms;
    this.numbers[n + 2] = r.rotation_index;
    this.numbers[n + 3] = r.ttfb_ms ?? Number.NaN;
    this.numbers[n + 4] = r.attempts;
    this.numbers[n + 5] = r.schema_version;
    this.flags[i] = (r.stream ? 1 : 0) | (r.dry_run ? 2 : 0);
  }

  /** The newest `limit` records (all when omitted), oldest first. */
  recent(limit?: number): TraceRecord[] {
    const want = limit === undefined ? this.count : Math.max(0, Math.min(limit, this.count));
    const oldest = this.count < this.size ? 0 : this.next;
    const out: TraceRecord[] = [];
    for (let k = this.count - want; k < this.count; k++)
      out.push(this.at((oldest + k) % this.size));
    return out;
  }

  private at(i: number): TraceRecord {
    const n = i * 6;
    const ttfb = this.numbers[n + 3]!;
    return {
      ts: this.ts[i]!,
      request_id: this.ids[i]!,
      method: this.method[i]!,
      prompt_hint: this.hint[i]!,
      prompt_head: this.head[i]!,
      key_label: this.label[i]!,
      key_hash: this.hash[i]!,
      endpoint: this.endpoint[i]!,
      status: this.numbers[n]!,
      latency_ms: this.numbers[n + 1]!,
      error_code: this.errorCode[i]!,
      rotation_index: this.numbers[n + 2]!,
      schema_version: this.numbers[n + 5]!,
      ttfb_ms: Number.isNaN(ttfb) ? null : ttfb,
      attempts: this.numbers[n + 4]!,
      failover_from: [...this.failoverFrom[i]!],
      stream: (this.flags[i]! & 1) !== 0,
      dry_run: (this.flags[i]! & 2) !== 0,
    };
  }

  private intern(value: string): string {
    const known = this.interned.get(value);
    if (known !== undefined) return known;
    if (this.interned.size >= 1024) this.interned.clear();
    this.interned.set(value, value);
    return value;
  }
}
