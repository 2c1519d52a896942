// A real redis-server for tests: free loopback port, temp dir, no persistence; tests skip (with a note) when it is not installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './kmi.js';

function findRedisServer(): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? 'redis-server' : null;
}

export const REDIS_SERVER = findRedisServer();
/** Use as `describe.skipIf(!HAS_REDIS)`. */
export const HAS_REDIS = REDIS_SERVER !== null;
if (!HAS_REDIS) {
  process.stderr.write(
    'note: redis-server is not installed; the Redis backend tests are skipped (.ci/run installs it)\n',
  );
}

export interface RedisServer {
  readonly port: number;
  /** redis://[:password@]127.0.0.1:port/0 */
  readonly url: string;
  readonly password: string | null;
  /** SIGKILL the server (data is gone: no persistence). */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  restart(): Promise<void>;
  /** Stop it and remove its folder. */
  stop(): Promise<void>;
}

/** One RESP command over a raw socket (the tests must not trust the code under test to talk to Redis). */
export function rawCommand(
  port: number,
  args: readonly string[],
  password: string | null = null,
): Promise<string> {
  const encode = (a: readonly string[]) =>
    `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    const expected = password === null ? 1 : 2;
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      data += chunk;
      // Enough for simple replies: count complete top-level lines of the last reply.
      const replies = data.split('\r\n').filter((l) => /^[+\-:$*]/.test(l)).length;
      if (replies >= expected) {
        socket.end();
        resolve(password === null ? data : data.slice(data.indexOf('\r\n') + 2));
      }
    });
    socket.on('connect', () => {
      if (password !== null) socket.write(encode(['AUTH', password]));
      socket.write(encode(args));
    });
    socket.setTimeout(2000, () => {
      socket.destroy();
      reject(new Error('redis did not answer'));
    });
  });
}

async function waitReady(port: number, password: string | null, child: ChildProcess) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    try {
      if ((await rawCommand(port, ['PING'], password)).includes('PONG')) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start redis-server on a free loopback port in a temp dir. */
export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  if (REDIS_SERVER === null) throw new Error('redis-server is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'kmi-redis-'));
  const password = options.password ?? null;
  let port = 0;
  let child: ChildProcess | null = null;
  let log = '';

  const launch = async (fixedPort: number | null) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const p = fixedPort ?? (await freePort());
      const args = [
        '--port',
        String(p),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--logfile',
        '',
        '--daemonize',
        'no',
      ];
      if (password !== null) args.push('--requirepass', password);
      const c = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout?.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
      c.stderr?.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
      try {
        await waitReady(p, password, c);
        port = p;
        child = c;
        return;
      } catch (err) {
        c.kill('SIGKILL');
        if (fixedPort !== null && attempt === 4) throw new Error(`${String(err)}\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    throw new Error(`could not start redis-server\n${log}`);
  };

  const kill = async () => {
    const c = child;
    child = null;
    if (c === null || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };

  await launch(null);
  const auth = password === null ? '' : `:${encodeURIComponent(password)}@`;
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}/0`,
    password,
    kill,
    restart: () => launch(port),
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
