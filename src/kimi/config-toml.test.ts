import { spawn } from 'node:child_process';
import {
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rm,
  stat,
  symlink,
  writeFile,
  chmod,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parse } from 'smol-toml';
import ts from 'typescript';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KeyRecord } from '../auth/types.js';
import { KmiError } from '../errors.js';
import { REPO_ROOT } from '../../test/helpers/kmi.js';
import {
  backupStamp,
  currentKeyFromKimiConfig,
  findCurrentKey,
  listKimiConfigBackups,
  lookupCurrentKey,
  parseKimiConfig,
  readKimiConfig,
  writeKimiConfig,
} from './config-toml.js';

const NEW_KEY = 'sk-newkey-000000000000000000000000000000';
const OLD_KEY = 'sk-oldkey-111111111111111111111111111111';
const now = Date.UTC(2026, 0, 5, 12, 30, 45);
const posix = process.platform !== 'win32';

type Account = Pick<KeyRecord, 'apiKey' | 'baseUrl' | 'provider'>;
const envAccount = (apiKey = NEW_KEY, baseUrl: string | null = null): Account => ({
  apiKey,
  baseUrl,
  provider: null,
});

const RICH = `# my Kimi config
default_model = "kimi-k2"
default_thinking = true

[models.kimi-k2]
provider = "managed:kimi-code"
model = "kimi-for-coding"
max_context_size = 262144
capabilities = ["thinking", "image_in"]

[models.other]
provider = "moonshot-ai"
model = "kimi-k2-turbo"
max_context_size = 131072
temperature = 0.6

[providers."managed:kimi-code"]
type = "kimi"
base_url = "https://api.kimi.com/coding/v1"
api_key = "${OLD_KEY}"
custom_headers = { "X-Team" = "core" }

[providers.moonshot-ai]
type = "kimi"
base_url = "https://api.moonshot.ai/v1"
api_key = "sk-moonshot-keep-me-2222222222"

[loop_control]
max_steps_per_run = 100
max_retries_per_step = 3
ratio = 1.0

[services.moonshot_search]
base_url = "https://api.kimi.com/coding/v1/search"
api_key = "${OLD_KEY}"

[services.moonshot_fetch]
base_url = "https://api.kimi.com/coding/v1/fetch"
api_key = "${OLD_KEY}"

[[hooks]]
event = "stop"
command = "echo done"
when = 2026-01-01T00:00:00Z
`;

let dir = '';
let path = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kmi-kimi-'));
  path = join(dir, '.kimi', 'config.toml');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Parsed TOML as plain JSON-able data (BigInt → string tag, dates → ISO) for meaning comparisons. */
function meaning(text: string): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(parse(text, { integersAsBigInt: true }), (_k, v: unknown) =>
      typeof v === 'bigint' ? `int:${v}` : typeof v === 'number' ? `float:${v}` : v,
    ),
  ) as Record<string, unknown>;
}
const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe('writeKimiConfig: missing file', () => {
  it('creates a minimal valid layout, mode 0600, no backup', async () => {
    const r = await writeKimiConfig({
      path,
      key: envAccount(),
      enforcePerms: true,
      now,
      upstreamBaseUrl: 'https://up.example/v1',
    });
    expect(r).toMatchObject({
      created: true,
      backupPath: null,
      providerName: 'kimi-for-coding',
      services: [],
    });
    const m = meaning(await readFile(path, 'utf8'));
    expect(m).toEqual({
      default_model: 'kimi-for-coding',
      models: {
        'kimi-for-coding': {
          provider: 'kimi-for-coding',
          model: 'kimi-for-coding',
          max_context_size: 'int:262144',
        },
      },
      providers: {
        'kimi-for-coding': { type: 'kimi', base_url: 'https://up.example/v1', api_key: NEW_KEY },
      },
    });
    if (posix) expect(await mode(path)).toBe(0o600);
    expect(currentKeyFromKimiConfig(await readKimiConfig(path))?.apiKey).toBe(NEW_KEY);
  });

  it('is created 0600 even when permissions are not enforced', async () => {
    await writeKimiConfig({ path, key: envAccount(), enforcePerms: false, now });
    if (posix) expect(await mode(path)).toBe(0o600);
  });
});

