// Real-process helpers for the end-to-end suites: a `kmi proxy --foreground` child, raw HTTP on a socket, RSS, file scans.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { KMI_BIN, type Sandbox } from './kmi.js';

export interface ForegroundProxy {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Base URL the proxy printed, e.g. http://127.0.0.1:PORT/kmi-rotor/v1 */
  readonly url: string;
  readonly port: number;
  stdout(): string;
  stderr(): string;
  /** Send `signal` (default SIGTERM) and wait for the exit; resolves to the exit code (or the signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | NodeJS.Signals | null>;
}

/** Start `kmi proxy --foreground` in the sandbox and wait until it prints its URL. */
export async function startForegroundProxy(
  sb: Pick<Sandbox, 'env' | 'cwd'>,
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<ForegroundProxy> {
  const child = spawn(process.execPath, [KMI_BIN, 'proxy', '--foreground', '--plain'], {
    cwd: sb.cwd,
    env: { ...sb.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal)),
  );
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (Date.now() < deadline) {
    url = /listening at (http:\/\/\S+) with/.exec(out)?.[1];
    if (url !== undefined || child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  if (url === undefined) {
    child.kill('SIGKILL');
    throw new Error(`kmi proxy --foreground did not start:\n${out}\n${err}`);
  }
  const port = Number(new URL(url).port);
  return {
    child,
    pid: child.pid as number,
    url,
    port,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM', waitMs = 15_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export interface RawResponse {
  /** Everything the server sent before closing (or before the timeout). */
  readonly text: string;
  readonly status: number | null;
  /** The body after the blank line (not de-chunked). */
  readonly body: string;
}

/** Write `request` as-is to 127.0.0.1:`port` and collect the answer (for targets fetch() would normalise). */
export function rawHttp(
  port: number,
  request: string | Buffer,
  timeoutMs = 5_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      const split = text.indexOf('\r\n\r\n');
      resolve({
        text,
        status: status === undefined ? null : Number(status),
        body: split < 0 ? '' : text.slice(split + 4),
      });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      done();
    }, timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One response is enough: stop once a Content-Length body is complete.
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, split))?.[1];
      if (
        split >= 0 &&
        length !== undefined &&
        Buffer.byteLength(text.slice(split + 4)) >= Number(length)
      ) {
        socket.destroy();
        done();
      }
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A server that answers and then resets (e.g. after 413/431) still gave us its answer.
      if (chunks.length > 0 || e.code === 'ECONNRESET' || e.code === 'EPIPE') return;
      finished = true;
      clearTimeout(timer);
      reject(e);
    });
    socket.on('close', done);
    socket.write(request);
  });
}

/** VmRSS of a process in KiB (Linux), or null when /proc is not available. */
export async function rssKiB(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export interface FileEntry {
  /** Absolute path. */
  readonly path: string;
  readonly rel: string;
  readonly kind: 'file' | 'dir' | 'link' | 'other';
  /** Permission bits. */
  readonly mode: number;
}

/** Every file and folder under `root` (links not followed), root itself excluded. */
export async function walk(root: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const visit = async (dir: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const path = join(dir, name);
      let info;
      try {
        info = await lstat(path);
      } catch {
        continue; // removed meanwhile
      }
      const kind = info.isSymbolicLink()
        ? 'link'
        : info.isDirectory()
          ? 'dir'
          : info.isFile()
            ? 'file'
            : 'other';
      out.push({ path, rel: relative(root, path), kind, mode: info.mode & 0o777 });
      if (kind === 'dir') await visit(path);
    }
  };
  await visit(root);
  return out;
}

export interface SecretHit {
  readonly where: string;
  /** Masked form of the secret found. */
  readonly secret: string;
}

/** First 4 and last 4 characters: how a found secret is named in a failure message. */
export function maskForReport(secret: string): string {
  return `${secret.slice(0, 4)}…${secret.slice(-4)}`;
}

/** Which `secrets` occur in `text` (named by `where`). */
export function findSecrets(text: string, secrets: readonly string[], where: string): SecretHit[] {
  return secrets.filter((s) => text.includes(s)).map((s) => ({ where, secret: maskForReport(s) }));
}

/** Which `secrets` occur in any file under `root`; `skip(rel, secret)` exempts a file for a secret. */
export async function scanTreeForSecrets(
  root: string,
  secrets: readonly string[],
  skip: (entry: FileEntry, secret: string) => boolean = () => false,
): Promise<SecretHit[]> {
  const hits: SecretHit[] = [];
  for (const entry of await walk(root)) {
    if (entry.kind !== 'file') continue;
    let bytes: Buffer;
    try {
      bytes = await readFile(entry.path);
    } catch {
      continue;
    }
    const text = bytes.toString('latin1');
    for (const secret of secrets) {
      if (skip(entry, secret)) continue;
      if (text.includes(secret)) hits.push({ where: entry.path, secret: maskForReport(secret) });
    }
  }
  return hits;
}
