// Shared by the dashboard tests: a proxy with a real in-memory trace ring, a capturing logger and a feed reader.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogFields, Logger } from '../src/log/types.js';
import type { State } from '../src/state/schema.js';
import type { TraceRecord, TraceSink } from '../src/trace/record.js';
import { createTraceWriter, type TraceWriter } from '../src/trace/writer.js';
import { startHarness, type Harness, type HarnessOptions } from './helpers/proxy-harness.js';

export interface LogLine {
  readonly level: string;
  readonly event: string;
  readonly fields: LogFields;
}

export class CapturingLogger implements Logger {
  readonly lines: LogLine[] = [];
  private add(level: string, event: string, fields: LogFields = {}): void {
    this.lines.push({ level, event, fields });
  }
  debug(event: string, fields?: LogFields): void {
    this.add('debug', event, fields);
  }
  info(event: string, fields?: LogFields): void {
    this.add('info', event, fields);
  }
  warn(event: string, fields?: LogFields): void {
    this.add('warn', event, fields);
  }
  error(event: string, fields?: LogFields): void {
    this.add('error', event, fields);
  }
  audit(event: string, fields?: LogFields): void {
    this.add('audit', event, fields);
  }
  audits(): LogLine[] {
    return this.lines.filter((l) => l.level === 'audit');
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** The real trace writer, counting live subscriptions (the dashboard must drop its own when nobody watches). */
export class CountingTrace implements TraceSink {
  subscribers = 0;
  constructor(readonly writer: TraceWriter) {}
  record: TraceSink['record'] = (entry) => this.writer.record(entry);
  recent(limit?: number): readonly TraceRecord[] {
    return this.writer.recent(limit);
  }
  subscribe(listener: (record: TraceRecord) => void): () => void {
    this.subscribers++;
    const off = this.writer.subscribe(listener);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.subscribers--;
      off();
    };
  }
  flush(): Promise<void> {
    return this.writer.flush();
  }
  close(): Promise<void> {
    return this.writer.close();
  }
}

export interface DashboardHarness extends Harness {
  readonly logger: CapturingLogger;
  readonly ring: CountingTrace;
  /** state.json as it is on disk now. */
  stateOnDisk(): Promise<State>;
}

export async function startDashboard(options: HarnessOptions = {}): Promise<DashboardHarness> {
  const traceDir = await mkdtemp(join(tmpdir(), 'kmi-dash-trace-'));
  const writer = createTraceWriter({
    dir: traceDir,
    maxBytes: 1 << 20,
    backups: 1,
    enforcePerms: false,
    timezone: 'UTC',
    tracePrompts: false,
  });
  const ring = new CountingTrace(writer);
  const logger = new CapturingLogger();
  const h = await startHarness({
    ...options,
    env: { KMI_AUDIT_ACTOR: 'dash-tester', ...options.env },
    proxy: { trace: ring, logger, ...options.proxy },
  });
  return {
    ...h,
    logger,
    ring,
    stateOnDisk: async () =>
      JSON.parse(await readFile(join(h.config.stateDir, 'state.json'), 'utf8')) as State,
    close: async () => {
      await h.close();
      await writer.close();
      await rm(traceDir, { recursive: true, force: true });
    },
  };
}

/** A state with auto-rotate on and `blocked` keys blocked for a bad key (401). */
export function stateWithBlocked(blocked: readonly string[], autoRotate = true): State {
  const keys: State['keys'] = {};
  for (const label of blocked) {
    keys[label] = {
      last_used: null,
      request_count: 3,
      error_401: 1,
      error_403: 0,
      error_429: 0,
      error_5xx: 0,
      exhausted_until: null,
      blocked_until: null,
      blocked_reason: 'auth',
      blocked_at: '2026-01-01T00:00:00Z',
    };
  }
  return {
    schema_version: 1,
    active_index: 0,
    rotation_index: 0,
    auto_rotate: autoRotate,
    last_health_refresh: null,
    keys,
  };
}

export interface FeedEvent {
  readonly event: string;
  readonly data: any;
}

/** Reads a `text/event-stream` body event by event. */
export class FeedReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();
  readonly events: FeedEvent[] = [];
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Read until `done(events)` says so or the time is up. */
  async until(done: (events: readonly FeedEvent[]) => boolean, timeoutMs = 8000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`feed: condition not met; saw ${this.describe()}`);
      const next = await Promise.race([
        this.reader.read(),
        new Promise<null>((r) => setTimeout(() => r(null), left).unref()),
      ]);
      if (next === null) continue;
      if (next.done) throw new Error(`feed ended; saw ${this.describe()}`);
      this.buffer += this.decoder.decode(next.value, { stream: true });
      let end = this.buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data !== undefined) this.events.push({ event, data: JSON.parse(data) });
        end = this.buffer.indexOf('\n\n');
      }
    }
  }

  records(): any[] {
    return this.events.filter((e) => e.event === 'requests').flatMap((e) => e.data.records);
  }

  private describe(): string {
    return this.events.map((e) => e.event).join(',') || 'nothing';
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}
