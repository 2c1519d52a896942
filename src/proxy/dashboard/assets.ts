// The dashboard page's static files (dist/web): read once on first use, kept in memory, served with ETags.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { sendJsonError } from './http.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The page needs nothing from anywhere else: no CDN, no inline script, no framing. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Where {base}/_kmi lives, written into the page so it works under any base path. */
const ADMIN_PLACEHOLDER = '%KMI_ADMIN%';

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/**
 * dist/web beside the compiled proxy (dist/proxy/dashboard → dist/web); when running from the
 * TypeScript sources (tests), src/web has no compiled script, so the build's dist/web is used.
 */
function webDir(): string | null {
  const candidates = [
    new URL('../../web/', import.meta.url),
    new URL('../../../dist/web/', import.meta.url),
  ];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(`${dir}index.html`) && existsSync(`${dir}app.js`)) return dir;
  }
  return null;
}

let loading: Promise<Map<string, Asset> | null> | null = null;

async function loadAssets(): Promise<Map<string, Asset> | null> {
  const dir = webDir();
  if (dir === null) return null;
  const files = new Map<string, Asset>();
  for (const name of await readdir(dir)) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (type === undefined) continue;
    const body = await readFile(`${dir}${name}`);
    files.set(name, { body, type, etag: etagOf(body) });
  }
  return files;
}

function etagOf(body: Buffer): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
}

/** index.html with the admin path filled in, per base path (one proxy has one; tests run several). */
const pages = new Map<string, Asset>();

function pageFor(template: Asset, adminPath: string): Asset {
  let page = pages.get(adminPath);
  if (page === undefined) {
    const body = Buffer.from(
      template.body.toString('utf8').replaceAll(ADMIN_PLACEHOLDER, adminPath),
    );
    page = { body, type: template.type, etag: etagOf(body) };
    pages.set(adminPath, page);
  }
  return page;
}

/** Whether a dashboard route name is a static file of the page (served without the token). */
export function isAssetRoute(name: string): boolean {
  return name === 'ui' || /^ui\/[A-Za-z0-9_-]+\.(?:js|css|svg)$/.test(name);
}

/** Serve the page (`ui`) or one of its files (`ui/app.js`). */
export async function serveAsset(
  name: string,
  adminPath: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const files = await (loading ??= loadAssets());
  if (files === null) {
    loading = null; // a later build may provide them
    sendJsonError(
      res,
      503,
      'kmi_dashboard_missing',
      'The dashboard files are missing (dist/web); run `npm run build`.',
    );
    return;
  }
  const file = name === 'ui' ? 'index.html' : name.slice(3);
  const found = files.get(file);
  if (found === undefined || (name !== 'ui' && file === 'index.html')) {
    sendJsonError(res, 404, 'kmi_not_found', `No dashboard file ${file}.`);
    return;
  }
  const asset = file === 'index.html' ? pageFor(found, adminPath) : found;
  const headers: Record<string, string | number> = {
    'content-type': asset.type,
    'cache-control': 'no-cache',
    etag: asset.etag,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
  if (file === 'index.html') {
    headers['content-security-policy'] = CSP;
    headers['x-frame-options'] = 'DENY';
  }
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['content-length'] = asset.body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