describe('writeKimiConfig: existing file', () => {
  beforeEach(async () => {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, RICH, { mode: 0o644 });
    if (posix) await chmod(path, 0o644);
  });

  it('backs up first, points the default model’s provider at the .env account, keeps everything else', async () => {
    const r = await writeKimiConfig({
      path,
      key: envAccount(NEW_KEY, 'https://own.example/v1'),
      enforcePerms: true,
      now,
    });
    expect(r.created).toBe(false);
    expect(r.providerName).toBe('managed:kimi-code');
    expect(r.services).toEqual(['moonshot_search', 'moonshot_fetch']);
    expect(r.backupPath).toBe(`${path}.kmi-backup-20260105T123045Z`);
    expect(await readFile(r.backupPath as string, 'utf8')).toBe(RICH);
    if (posix) {
      expect(await mode(r.backupPath as string)).toBe(0o600);
      expect(await mode(path)).toBe(0o600);
    }
    const before = meaning(RICH);
    const after = meaning(await readFile(path, 'utf8'));
    const providers = after.providers as Record<string, Record<string, unknown>>;
    expect(providers['managed:kimi-code']).toEqual({
      type: 'kimi',
      base_url: 'https://own.example/v1',
      api_key: NEW_KEY,
      custom_headers: { 'X-Team': 'core' },
    });
    const services = after.services as Record<string, Record<string, unknown>>;
    expect(services.moonshot_search).toEqual({
      base_url: 'https://api.kimi.com/coding/v1/search',
      api_key: NEW_KEY,
    });
    expect(services.moonshot_fetch?.api_key).toBe(NEW_KEY);
    // Everything else means the same as before.
    const strip = (m: Record<string, unknown>) => {
      const copy = structuredClone(m) as Record<string, Record<string, unknown>>;
      delete copy.providers?.['managed:kimi-code'];
      delete copy.services;
      return copy;
    };
    expect(strip(after)).toEqual(strip(before));
    expect(after.loop_control).toEqual({
      max_steps_per_run: 'int:100',
      max_retries_per_step: 'int:3',
      ratio: 'float:1',
    });
    expect(after.hooks).toEqual([
      { event: 'stop', command: 'echo done', when: '2026-01-01T00:00:00.000Z' },
    ]);
    expect(currentKeyFromKimiConfig(await readKimiConfig(path))).toEqual({
      apiKey: NEW_KEY,
      providerName: 'managed:kimi-code',
      model: 'kimi-k2',
      baseUrl: 'https://own.example/v1',
    });
  });

  it('a .env account without its own base_url gets the default upstream', async () => {
    await writeKimiConfig({
      path,
      key: envAccount(),
      enforcePerms: true,
      now,
      upstreamBaseUrl: 'https://default.example/v1',
    });
    const providers = meaning(await readFile(path, 'utf8')).providers as Record<
      string,
      Record<string, unknown>
    >;
    expect(providers['managed:kimi-code']?.base_url).toBe('https://default.example/v1');
  });

  it('a .toml/.json account replaces the whole provider table', async () => {
    const account: Account = {
      apiKey: NEW_KEY,
      baseUrl: 'https://acct.example/v1',
      provider: {
        name: 'kimi-for-coding',
        table: {
          type: 'kimi',
          base_url: 'https://acct.example/v1',
          api_key: NEW_KEY,
          timeout: 30,
          nothing: null,
        },
      },
    };
    const r = await writeKimiConfig({ path, key: account, enforcePerms: true, now });
    expect(r.providerName).toBe('managed:kimi-code');
    const providers = meaning(await readFile(path, 'utf8')).providers as Record<
      string,
      Record<string, unknown>
    >;
    expect(providers['managed:kimi-code']).toEqual({
      type: 'kimi',
      base_url: 'https://acct.example/v1',
      api_key: NEW_KEY,
      timeout: 'int:30',
    });
    expect(providers['moonshot-ai']?.api_key).toBe('sk-moonshot-keep-me-2222222222');
  });

  it('without default_model the kimi-for-coding provider is used (and the model entry added)', async () => {
    await writeFile(
      path,
      `[providers.kimi-for-coding]\ntype = "kimi"\napi_key = "${OLD_KEY}"\nbase_url = "https://x.example/v1"\n[misc]\na = 1\n`,
    );
    const r = await writeKimiConfig({ path, key: envAccount(), enforcePerms: true, now });
    expect(r.providerName).toBe('kimi-for-coding');
    const m = meaning(await readFile(path, 'utf8'));
    expect(m.default_model).toBe('kimi-for-coding');
    expect(m.misc).toEqual({ a: 'int:1' });
    expect(currentKeyFromKimiConfig(await readKimiConfig(path))?.apiKey).toBe(NEW_KEY);
  });

  it('an unparsable file is left untouched and reported', async () => {
    const broken = `${RICH}\n[providers\nthis is = = not toml ${OLD_KEY}\n`;
    await writeFile(path, broken);
    const err = await writeKimiConfig({ path, key: envAccount(), enforcePerms: true, now }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KmiError);
    expect((err as KmiError).code).toBe('KMI_E_KIMI_CONFIG');
    expect((err as KmiError).messageKey).toBe('kimi.configUnparsable');
    expect((err as KmiError).params.file).toBe(path);
    expect(String((err as KmiError).params.reason)).not.toContain(OLD_KEY);
    expect(await readFile(path, 'utf8')).toBe(broken);
    expect(await listKimiConfigBackups(path)).toEqual([]);
    if (posix) expect(await mode(path)).toBe(0o644);
  });

  it('keeps the last 5 backups and deletes only older kmi backups', async () => {
    const unrelated = [
      `${path}.bak`,
      `${path}.kmi-backup-notes.txt`,
      join(dirname(path), 'other.toml.kmi-backup-20200101T000000Z'),
    ];
    for (const f of unrelated) await writeFile(f, 'x');
    const backups: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await writeKimiConfig({
        path,
        key: envAccount(i % 2 ? NEW_KEY : OLD_KEY),
        enforcePerms: true,
        now: now + i * 1000,
      });
      backups.push(r.backupPath as string);
    }
    const left = await listKimiConfigBackups(path);
    expect(left).toEqual(backups.slice(3));
    const names = await readdir(dirname(path));
    for (const f of unrelated) expect(names).toContain(f.slice(dirname(path).length + 1));
    // Each backup holds the file as it was before its write: write i used key i%2 ? NEW : OLD.
    const providerKey = async (f: string) =>
      (meaning(await readFile(f, 'utf8')).providers as Record<string, Record<string, unknown>>)[
        'managed:kimi-code'
      ]?.api_key;
    expect(await providerKey(backups[3] as string)).toBe(OLD_KEY);
    expect(await providerKey(backups[4] as string)).toBe(NEW_KEY);
  });

  it('two writes in the same second keep both backups', async () => {
    const a = await writeKimiConfig({ path, key: envAccount(), enforcePerms: true, now });
    const b = await writeKimiConfig({ path, key: envAccount(OLD_KEY), enforcePerms: true, now });
    expect(a.backupPath).toBe(`${path}.kmi-backup-${backupStamp(now)}`);
    expect(b.backupPath).toBe(`${path}.kmi-backup-${backupStamp(now)}-1`);
    expect(await listKimiConfigBackups(path)).toEqual([a.backupPath, b.backupPath]);
    expect(await readFile(a.backupPath as string, 'utf8')).toBe(RICH);
  });
});

