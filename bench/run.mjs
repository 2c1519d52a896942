// kmi benchmark: the same load sent straight to a fake upstream and through the kmi proxy, side by side.
//
// Three processes so nothing shares an event loop: this one (load generator), bench/upstream-child.mjs
// (the fake Kimi upstream) and bench/proxy-child.mjs (the compiled proxy from dist/).
//
//   npm run bench                  build, then run everything and print a markdown table
//   node bench/run.mjs --write     also put the table into BENCHMARKS.md
//   node bench/run.mjs --quick     smaller counts and shorter runs (smoke test)
//   node bench/run.mjs --direct-only   only the direct column (when the proxy is not built)
//   node bench/run.mjs --no-trace  run the proxy without the trace writer (to see what tracing costs)
//   node bench/run.mjs --pinned    also run the c=64 rounds through kmi with the proxy alone on one CPU
//                                  and this load generator plus the fake upstream on another (taskset),
//                                  an informational row: what the proxy does when no other process
//                                  is scheduled onto its core
//   node bench/run.mjs --redis     only the Redis-backend comparison: sequential p50 through kmi with
//                                  the file store vs KMI_STATE_URL on a local redis-server (skipped
//                                  with a note when redis-server is not installed)
//   BENCH_DIST=/path/to/dist node bench/run.mjs   measure another build
//   BENCH_PROXY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node bench/run.mjs   profile the proxy
import { fork, spawn, spawnSync } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { midStreamAborts, sequentialLatency, sseTtfb, stillAnswers, throughput } from './load.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
// BENCH_DIST points at another build (e.g. an older checkout's dist/) to compare versions.
const DIST = process.env.BENCH_DIST ? resolve(process.env.BENCH_DIST) : join(ROOT, 'dist');
const BENCHMARKS_MD = join(ROOT, 'BENCHMARKS.md');
const START_MARK = '<!-- bench:results:start -->';
const END_MARK = '<!-- bench:results:end -->';

const argv = new Set(process.argv.slice(2));
const WRITE = argv.has('--write');
const QUICK = argv.has('--quick');
const DIRECT_ONLY = argv.has('--direct-only');
const NO_TRACE = argv.has('--no-trace');
const REDIS = argv.has('--redis');
const PINNED = argv.has('--pinned');
for (const a of argv) {
  if (!['--write', '--quick', '--direct-only', '--no-trace', '--redis', '--pinned'].includes(a)) {
    console.error(
      `bench: unknown option ${a} (use --write, --quick, --direct-only, --no-trace, --redis, --pinned)`,
    );
    process.exit(2);
  }
}

const SIZE = QUICK
  ? {
      seq: 300,
      seqWarm: 300,
      durMs: 1000,
      rounds: 1,
      sse: 100,
      sseWarm: 20,
      aborts: 100,
      abortConc: 20,
    }
  : {
      seq: 2000,
      seqWarm: 3000,
      durMs: 5000,
      rounds: 3,
      sse: 500,
      sseWarm: 50,
      aborts: 1000,
      abortConc: 50,
    };

const TARGETS = {
  throughputRatio: 0.4,
  addedP50Ms: 0.3,
  addedTtfbMs: 0.5,
  rssMiB: 80,
  leftInFlight: 0,
};

