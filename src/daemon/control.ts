// Start, find and stop the background proxy: pid file + health endpoint, never a process we cannot verify.
import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { KmiError } from '../errors.js';
import { ensureSecureDir } from '../files/secure.js';
import { isAlive, pidFilePath, readPidFile, removePidFile, writePidFile } from './pidfile.js';
import { portOwnerPid } from './port-owner.js';
import { probeProxy } from './probe.js';

/**
 * A 4 MiB semi-space: a small young generation, at a small cost in scavenges. A 1 GiB old-space
 * ceiling, far above the ~11 MiB the proxy keeps live: below 2 GiB V8 lets the old space grow by at
 * most 1.6× between full GCs instead of up to 4×, which some runs hit under load (RSS 100+ MiB
 * instead of ~78). Every supported Node documents both flags; the daemon falls back to these alone
 * if Node rejects the others.
 */
const PORTABLE_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=4',
  '--max-old-space-size=1024',
];

/**
 * V8 flags for the long-running proxy, which keep its RSS under the 80 MiB goal after load (see
 * BENCHMARKS.md). The benchmark starts its proxy with the same flags. Besides the portable ones,
 * JavaScript is optimised on the main thread, and undici's HTTP parser (WebAssembly) stays on the
 * baseline compiler: optimising on V8's worker threads left ~10 MiB of their malloc arenas
 * resident for good; both only change how the first seconds of warm-up are spent.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = [
  ...PORTABLE_NODE_FLAGS,
  '--no-concurrent-recompilation',
  '--liftoff-only',
];

/** Node's exit code for an option it does not know ("bad option"). */
const NODE_BAD_OPTION_EXIT = 9;

export function daemonLogPath(config: Pick<Config, 'stateDir'>): string {
  return join(config.stateDir, 'logs', 'proxy.out');
}

export type PortHolder =
  | { readonly kind: 'none' }
  | { readonly kind: 'kmi'; readonly pid: number | null }
  | { readonly kind: 'other'; readonly pid: number | null };

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({
      host: host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host,
      port,
    });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(800, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Who holds the proxy's port: a kmi proxy (with its pid), another program, or nobody. */
export async function portHolder(config: Config): Promise<PortHolder> {
  const probe = await probeProxy(config);
  if (probe.body !== null && probe.body.service === 'kmi') {
    const pid = typeof probe.body.pid === 'number' ? probe.body.pid : null;
    return { kind: 'kmi', pid };
  }
  if (!(await portOpen(config.proxyListen.host, config.proxyListen.port))) return { kind: 'none' };
  return { kind: 'other', pid: await portOwnerPid(config.proxyListen.port) };
}

/** Command line of a pid (Linux), or '' when unknown. */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function looksLikeDaemon(pid: number): boolean {
  const cmd = commandLine(pid);
  return cmd.includes('proxy') && cmd.includes('--foreground');
}

export interface DaemonStatus {
  readonly pid: number | null;
  /** A kmi proxy answers on the configured address. */
  readonly answering: boolean;
  /** The pid file pointed at a dead process or a pid reused by another program; it was removed. */
  readonly staleRemoved: boolean;
}

/** Read the pid file, check it against the live process and the health endpoint, and clean it if stale. */
export async function daemonStatus(config: Config): Promise<DaemonStatus> {
  const path = pidFilePath(config.stateDir);
  const filePid = await readPidFile(path);
  const holder = await portHolder(config);
  const answering = holder.kind === 'kmi';
  if (filePid === null)
    return { pid: answering ? holder.pid : null, answering, staleRemoved: false };
  const ours = answering && holder.pid === filePid;
  if (ours || (isAlive(filePid) && looksLikeDaemon(filePid))) {
    return { pid: filePid, answering, staleRemoved: false };
  }
  await removePidFile(path);
  return { pid: answering ? holder.pid : null, answering, staleRemoved: true };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

export interface StopResult {
  readonly stopped: boolean;
  readonly pid: number | null;
  readonly forced: boolean;
  readonly staleRemoved: boolean;
}

/**
 * Stop the kmi proxy: SIGTERM (it drains in-flight requests for up to 10 s), then SIGKILL after
 * `graceMs`. Only a pid verified by the health endpoint (or, with `force`, by the pid file and its
 * command line) is signalled.
 */
export async function stopDaemon(
  config: Config,
  options: { force?: boolean; graceMs?: number } = {},
): Promise<StopResult> {
  const status = await daemonStatus(config);
  const holder = await portHolder(config);
  let pid: number | null = holder.kind === 'kmi' ? holder.pid : null;
  if (pid === null && options.force === true && status.pid !== null && looksLikeDaemon(status.pid))
    pid = status.pid;
  if (pid === null || !isAlive(pid)) {
    return { stopped: false, pid: null, forced: false, staleRemoved: status.staleRemoved };
  }
  process.kill(pid, 'SIGTERM');
  let forced = false;
  if (!(await waitForExit(pid, options.graceMs ?? 12_000))) {
    process.kill(pid, 'SIGKILL');
    forced = true;
    await waitForExit(pid, 3_000);
  }
  const path = pidFilePath(config.stateDir);
  if ((await readPidFile(path)) === pid) await removePidFile(path);
  return { stopped: true, pid, forced, staleRemoved: status.staleRemoved };
}

/**
 * proxy.out is the daemon's stdout, so it cannot be renamed under a running process without losing
 * lines; it is rotated like kmi.log (KMI_LOG_MAX_MB, KMI_LOG_BACKUPS) each time a daemon starts.
 */
export async function rotateDaemonLog(
  path: string,
  maxBytes: number,
  backups: number,
): Promise<boolean> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return false;
  }
  if (size < maxBytes) return false;
  if (backups === 0) {
    await rm(path, { force: true });
    return true;
  }
  for (let i = backups - 1; i >= 1; i--) {
    await rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
  }
  await rename(path, `${path}.1`);
  return true;
}

