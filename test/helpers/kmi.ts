// Spawn the built `kmi` binary in a sandbox: temp HOME, temp _auths/, temp KMI_STATE_DIR; never the real ~/.kimi or ~/.kmi.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const KMI_BIN = join(REPO_ROOT, 'dist', 'bin.js');

export interface Sandbox {
  readonly root: string;
  readonly home: string;
  readonly cwd: string;
  readonly authsDir: string;
  readonly stateDir: string;
  /** Environment for the spawned kmi: only what a clean machine has plus the sandbox paths. */
  readonly env: Record<string, string>;
  /** Write an auth file into the sandbox's _auths/. */
  writeAuth(name: string, content: string): Promise<string>;
  /** Write state.json in the Python tool's shape: `fields` over empty defaults (folder 0700, file 0600). */
  writeState(fields: Record<string, unknown>): Promise<string>;
  cleanup(): Promise<void>;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Every secret handed to kmi in any test; scanned for in outputs by the leak test helpers. */
export const usedSecrets = new Set<string>();

export async function makeSandbox(extraEnv: Record<string, string> = {}): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'kmi-test-'));
  const home = join(root, 'home');
  const cwd = join(root, 'work');
  const authsDir = join(cwd, '_auths');
  const stateDir = join(root, 'state');
  await mkdir(home, { recursive: true });
  await mkdir(authsDir, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    USER: 'tester',
    LANG: 'C.UTF-8',
    KMI_AUTHS_DIR: authsDir,
    KMI_STATE_DIR: stateDir,
    KMI_TIMEZONE: 'UTC',
    ...extraEnv,
  };
  return {
    root,
    home,
    cwd,
    authsDir,
    stateDir,
    env,
    writeAuth: async (name, content) => {
      const path = join(authsDir, name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
      for (const m of content.matchAll(/sk-[A-Za-z0-9_-]{8,}/g)) usedSecrets.add(m[0]);
      return path;
    },
    writeState: async (fields) => {
      const path = join(stateDir, 'state.json');
      await mkdir(stateDir, { recursive: true, mode: 0o700 });
      const state = {
        schema_version: 1,
        active_index: 0,
        rotation_index: 0,
        auto_rotate: false,
        last_health_refresh: null,
        keys: {},
        ...fields,
      };
      await writeFile(path, JSON.stringify(state), { mode: 0o600 });
      return path;
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** Run `kmi args…` in the sandbox and collect its output. */
export function runKmi(
  sandbox: Pick<Sandbox, 'env' | 'cwd'>,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string; timeoutMs?: number; bin?: string } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [options.bin ?? KMI_BIN, ...args], {
      cwd: sandbox.cwd,
      env: { ...sandbox.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Every spawned command is held to the no-leak rule: no key handed to a test may appear in full.
      const leaked = [...usedSecrets].find(
        (secret) => stdout.includes(secret) || stderr.includes(secret),
      );
      if (leaked !== undefined) {
        reject(
          new Error(
            `kmi ${args.join(' ')} printed a full key (${leaked.slice(0, 4)}…${leaked.slice(-4)})`,
          ),
        );
        return;
      }
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A realistic fake key (sk- + 40 chars) unique per call. */
export function fakeKey(tag: string): string {
  const body = `${tag}${Math.random().toString(36).slice(2)}${'x'.repeat(40)}`
    .replace(/[^A-Za-z0-9]/g, 'q')
    .slice(0, 40);
  const key = `sk-${body}`;
  usedSecrets.add(key);
  return key;
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
