// TraceRecord: one line of trace.jsonl per proxied request (the Python tool's fields plus kmi's additions).

export const TRACE_SCHEMA_VERSION = 1;

export interface TraceRecord {
  /** `YYYY-MM-DD HH:MM:SS +HHMM` in KMI_TIMEZONE. */
  ts: string;
  /** 32 hex characters, also sent to the client as x-kmi-request-id. */
  request_id: string;
  method: string;
  prompt_hint: string | null;
  prompt_head: string | null;
  key_label: string | null;
  key_hash: string | null;
  /** Path without query, relative to the proxy base path (e.g. `/chat/completions`). */
  endpoint: string;
  status: number;
  /** Whole request, including the streamed body. */
  latency_ms: number;
  error_code: string | null;
  rotation_index: number;
  schema_version: number;
  ttfb_ms: number | null;
  attempts: number;
  failover_from: string[];
  stream: boolean;
  dry_run: boolean;
}

/**
 * What the proxy hands to the trace sink. `promptBody` is the raw request body (already buffered
 * for failover); the sink extracts prompt_hint/prompt_head from it later, off the request path.
 */
export interface TraceEntry {
  readonly record: Omit<TraceRecord, 'ts' | 'prompt_hint' | 'prompt_head' | 'schema_version'>;
  readonly atMs: number;
  readonly promptBody: Buffer | null;
}

export interface TraceSink {
  /** Queue one entry; never blocks, never throws. */
  record(entry: TraceEntry): void;
  /** Recent records kept in memory (newest last), for admin endpoints and the dashboard. */
  recent(limit?: number): readonly TraceRecord[];
  /** Subscribe to records as they are finalised; returns an unsubscribe. */
  subscribe(listener: (record: TraceRecord) => void): () => void;
  flush(): Promise<void>;
  close(): Promise<void>;
}