describe('current key lookup', () => {
  const parsed = parseKimiConfig(RICH, 'x');

  it('follows default_model → provider → api_key', () => {
    expect(currentKeyFromKimiConfig(parsed)).toEqual({
      apiKey: OLD_KEY,
      providerName: 'managed:kimi-code',
      model: 'kimi-k2',
      baseUrl: 'https://api.kimi.com/coding/v1',
    });
    const keys = [
      { apiKey: 'sk-other', label: 'o' },
      { apiKey: OLD_KEY, label: 'old' },
    ];
    expect(findCurrentKey(keys, parsed)?.label).toBe('old');
    expect(findCurrentKey([{ apiKey: 'sk-other', label: 'o' }], parsed)).toBeNull();
  });

  it('tolerates missing pieces', () => {
    expect(currentKeyFromKimiConfig(null)).toBeNull();
    expect(currentKeyFromKimiConfig({})).toBeNull();
    expect(
      currentKeyFromKimiConfig(
        parseKimiConfig('default_model = "m"\n[models.m]\nprovider = "p"\n', 'x'),
      ),
    ).toBeNull();
    expect(
      currentKeyFromKimiConfig(parseKimiConfig('[providers.p]\napi_key = "sk-1"\n', 'x')),
    ).toBeNull();
    expect(
      currentKeyFromKimiConfig(
        parseKimiConfig('[providers.kimi-for-coding]\napi_key = "  "\n', 'x'),
      ),
    ).toBeNull();
    expect(
      currentKeyFromKimiConfig(
        parseKimiConfig('[providers.kimi-for-coding]\napi_key = "sk-1"\n', 'x'),
      )?.apiKey,
    ).toBe('sk-1');
  });

  it('lookupCurrentKey reports a bad file instead of throwing', async () => {
    const missing = await lookupCurrentKey(join(dir, 'none.toml'), []);
    expect(missing).toEqual({ label: null, current: null, error: null });
    const bad = join(dir, 'bad.toml');
    await writeFile(bad, '= nope');
    const r = await lookupCurrentKey(bad, []);
    expect(r.label).toBeNull();
    expect(r.error?.messageKey).toBe('kimi.configUnparsable');
    const good = join(dir, 'good.toml');
    await writeFile(good, RICH);
    expect((await lookupCurrentKey(good, [{ apiKey: OLD_KEY, label: 'old' }])).label).toBe('old');
  });
});

