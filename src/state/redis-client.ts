// RedisLink: one Redis connection shared by the state store and the coordination — fails fast while Redis is away, reports outages once, and runs resync hooks when it returns.
import { createHash, randomBytes } from 'node:crypto';

/** Connection events; the URL in `location` never carries the password. */
export type RedisLinkEvent =
  | { readonly kind: 'backend-down'; readonly location: string; readonly reason: string }
  | { readonly kind: 'backend-up'; readonly location: string };

export interface RedisLinkOptions {
  /** redis:// or rediss:// URL, possibly with a password. */
  readonly url: string;
  /** How long the first connection may take before Redis counts as unreachable (default 2000 ms). */
  readonly connectTimeoutMs?: number;
  /** Default per-command timeout (default 2000 ms); a timed-out command counts as an outage. */
  readonly commandTimeoutMs?: number;
  readonly onEvent?: (event: RedisLinkEvent) => void;
}

/** The URL with the password (and only the password) replaced by `***`; unparseable input becomes `redis://…`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'redis://…';
  }
}

/** A Lua script with its SHA1, sent by EVALSHA and re-sent by EVAL when Redis lost its script cache. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

export function lua(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** The slice of the node-redis client used here (its full generic type is not needed). */
interface RawClient {
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: readonly string[], options?: { timeout?: number }): Promise<unknown>;
  destroy(): void;
  close(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

type Hook = () => Promise<void> | void;

/** Reconnect quickly at first, then every second at most (with jitter so proxies do not stampede). */
function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** retries, 1000) + Math.floor(Math.random() * 50);
}

export class RedisLink {
  readonly location: string;
  /** Unique per connection: members of rate-limit windows are `<id>:<seq>`. */
  readonly id = randomBytes(6).toString('hex');
  private readonly url: string;
  private readonly secrets: readonly string[];
  private readonly commandTimeoutMs: number;
  private readonly onEvent: ((event: RedisLinkEvent) => void) | undefined;
  private client: RawClient | null = null;
  private errorReply: (new (...args: never[]) => Error) | null = null;
  private up = false;
  private everUp = false;
  private downSince: number | null = null;
  private downReason: string | null = null;
  private reported = false;
  private closed = false;
  private readonly hooks: Hook[] = [];
  private hooksRunning: Promise<void> | null = null;
  private probeTimer: NodeJS.Timeout | null = null;

  private constructor(options: RedisLinkOptions) {
    this.url = options.url;
    this.location = redactUrl(options.url);
    this.secrets = passwordForms(options.url);
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2000;
    this.onEvent = options.onEvent;
  }

  /**
   * Connect. Never throws for an unreachable Redis: `error` is set instead and the link keeps
   * reconnecting in the background (call close() to stop it).
   */
  static async open(options: RedisLinkOptions): Promise<{ link: RedisLink; error: string | null }> {
    const link = new RedisLink(options);
    const error = await link.start(options.connectTimeoutMs ?? 2000);
    return { link, error };
  }

  /** True while commands can be sent. */
  get available(): boolean {
    return this.up && !this.closed;
  }

  /** When the current outage started (ms) and why; null while connected. */
  get outage(): { readonly sinceMs: number; readonly reason: string } | null {
    return this.downSince === null
      ? null
      : { sinceMs: this.downSince, reason: this.downReason ?? 'unavailable' };
  }