async function lastLines(path: string, n: number): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-n)
      .join('\n');
  } catch {
    return '';
  }
}

export interface StartResult {
  readonly pid: number;
  readonly replaced: number | null;
  readonly logPath: string;
}

/**
 * Start the proxy detached (`kmi proxy --foreground --daemon-child`, output to proxy.out), replacing
 * a kmi proxy already on the port, refusing when another program holds it, and waiting until the
 * health endpoint answers with the new pid.
 */
export async function startDaemon(
  config: Config,
  options: {
    binPath: string;
    timeoutMs?: number;
    /** Node flags for the proxy process (default DAEMON_NODE_FLAGS). */
    nodeFlags?: readonly string[];
    /** The proxy's environment, under the .env values (default process.env). */
    env?: NodeJS.ProcessEnv;
  },
): Promise<StartResult> {
  await daemonStatus(config);
  const holder = await portHolder(config);
  let replaced: number | null = null;
  if (holder.kind === 'other') {
    throw new KmiError('KMI_E_PORT_IN_USE', 'daemon.portHeld', {
      port: config.proxyListen.port,
      pid: holder.pid === null ? '?' : holder.pid,
    });
  }
  if (holder.kind === 'kmi') {
    const stopped = await stopDaemon(config);
    replaced = stopped.pid;
  }

  const logPath = daemonLogPath(config);
  await ensureSecureDir(join(config.stateDir, 'logs'), config.enforceFilePerms);
  await ensureSecureDir(config.stateDir, config.enforceFilePerms);
  await rotateDaemonLog(logPath, config.logMaxBytes, config.logBackups);
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  const flags = options.nodeFlags ?? DAEMON_NODE_FLAGS;
  const launch = { binPath: options.binPath, env: options.env ?? process.env, logPath, deadline };
  let launched = await launchDaemon(config, flags, launch);
  // A Node whose V8 no longer knows one of the tuning flags refuses to start: run without them.
  if (launched.kind === 'exited' && launched.code === NODE_BAD_OPTION_EXIT) {
    launched = await launchDaemon(config, PORTABLE_NODE_FLAGS, launch);
  }
  if (launched.kind === 'ready') return { pid: launched.pid, replaced, logPath };
  const exited = launched.kind === 'exited';
  throw new KmiError('KMI_E_PROXY_START', exited ? 'daemon.exitedEarly' : 'daemon.startTimeout', {
    log: logPath,
    lines: await lastLines(logPath, 15),
  });
}

type Launch =
  | { readonly kind: 'ready'; readonly pid: number }
  | { readonly kind: 'exited'; readonly code: number | null }
  | { readonly kind: 'timeout' };

/** Spawn the detached proxy with `flags` and wait (until `deadline`) for its health endpoint to answer with its pid. */
async function launchDaemon(
  config: Config,
  flags: readonly string[],
  launch: {
    readonly binPath: string;
    readonly env: NodeJS.ProcessEnv;
    readonly logPath: string;
    readonly deadline: number;
  },
): Promise<Launch> {
  const { binPath, logPath, deadline } = launch;
  const fd = openSync(logPath, 'a', config.enforceFilePerms ? 0o600 : 0o644);
  let child;
  try {
    child = spawn(
      process.execPath,
      [...flags, binPath, 'proxy', '--foreground', '--daemon-child'],
      {
        detached: true,
        stdio: ['ignore', fd, fd],
        // The .env values reach the daemon (and no other child process).
        env: { ...config.envFileValues, ...launch.env },
      },
    );
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined)
    throw new KmiError('KMI_E_PROXY_START', 'daemon.spawnFailed', { log: logPath, lines: '' });
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  child.unref();

  while (Date.now() < deadline && exitCode === undefined) {
    const probe = await probeProxy(config, '_kmi/health', 500);
    if (probe.running && probe.body?.pid === pid) {
      // The child writes it too, but it may answer health a moment before its write lands.
      await writePidFile(pidFilePath(config.stateDir), pid, config.enforceFilePerms);
      return { kind: 'ready', pid };
    }
    await sleep(150);
  }
  if (exitCode !== undefined) return { kind: 'exited', code: exitCode };
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  return { kind: 'timeout' };
}