describe('kill mid-write', () => {
  let buildDir = '';
  afterAll(async () => {
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  /** Transpile config-toml.ts and the modules it imports into a temp folder a plain `node` can run. */
  async function buildWriter(): Promise<string> {
    buildDir = await mkdtemp(join(tmpdir(), 'kmi-kimi-build-'));
    await symlink(join(REPO_ROOT, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
    await writeFile(join(buildDir, 'package.json'), '{"type":"module"}');
    const queue = [join(REPO_ROOT, 'src', 'kimi', 'config-toml.ts')];
    const done = new Set<string>();
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (done.has(file)) continue;
      done.add(file);
      const out = ts.transpileModule(await readFile(file, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const target = join(buildDir, relative(REPO_ROOT, file)).replace(/\.ts$/, '.js');
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, out);
      for (const m of out.matchAll(/(?:from|import)\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
        queue.push(join(dirname(file), `${m[1] as string}.ts`));
      }
    }
    const child = `import { writeKimiConfig } from './src/kimi/config-toml.js';
const [path, a, b] = process.argv.slice(2);
for (let i = 0; ; i++) {
  await writeKimiConfig({ path, key: { apiKey: i % 2 ? b : a, baseUrl: null, provider: null }, enforcePerms: true, now: Date.now() });
  if (i === 0) process.stdout.write('ready\\n');
}
`;
    await writeFile(join(buildDir, 'writer.mjs'), child);
    return join(buildDir, 'writer.mjs');
  }

  it('leaves the old or the new file, never a broken one (30 random SIGKILLs)', async () => {
    const writer = await buildWriter();
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, RICH);
    const expected = meaning(RICH);
    for (let round = 0; round < 30; round++) {
      const child = spawn(process.execPath, [writer, path, NEW_KEY, OLD_KEY], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`writer exited early (${code}): ${stderr}`)));
      });
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 25)));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      const text = await readFile(path, 'utf8');
      const m = meaning(text); // throws if the file were torn
      const key = (m.providers as Record<string, Record<string, unknown>>)['managed:kimi-code']
        ?.api_key;
      expect([NEW_KEY, OLD_KEY]).toContain(key);
      expect(m.loop_control).toEqual(expected.loop_control);
      expect(m.models).toEqual(expected.models);
      expect(await listKimiConfigBackups(path).then((b) => b.length)).toBeLessThanOrEqual(6);
    }
  }, 60_000);
});
