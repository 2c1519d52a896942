// One trace.jsonl line from a TraceRecord: JSON in the record's field order, newline included, built without JSON.stringify of the whole record.
import type { TraceRecord } from './record.js';

// Printable ASCII except `"` and `\`: such strings need no escaping.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string literal; non-ASCII text stays as it is (UTF-8 in the file, readable with tail). */
export function jsonString(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

function str(value: string | null): string {
  return value === null ? 'null' : jsonString(value);
}

// Hints, labels, key hashes, methods and the second-resolution ts repeat from line to line (the
// same string objects, so their hashes are cached): their literals are kept rather than rebuilt.
const literals = new Map<string, string>();
const LITERALS_MAX = 512;

function repeated(value: string | null): string {
  if (value === null) return 'null';
  let literal = literals.get(value);
  if (literal === undefined) {
    literal = jsonString(value);
    if (literals.size >= LITERALS_MAX) literals.clear();
    literals.set(value, literal);
  }
  return literal;
}

function num(value: number | null): string {
  return value === null || !Number.isFinite(value) ? 'null' : String(value);
}

function labels(values: readonly string[]): string {
  if (values.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    out += jsonString(values[i] as string);
  }
  return `${out}]`;
}

/**
 * The line for one record, ending in `\n` so the file writer appends it without another copy.
 * Strings that repeat from line to line (hints, labels, hashes, the ts of this second) reuse their
 * literals. Parses to the same object as the record.
 */
export function traceLine(r: TraceRecord): string {
  return (
    `{"ts":${repeated(r.ts)},"request_id":${str(r.request_id)},"method":${repeated(r.method)}` +
    `,"prompt_hint":${repeated(r.prompt_hint)},"prompt_head":${repeated(r.prompt_head)}` +
    `,"key_label":${repeated(r.key_label)},"key_hash":${repeated(r.key_hash)},"endpoint":${str(r.endpoint)}` +
    `,"status":${num(r.status)},"latency_ms":${num(r.latency_ms)},"error_code":${str(r.error_code)}` +
    `,"rotation_index":${num(r.rotation_index)},"schema_version":${num(r.schema_version)}` +
    `,"ttfb_ms":${num(r.ttfb_ms)},"attempts":${num(r.attempts)},"failover_from":${labels(r.failover_from)}` +
    `,"stream":${r.stream ? 'true' : 'false'},"dry_run":${r.dry_run ? 'true' : 'false'}}\n`
  );
}
