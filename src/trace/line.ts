// One trace.jsonl line from a TraceRecord: JSON in the record's field order, newline included, encoded as UTF-8 bytes straight from cached pieces (no string is built).
import type { TraceRecord } from './record.js';

// Printable ASCII except `"` and `\`: such strings need no escaping.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string literal; non-ASCII text stays as it is (UTF-8 in the file, readable with tail). */
export function jsonString(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
const literalOf = (value: string | null): string => (value === null ? 'null' : jsonString(value));

/** Pieces kept per cache: values that stop repeating (new endpoints, say) start it over. */
const CACHE_MAX = 512;

/**
 * `<key><literal of value>` as bytes, per value: ts, method, endpoint and error code repeat from line
 * to line, so each piece is encoded once.
 */
class Pieces {
  private readonly known = new Map<string | null, Buffer>();
  constructor(private readonly key: string) {}

  of(value: string | null): Buffer {
    let piece = this.known.get(value);
    if (piece === undefined) {
      piece = utf8(this.key + literalOf(value));
      if (this.known.size >= CACHE_MAX) this.known.clear();
      this.known.set(value, piece);
    }
    return piece;
  }
}

/**
 * Two fields that come together (hint and head of one message, label and hash of one key) as one
 * piece, cached by the first value and checked against the second.
 */
class PairPieces {
  private readonly known = new Map<string | null, { second: string | null; piece: Buffer }>();
  constructor(
    private readonly firstKey: string,
    private readonly secondKey: string,
  ) {}

  of(first: string | null, second: string | null): Buffer {
    const entry = this.known.get(first);
    if (entry !== undefined && entry.second === second) return entry.piece;
    const piece = utf8(this.firstKey + literalOf(first) + this.secondKey + literalOf(second));
    if (this.known.size >= CACHE_MAX) this.known.clear();
    this.known.set(first, { second, piece });
    return piece;
  }
}

const TS = new Pieces('{"ts":');
const METHOD = new Pieces(',"method":');
const PROMPT = new PairPieces(',"prompt_hint":', ',"prompt_head":');
const KEY = new PairPieces(',"key_label":', ',"key_hash":');
const ENDPOINT = new Pieces(',"endpoint":');
const ERROR_CODE = new Pieces(',"error_code":');
const K_REQUEST_ID = utf8(',"request_id":');
const K_STATUS = utf8(',"status":');
const K_LATENCY = utf8(',"latency_ms":');
const K_ROTATION = utf8(',"rotation_index":');
const K_SCHEMA = utf8(',"schema_version":');
const K_TTFB = utf8(',"ttfb_ms":');
const K_ATTEMPTS = utf8(',"attempts":');
const K_FAILOVER = utf8(',"failover_from":');
const NO_FAILOVER = utf8(',"failover_from":[]');
const STREAM = [utf8(',"stream":false'), utf8(',"stream":true')] as const;
const DRY_RUN_END = [utf8(',"dry_run":false}\n'), utf8(',"dry_run":true}\n')] as const;
const NULL = utf8('null');
/** The fixed keys around the numbers and the id, plus the longest stream/dry_run ends. */
const FIXED =
  K_REQUEST_ID.length +
  K_STATUS.length +
  K_LATENCY.length +
  K_ROTATION.length +
  K_SCHEMA.length +
  K_TTFB.length +
  K_ATTEMPTS.length +
  K_FAILOVER.length +
  STREAM[0].length +
  DRY_RUN_END[0].length;
/** Bytes a number can take (`String(-1.2345678901234567e-300)` is 24 characters). */
const NUMBER_MAX = 24;

function failoverPiece(values: readonly string[]): Buffer {
  if (values.length === 0) return NO_FAILOVER;
  let list = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) list += ',';
    list += jsonString(values[i] as string);
  }
  return utf8(`,"failover_from":${list}]`);
}

function put(out: Buffer, at: number, piece: Buffer): number {
  out.set(piece, at);
  return at + piece.length;
}

function putNumber(out: Buffer, at: number, value: number | null): number {
  if (value === null || !Number.isFinite(value)) return put(out, at, NULL);
  if (!Number.isInteger(value) || value < 0 || value >= 1e15) {
    return at + out.write(String(value), at, 'latin1');
  }
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let rest = value;
  for (let i = at + digits - 1; i >= at; i--) {
    out[i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
  return at + digits;
}

/** A string seen once (the request id): plain ASCII goes in byte by byte. */
function putString(out: Buffer, at: number, value: string): number {
  if (!PLAIN.test(value)) return put(out, at, utf8(jsonString(value)));
  out[at++] = 0x22;
  for (let i = 0; i < value.length; i++) out[at++] = value.charCodeAt(i);
  out[at++] = 0x22;
  return at;
}

/** An encoded line: the first `length` bytes of `bytes`. */
export interface EncodedLine {
  readonly bytes: Buffer;
  readonly length: number;
}

/** Reused by every call: the line is written into its buffer and copied by the caller. */
const encoded: { bytes: Buffer; length: number } = {
  bytes: Buffer.allocUnsafeSlow(16 * 1024),
  length: 0,
};

/**
 * The UTF-8 bytes of the line for one record, ending in `\n`, in a buffer that the next call reuses
 * (copy them before then). Values that repeat from line to line (hints, keys, endpoints, the ts of
 * this second) are encoded once, together with their keys. Parses to the same object as the record.
 */
export function encodeTraceLine(r: TraceRecord): EncodedLine {
  const ts = TS.of(r.ts);
  const method = METHOD.of(r.method);
  const prompt = PROMPT.of(r.prompt_hint, r.prompt_head);
  const key = KEY.of(r.key_label, r.key_hash);
  const endpoint = ENDPOINT.of(r.endpoint);
  const errorCode = ERROR_CODE.of(r.error_code);
  const failover = failoverPiece(r.failover_from);
  const id = r.request_id;
  const bound =
    FIXED +
    ts.length +
    method.length +
    prompt.length +
    key.length +
    endpoint.length +
    errorCode.length +
    failover.length +
    id.length * 6 +
    2 +
    6 * NUMBER_MAX;
  if (bound > encoded.bytes.length) encoded.bytes = Buffer.allocUnsafeSlow(bound);
  const out = encoded.bytes;
  let at = put(out, 0, ts);
  at = put(out, at, K_REQUEST_ID);
  at = putString(out, at, id);
  at = put(out, at, method);
  at = put(out, at, prompt);
  at = put(out, at, key);
  at = put(out, at, endpoint);
  at = put(out, at, K_STATUS);
  at = putNumber(out, at, r.status);
  at = put(out, at, K_LATENCY);
  at = putNumber(out, at, r.latency_ms);
  at = put(out, at, errorCode);
  at = put(out, at, K_ROTATION);
  at = putNumber(out, at, r.rotation_index);
  at = put(out, at, K_SCHEMA);
  at = putNumber(out, at, r.schema_version);
  at = put(out, at, K_TTFB);
  at = putNumber(out, at, r.ttfb_ms);
  at = put(out, at, K_ATTEMPTS);
  at = putNumber(out, at, r.attempts);
  at = put(out, at, failover);
  at = put(out, at, STREAM[r.stream ? 1 : 0]);
  encoded.length = put(out, at, DRY_RUN_END[r.dry_run ? 1 : 0]);
  return encoded;
}

/** The line for one record as text, ending in `\n`. */
export function traceLine(r: TraceRecord): string {
  const line = encodeTraceLine(r);
  return line.bytes.toString('utf8', 0, line.length);
}
