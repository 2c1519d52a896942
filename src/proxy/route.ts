// Maps a raw request target onto the proxy's base path: forward, admin, outside (404) or bad (400).

export type Route =
  /** `rest` is '' or starts with '/'; `query` is '' or starts with '?'. */
  | { readonly kind: 'forward'; readonly rest: string; readonly query: string }
  | { readonly kind: 'admin'; readonly name: string }
  | { readonly kind: 'outside' }
  | { readonly kind: 'bad'; readonly reason: 'target' | 'traversal' | 'encoding' };

const OUTSIDE: Route = { kind: 'outside' };
const BAD_TARGET: Route = { kind: 'bad', reason: 'target' };
const BAD_TRAVERSAL: Route = { kind: 'bad', reason: 'traversal' };
const BAD_ENCODING: Route = { kind: 'bad', reason: 'encoding' };
const ADMIN_PREFIX = '/_kmi';

/**
 * Resolve `target` (the request line's path and query) against `basePath` (`/` or `/a/b`, no
 * trailing slash). `.`/`..` segments — also percent-encoded or hidden behind an encoded slash or
 * backslash — are rejected rather than normalised, so nothing can step outside the base.
 */
export function resolveRoute(target: string | undefined, basePath: string): Route {
  if (target === undefined || target.charCodeAt(0) !== 47 /* / */) return BAD_TARGET;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  if (/[.%\\]/.test(path)) {
    const problem = dotSegmentProblem(path);
    if (problem !== null) return problem;
  }
  let rest: string;
  if (basePath === '/') rest = path;
  else if (path === basePath) rest = '';
  else if (path.startsWith(basePath) && path.charCodeAt(basePath.length) === 47) {
    rest = path.slice(basePath.length);
  } else return OUTSIDE;
  if (rest === ADMIN_PREFIX || rest.startsWith(`${ADMIN_PREFIX}/`)) {
    return { kind: 'admin', name: rest.slice(ADMIN_PREFIX.length + 1).replace(/\/+$/, '') };
  }
  return { kind: 'forward', rest, query };
}

function dotSegmentProblem(path: string): Route | null {
  for (const segment of path.split('/')) {
    let decoded = segment;
    if (segment.includes('%')) {
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        return BAD_ENCODING;
      }
    }
    for (const part of decoded.split(/[/\\]/)) {
      if (part === '.' || part === '..') return BAD_TRAVERSAL;
    }
  }
  return null;
}

/** Anthropic-style endpoints (`/messages`, `/messages/count_tokens`) get Anthropic-shaped errors. */
export function isAnthropicPath(rest: string): boolean {
  return /\/messages(?:\/|$)/.test(rest);
}