const log = (msg) => process.stderr.write(`${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

/** Fork a child and talk to it with {id, type} messages. */
function spawnChild(file, env, execArgv = []) {
  const child = fork(join(HERE, file), [], {
    env: { ...process.env, ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 1;
  const waiting = new Map();
  let readyResolve;
  let readyReject;
  const ready = new Promise((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  child.on('message', (msg) => {
    if (msg?.type === 'ready') readyResolve(msg);
    else if (msg?.type === 'error') readyReject(new Error(msg.message));
    else if (msg?.id !== undefined && waiting.has(msg.id)) {
      waiting.get(msg.id)(msg);
      waiting.delete(msg.id);
    }
  });
  // EPIPE when a message races the child's exit: the exit handler below settles everything.
  child.on('error', () => {});
  child.on('exit', (code, signal) => {
    readyReject(new Error(`${file} exited early (code ${code}, signal ${signal})`));
    for (const resolveCall of waiting.values()) resolveCall({ type: 'exited' });
    waiting.clear();
  });
  const call = (type, timeoutMs = 10_000) =>
    new Promise((res) => {
      if (!child.connected) return res({ type: 'exited' });
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        res({ type: 'timeout' });
      }, timeoutMs);
      waiting.set(id, (msg) => {
        clearTimeout(timer);
        res(msg);
      });
      child.send({ id, type });
    });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    if (child.connected) await call('close', 15_000);
    await Promise.race([exited, sleep(3000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return { child, ready, call, stop };
}

/** Poll the upstream until no request is in flight (or `maxMs` passes), after at least `minMs`. */
async function settledUpstreamStats(upstream, minMs, maxMs) {
  await sleep(minMs);
  const end = Date.now() + maxMs - minMs;
  let s = await upstream.call('stats');
  while (s.inFlight > 0 && Date.now() < end) {
    await sleep(100);
    s = await upstream.call('stats');
  }
  return s;
}

/** CPU time (user + system, ms) a process has used so far; null where /proc is not there. */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100;

/** One closed-loop throughput run, with the CPU time per request of the process that serves it. */
async function throughputRun({ name, target, pid }, c) {
  log(`[${name}] throughput at concurrency ${c} for ${SIZE.durMs / 1000} s`);
  const before = cpuMs(pid);
  const started = Date.now();
  const run = await throughput(target, { concurrency: c, durationMs: SIZE.durMs });
  const after = cpuMs(pid);
  // Requests over the whole run, warm-up included, as the CPU time covers it too.
  const requests = run.rps * ((Date.now() - started) / 1000);
  run.cpuUsPerRequest =
    before !== null && after !== null && requests > 0 ? ((after - before) * 1000) / requests : null;
  return run;
}

/** The middle value (the upper one of an even count); numbers only, null when there are none. */
const median = (values) => {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor(sorted.length / 2)];
};

/**
 * --pinned: the c=64 rounds through kmi again, with the proxy alone on one CPU and the load
 * generator (this process) and the fake upstream on another (the first two this process may use);
 * every affinity is put back afterwards. Returns the median req/s and CPU per request, or
 * `{ skipped }` saying why it could not run.
 */
async function pinnedRounds(t, upstream) {
  if (spawnSync('taskset', ['-V']).status !== 0) return { skipped: 'taskset is not installed' };
  const pids = [t.pid, upstream.child.pid, process.pid];
  let saved;
  try {
    saved = pids.map((pid) => /:\s*([0-9a-f]+)\s*$/i.exec(taskset(['-p', String(pid)]))?.[1]);
  } catch (err) {
    return { skipped: err.message };
  }
  if (saved.some((mask) => mask === undefined)) return { skipped: 'could not read CPU affinity' };
  const allowed = [...BigInt(`0x${saved[2]}`).toString(2)]
    .reverse()
    .flatMap((bit, cpu) => (bit === '1' ? [String(cpu)] : []));
  if (allowed.length < 2) return { skipped: 'needs 2 CPUs' };
  const [proxyCpu, otherCpu] = allowed;
  const runs = [];
  try {
    taskset(['-apc', proxyCpu, String(t.pid)]);
    taskset(['-apc', otherCpu, String(upstream.child.pid)]);
    taskset(['-apc', otherCpu, String(process.pid)]);
    for (let round = 0; round < SIZE.rounds; round++) runs.push(await throughputRun(t, 64));
  } catch (err) {
    return { skipped: err.message };
  } finally {
    for (const [i, pid] of pids.entries()) {
      try {
        taskset(['-ap', saved[i], String(pid)]);
      } catch (err) {
        log(`bench: could not restore the CPU affinity of ${pid}: ${err.message}`);
      }
    }
  }
  return summariseRounds(`[${t.name}] c=64 pinned`, runs);
}

/** Log the req/s of each round; the medians of req/s and CPU per request, and all failed requests. */
function summariseRounds(what, runs) {
  const rps = runs.map((r) => r.rps);
  log(`${what} req/s by round: ${rps.map((v) => Math.round(v)).join(', ')}`);
  return {
    rps: median(rps),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
  };
}

function taskset(args) {
  const r = spawnSync('taskset', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`taskset ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Every measurement for each target (`{name, target, pid}`: direct first, then kmi), phase by
 * phase, so the two columns of a row are measured close together. Throughput runs alternate between
 * the targets for SIZE.rounds rounds and report medians: the shared host's load drifts within a run.
 */
async function measureAll(targets, upstream) {
  const results = targets.map(() => ({}));
  const aborts = async (i) => {
    const t = targets[i];
    const r = results[i];
    await upstream.call('reset');
    const before = await settledUpstreamStats(upstream, 200, 3000);
    log(`[${t.name}] ${SIZE.aborts} mid-stream client aborts, ${SIZE.abortConc} at a time`);
    r.aborts = await midStreamAborts(t.target, {
      count: SIZE.aborts,
      concurrency: SIZE.abortConc,
    });
    r.afterAborts = await settledUpstreamStats(upstream, 1000, 5000);
    r.socketsBefore = before.openSockets;
    r.answersAfter = await stillAnswers(t.target);
  };
  // The abort test counts the upstream's open sockets: direct runs it before the proxy has any.
  await aborts(0);
  for (const [i, t] of targets.entries()) {
    log(`[${t.name}] sequential latency: ${SIZE.seq} requests (after ${SIZE.seqWarm} warm-up)`);
    results[i].seq = await sequentialLatency(t.target, { count: SIZE.seq, warmup: SIZE.seqWarm });
  }
  for (const c of [16, 64]) {
    const runs = targets.map(() => []);
    // Only the gated c=64 needs the extra rounds; c=16 is informational.
    const rounds = c === 64 ? SIZE.rounds : 1;
    for (let round = 0; round < rounds; round++) {
      for (const [i, t] of targets.entries()) runs[i].push(await throughputRun(t, c));
    }
    for (const [i, t] of targets.entries()) {
      results[i][`c${c}`] = summariseRounds(`[${t.name}] c=${c}`, runs[i]);
    }
  }
  if (PINNED && targets.length > 1) results[1].c64pinned = await pinnedRounds(targets[1], upstream);
  for (const [i, t] of targets.entries()) {
    log(`[${t.name}] SSE time to first byte: ${SIZE.sse} streams`);
    results[i].sse = await sseTtfb(t.target, { count: SIZE.sse, warmup: SIZE.sseWarm });
  }
  for (let i = 1; i < targets.length; i++) await aborts(i);
  return results;
}

const fmt = (n, digits = 2) =>
  typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '–';
const fmtInt = (n) =>
  typeof n === 'number' && Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–';
const verdict = (ok) => (ok === null ? 'pending' : ok ? 'PASS' : 'FAIL');

function table(direct, proxy, proxyMem, pendingReason) {
  const rows = [];
  const row = (metric, d, p, delta, target, ok) =>
    rows.push(`| ${metric} | ${d} | ${p} | ${delta} | ${target} | ${verdict(ok)} |`);
  const has = proxy !== null;
  const addedP50 = has ? proxy.seq.p50 - direct.seq.p50 : NaN;
  row(
    `sequential latency p50 (ms, n=${direct.seq.n})`,
    fmt(direct.seq.p50, 3),
    has ? fmt(proxy.seq.p50, 3) : 'pending',
    has ? `+${fmt(addedP50, 3)} ms` : '–',
    `added ≤ ${TARGETS.addedP50Ms} ms`,
    has ? addedP50 <= TARGETS.addedP50Ms : null,
  );
  row(
    'sequential latency p99 (ms)',
    fmt(direct.seq.p99, 3),
    has ? fmt(proxy.seq.p99, 3) : 'pending',
    has ? `+${fmt(proxy.seq.p99 - direct.seq.p99, 3)} ms` : '–',
    '–',
    has ? true : null,
  );
  for (const c of [16, 64]) {
    const d = direct[`c${c}`];
    const p = has ? proxy[`c${c}`] : null;
    const ratio = p ? p.rps / d.rps : NaN;
    const gated = c === 64;
    row(
      `throughput, concurrency ${c} (req/s, ${gated && SIZE.rounds > 1 ? `median of ${SIZE.rounds} × ` : ''}${SIZE.durMs / 1000} s)`,
      fmtInt(d.rps),
      p ? fmtInt(p.rps) : 'pending',
      p ? `${fmt(ratio * 100, 1)} % of direct` : '–',
      gated ? `≥ ${TARGETS.throughputRatio * 100} % of direct` : '–',
      p ? (gated ? ratio >= TARGETS.throughputRatio : true) : null,
    );
  }
  // Informational: what one request costs the process that serves it (the fake upstream when
  // direct, the proxy through kmi), CPU time of all its threads over the c=64 run.
  const cpu = (r) => (typeof r?.c64?.cpuUsPerRequest === 'number' ? r.c64.cpuUsPerRequest : NaN);
  row(
    'CPU per request at concurrency 64 (µs, user + system): fake upstream / kmi proxy',
    fmt(cpu(direct), 1),
    has ? fmt(cpu(proxy), 1) : 'pending',
    '–',
    '–',
    has ? true : null,
  );
  const pinned = proxy?.c64pinned;
  if (pinned !== undefined) {
    const d = direct.c64;
    row(
      'throughput, concurrency 64, proxy alone on one CPU, load generator and fake upstream on the other (--pinned; req/s, CPU µs per request)',
      fmtInt(d.rps),
      pinned.skipped ?? `${fmtInt(pinned.rps)}, ${fmt(pinned.cpuUsPerRequest, 1)} µs`,
      pinned.skipped ? '–' : `${fmt((pinned.rps / d.rps) * 100, 1)} % of direct (unpinned)`,
      '–',
      true,
    );
  }
  const addedTtfb = has ? proxy.sse.ttfb.p50 - direct.sse.ttfb.p50 : NaN;
  row(
    `SSE time to first byte p50 (ms, n=${direct.sse.ttfb.n})`,
    fmt(direct.sse.ttfb.p50, 3),
    has ? fmt(proxy.sse.ttfb.p50, 3) : 'pending',
    has ? `+${fmt(addedTtfb, 3)} ms` : '–',
    `added ≤ ${TARGETS.addedTtfbMs} ms`,
    has ? addedTtfb <= TARGETS.addedTtfbMs : null,
  );
  const rss = proxyMem?.rss;
  row(
    'proxy RSS after load (MiB)',
    '–',
    rss ? fmt(rss / MiB, 1) : 'pending',
    proxyMem?.idleRss
      ? `idle ${fmt(proxyMem.idleRss / MiB, 1)}; JS heap ${fmt(proxyMem.heapUsed / MiB, 1)}, live after GC ${fmt(proxyMem.liveHeap / MiB, 1)}`
      : '–',
    `≤ ${TARGETS.rssMiB} MiB`,
    rss ? rss / MiB <= TARGETS.rssMiB : null,
  );
  const left = (r) => `${r.afterAborts.inFlight} (${r.aborts.aborted} aborted)`;
  row(
    `upstream requests still in flight after ${SIZE.aborts} mid-stream aborts`,
    left(direct),
    has ? left(proxy) : 'pending',
    '–',
    `${TARGETS.leftInFlight}`,
    has ? proxy.afterAborts.inFlight === 0 && proxy.afterAborts.busySockets === 0 : null,
  );
  const sockets = (r) => `${r.socketsBefore} → ${r.afterAborts.openSockets}`;
  row(
    'upstream sockets open before → after the aborts (idle keep-alive)',
    sockets(direct),
    has ? sockets(proxy) : 'pending',
    '–',
    'no growth beyond the pool',
    has ? proxy.afterAborts.openSockets <= Math.max(proxy.socketsBefore, 0) + SIZE.abortConc : null,
  );
  row(
    'answers after the aborts',
    `${direct.answersAfter.ok}/${direct.answersAfter.of}`,
    has ? `${proxy.answersAfter.ok}/${proxy.answersAfter.of}` : 'pending',
    '–',
    'all',
    has ? proxy.answersAfter.ok === proxy.answersAfter.of : null,
  );
  const header = [
    '| metric | direct | through kmi | kmi vs direct | target | result |',
    '|---|---:|---:|---:|---|---|',
  ];
  const env = [
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · Node ${process.version} · ` +
      `${cpus().length} × ${cpus()[0]?.model?.trim() ?? 'unknown CPU'} · ${fmt(totalmem() / 1024 ** 3, 1)} GiB RAM` +
      `${QUICK ? ' · --quick run (smaller samples)' : ''}` +
      `${NO_TRACE ? ' · proxy without trace writer (--no-trace)' : ''}`,
  ];
  if (pendingReason) env.push('', `Through-kmi numbers pending: ${pendingReason}`);
  const errs = [];
  for (const [name, r] of [
    ['direct', direct],
    ['kmi', proxy],
  ]) {
    if (!r) continue;
    const e =
      r.seq.errors +
      r.c16.errors +
      r.c64.errors +
      (r.c64pinned?.errors ?? 0) +
      r.sse.ttfb.errors +
      r.aborts.errors;
    if (e > 0) errs.push(`${name}: ${e} failed requests`);
  }
  if (errs.length > 0) env.push('', `Errors: ${errs.join('; ')}.`);
  return [...header, ...rows, '', ...env].join('\n');
}

async function updateBenchmarksMd(markdown) {
  let text = '';
  try {
    text = await readFile(BENCHMARKS_MD, 'utf8');
  } catch {
    text = '# Benchmarks\n';
  }
  const block = `${START_MARK}\n${markdown}\n${END_MARK}`;
  const a = text.indexOf(START_MARK);
  const b = text.indexOf(END_MARK);
  text =
    a >= 0 && b > a
      ? text.slice(0, a) + block + text.slice(b + END_MARK.length)
      : `${text.trimEnd()}\n\n## Results\n\n${block}\n`;
  await writeFile(BENCHMARKS_MD, text);
  log(`bench: wrote results to ${BENCHMARKS_MD}`);
}

async function main() {
  const serverJs = join(DIST, 'proxy', 'server.js');
  if (!DIRECT_ONLY && !existsSync(serverJs)) {
    console.error(
      `bench: the kmi proxy is not built (${serverJs} is missing).\n` +
        `       Run \`npm run build\` first (npm run bench does), or pass --direct-only to measure the direct path alone.`,
    );
    process.exitCode = 1;
    return;
  }
  const tmp = await mkdtemp(join(tmpdir(), 'kmi-bench-'));
  const upstream = spawnChild('upstream-child.mjs', {});
  let proxy = null;
  try {
    const up = await upstream.ready;
    const upstreamUrl = `http://127.0.0.1:${up.port}${up.base}`;
    log(`bench: fake upstream at ${upstreamUrl}`);
    const directTarget = {
      origin: `http://127.0.0.1:${up.port}`,
      path: `${up.base}/chat/completions`,
      headers: { authorization: 'Bearer sk-bench-direct-000000000000000000' },
    };
    let proxyTarget = null;
    let pendingReason = null;
    if (!DIRECT_ONLY) {
      const { DAEMON_NODE_FLAGS } = await import(
        pathToFileURL(join(DIST, 'daemon', 'control.js')).href
      );
      proxy = spawnChild(
        'proxy-child.mjs',
        {
          BENCH_UPSTREAM_URL: upstreamUrl,
          BENCH_TMP: tmp,
          BENCH_DIST: DIST,
          BENCH_NO_TRACE: NO_TRACE ? '1' : '',
        },
        [
          '--expose-gc',
          // the same V8 flags `kmi proxy` starts its daemon with
          ...DAEMON_NODE_FLAGS,
          ...(process.env.BENCH_PROXY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
        ],
      );
      const ready = await proxy.ready;
      const base = ready.basePath.replace(/\/+$/, '');
      proxyTarget = {
        origin: `http://127.0.0.1:${ready.port}`,
        path: `${base}/chat/completions`,
        headers: {},
      };
      log(`bench: kmi proxy at ${proxyTarget.origin}${base}`);
    } else {
      pendingReason = 'run with --direct-only.';
    }

    const targets = [{ name: 'direct', target: directTarget, pid: upstream.child.pid }];
    const idle = proxyTarget ? await proxy.call('mem') : null;
    if (proxyTarget) targets.push({ name: 'kmi', target: proxyTarget, pid: proxy.child.pid });
    const [direct, viaKmi = null] = await measureAll(targets, upstream);
    let mem = null;
    if (proxyTarget) {
      const after = await proxy.call('mem');
      mem = {
        rss: after.rss,
        idleRss: idle.rss,
        heapUsed: after.heapUsed,
        liveHeap: after.liveHeap,
        trace: after.trace,
      };
      if (mem.trace) log(`bench: proxy trace writer: ${JSON.stringify(mem.trace)}`);
    }
    const md = table(direct, viaKmi, mem, pendingReason);
    console.log(md);
    if (WRITE) await updateBenchmarksMd(md);
  } finally {
    if (proxy) await proxy.stop();
    await upstream.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

/** A free loopback port. */
function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

function redisPing(port) {
  return new Promise((res) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => {
      socket.destroy();
      res(false);
    });
    socket.on('error', () => res(false));
    socket.on('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (d) => {
      socket.destroy();
      res(String(d).includes('PONG'));
    });
  });
}

/** A throw-away redis-server on a free port (no persistence); null when it is not installed. */
async function startRedisServer(dir) {
  if (spawnSync('redis-server', ['--version']).status !== 0) return null;
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  while (!(await redisPing(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not start');
    }
    await sleep(50);
  }
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
  };
  return { port, url: `redis://127.0.0.1:${port}/0`, stop };
}

/**
 * --redis: the same compiled proxy three times — file store, Redis, Redis with global and per-key
 * limits on (3 round trips per request) — measured in alternating rounds, median of the p50s.
 */
async function redisMain() {
  const serverJs = join(DIST, 'proxy', 'server.js');
  if (!existsSync(serverJs)) {
    console.error(`bench: the kmi proxy is not built (${serverJs} is missing); run npm run build`);
    process.exitCode = 1;
    return;
  }
  const tmp = await mkdtemp(join(tmpdir(), 'kmi-bench-redis-'));
  const redis = await startRedisServer(tmp);
  if (redis === null) {
    log('bench: redis-server is not installed; --redis skipped (apt-get install redis-server)');
    await rm(tmp, { recursive: true, force: true });
    return;
  }
  log(`bench: redis-server at ${redis.url}`);
  const upstream = spawnChild('upstream-child.mjs', {});
  const proxies = [];
  try {
    const up = await upstream.ready;
    const upstreamUrl = `http://127.0.0.1:${up.port}${up.base}`;
    const { DAEMON_NODE_FLAGS } = await import(
      pathToFileURL(join(DIST, 'daemon', 'control.js')).href
    );
    const limits = JSON.stringify({
      KMI_PROXY_MAX_RPS: '1000000',
      KMI_PROXY_MAX_RPS_PER_KEY: '1000000',
    });
    const variants = [
      { name: 'file store', env: {} },
      { name: 'Redis', env: { BENCH_STATE_URL: redis.url, BENCH_REDIS_PREFIX: 'kmi-b1:' } },
      {
        name: 'Redis + global and per-key limits',
        env: { BENCH_STATE_URL: redis.url, BENCH_REDIS_PREFIX: 'kmi-b2:', BENCH_EXTRA_ENV: limits },
      },
    ];
    const targets = [];
    for (const [i, v] of variants.entries()) {
      const child = spawnChild(
        'proxy-child.mjs',
        {
          BENCH_UPSTREAM_URL: upstreamUrl,
          BENCH_TMP: join(tmp, `p${i}`),
          BENCH_DIST: DIST,
          BENCH_NO_TRACE: NO_TRACE ? '1' : '',
          ...v.env,
        },
        [...DAEMON_NODE_FLAGS],
      );
      proxies.push(child);
      const ready = await child.ready;
      targets.push({
        origin: `http://127.0.0.1:${ready.port}`,
        path: `${ready.basePath.replace(/\/+$/, '')}/chat/completions`,
        headers: {},
      });
    }
    const rounds = QUICK ? 3 : 5;
    const count = QUICK ? 300 : 1000;
    const p50s = variants.map(() => []);
    const p99s = variants.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (const [i, v] of variants.entries()) {
        log(`[redis round ${r + 1}/${rounds}] ${v.name}: ${count} sequential requests`);
        const s = await sequentialLatency(targets[i], { count, warmup: 100 });
        if (s.errors > 0) log(`bench: ${s.errors} errors through ${v.name}`);
        p50s[i].push(s.p50);
        p99s[i].push(s.p99);
      }
    }
    const base = median(p50s[0]);
    const rows = [
      '| sequential latency through kmi (median of ' +
        `${rounds} rounds × ${count}) | p50 (ms) | p99 (ms) | added p50 vs file store (ms) | target | result |`,
      '|---|---:|---:|---:|---|---|',
    ];
    for (const [i, v] of variants.entries()) {
      const p50 = median(p50s[i]);
      const added = p50 - base;
      rows.push(
        `| ${v.name} | ${fmt(p50, 3)} | ${fmt(median(p99s[i]), 3)} | ${i === 0 ? '–' : fmt(added, 3)} | ${i === 0 ? '–' : '< 0.5'} | ${i === 0 ? '–' : verdict(added < 0.5)} |`,
      );
    }
    console.log(rows.join('\n'));
  } finally {
    for (const p of proxies) await p.stop();
    await upstream.stop();
    await redis.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

(REDIS ? redisMain() : main()).catch((err) => {
  console.error(`bench: ${err?.stack ?? err}`);
  process.exitCode = 1;
});