  /** Run `hook` each time Redis comes back after an outage (hooks run in registration order). */
  onReconnect(hook: Hook): () => void {
    this.hooks.push(hook);
    return () => {
      const i = this.hooks.indexOf(hook);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** Wait for resync hooks in progress (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.hooksRunning !== null) await this.hooksRunning;
  }

  /** Send one command; a connection failure or timeout marks the link down and rethrows. */
  async command(args: readonly string[], timeoutMs = this.commandTimeoutMs): Promise<unknown> {
    const client = this.client;
    if (client === null || this.closed) throw new Error('redis link closed');
    try {
      const reply = await client.sendCommand(args, { timeout: timeoutMs });
      if (!this.up && client.isReady) this.markUp();
      return reply;
    } catch (err) {
      if (!this.isReply(err)) this.markDown(err);
      throw err;
    }
  }

  /** EVALSHA, falling back to EVAL when Redis does not know the script (e.g. after a restart). */
  async script(
    script: LuaScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    timeoutMs = this.commandTimeoutMs,
  ): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.command(['EVALSHA', script.sha, ...tail], timeoutMs);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.command(['EVAL', script.source, ...tail], timeoutMs);
    }
  }

  /** A one-line reason without the password, for messages and logs. */
  describe(err: unknown): string {
    const text = err instanceof Error ? err.message || err.name : String(err);
    let clean = text;
    for (const secret of this.secrets) clean = clean.split(secret).join('***');
    return clean.replace(/\s+/g, ' ').trim().slice(0, 200) || 'error';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopProbe();
    const client = this.client;
    if (client === null) return;
    if (client.isReady) {
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 1000).unref());
      const done = await Promise.race([client.close().then(() => 'closed' as const), timer]).catch(
        () => 'failed' as const,
      );
      if (done !== 'closed') client.destroy();
    } else {
      client.destroy();
    }
  }

  private async start(connectTimeoutMs: number): Promise<string | null> {
    const mod = await import('@redis/client');
    this.errorReply = mod.ErrorReply as unknown as new (...args: never[]) => Error;
    const client = mod.createClient({
      url: this.url,
      RESP: 2,
      // Fail at once while reconnecting, so the proxy falls back to its local view instead of waiting.
      disableOfflineQueue: true,
      socket: { connectTimeout: connectTimeoutMs, reconnectStrategy: reconnectDelay },
    }) as unknown as RawClient;
    this.client = client;
    client.on('error', (err: unknown) => this.markDown(err));
    client.on('ready', () => this.markUp());
    return new Promise<string | null>((resolve) => {
      let settled = false;
      const finish = (error: string | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(error);
      };
      const timer = setTimeout(
        () => finish(this.downReason ?? `no answer within ${connectTimeoutMs} ms`),
        connectTimeoutMs + 250,
      );
      client.on('ready', () => finish(null));
      // The first failed attempt is enough to call it unreachable; reconnecting goes on regardless.
      client.on('error', (err: unknown) => finish(this.describe(err)));
      // The socket stays referenced: an unreferenced one would let Node exit while a command
      // waits for its answer. Whoever opens a link closes it (the CLI context does).
      client.connect().then(
        () => finish(null),
        (err: unknown) => finish(this.describe(err)),
      );
    });
  }

  /** True for an error answer from Redis (as opposed to a connection failure or timeout). */
  isReply(err: unknown): boolean {
    return this.errorReply !== null && err instanceof this.errorReply;
  }

  private markDown(err: unknown): void {
    if (this.closed) return;
    const reason = this.describe(err);
    if (this.up || this.downSince === null) {
      this.downSince = Date.now();
      this.downReason = reason;
    }
    this.up = false;
    // Report once per outage, and only for a link that was ever connected (startup failures are
    // reported by whoever opened the link).
    if (this.everUp && !this.reported) {
      this.reported = true;
      this.emit({ kind: 'backend-down', location: this.location, reason });
    }
    this.startProbe();
  }

  private markUp(): void {
    if (this.closed || this.up) return;
    // Back after an outage — or after a start that failed (fail-open): resync either way.
    const wasDown = this.everUp || this.downSince !== null;
    this.up = true;
    this.everUp = true;
    this.downSince = null;
    this.downReason = null;
    this.stopProbe();
    if (!wasDown) return;
    this.reported = false;
    const run = async (): Promise<void> => {
      for (const hook of [...this.hooks]) {
        try {
          await hook();
        } catch {
          // A failing resync is retried by the next reconnect or write; it must not stop the others.
        }
      }
    };
    const previous = this.hooksRunning ?? Promise.resolve();
    const running: Promise<void> = previous.then(run).finally(() => {
      if (this.hooksRunning === running) this.hooksRunning = null;
    });
    this.hooksRunning = running;
    void running.then(() => this.emit({ kind: 'backend-up', location: this.location }));
  }

  /** While down with a socket that still looks connected (a hung server), PING until it answers. */
  private startProbe(): void {
    if (this.probeTimer !== null || this.closed) return;
    this.probeTimer = setInterval(() => {
      const client = this.client;
      if (client === null || !client.isReady || this.up) return;
      client.sendCommand(['PING'], { timeout: 500 }).then(
        () => this.markUp(),
        () => undefined,
      );
    }, 500);
    this.probeTimer.unref();
  }

  private stopProbe(): void {
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  private emit(event: RedisLinkEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // Reporting must not break the connection handling.
    }
  }
}

/** The password as written in the URL and decoded, longest first (empty when there is none). */
function passwordForms(url: string): string[] {
  try {
    const raw = new URL(url).password;
    if (raw === '') return [];
    let decoded = raw;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      // keep the raw form only
    }
    return [...new Set([raw, decoded])].sort((a, b) => b.length - a.length);
  } catch {
    return [];
  }
}
