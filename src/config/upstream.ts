// Upstream URL rules: https unless the host is loopback, no userinfo, and the host must pass the allowlist.

export type UpstreamProblem = 'invalid' | 'scheme' | 'userinfo' | 'allowlist';

export type UpstreamCheck =
  | { readonly ok: true; readonly url: string; readonly host: string }
  | { readonly ok: false; readonly problem: UpstreamProblem };

/** True for localhost, 127.0.0.0/8 and ::1 (with or without brackets). */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return /^127(?:\.\d{1,3}){3}$/.test(h);
}

/**
 * Whether `host` passes the allowlist. An empty list allows any host. `*.example.com` matches
 * subdomains of example.com but not example.com itself; other entries match exactly.
 */
export function hostAllowed(host: string, allowlist: readonly string[]): boolean {
  if (allowlist.length === 0) return true;
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowlist.some((entry) => {
    const e = entry.toLowerCase();
    if (e.startsWith('*.')) {
      const suffix = e.slice(1);
      return h.endsWith(suffix) && h.length > suffix.length;
    }
    return h === e;
  });
}

/** Validate an upstream base URL and return it normalised (no trailing slash). */
export function checkUpstreamUrl(raw: string, allowlist: readonly string[]): UpstreamCheck {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, problem: 'invalid' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, problem: 'userinfo' };
  const host = url.hostname;
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(host)) return { ok: false, problem: 'scheme' };
  } else if (url.protocol !== 'https:') {
    return { ok: false, problem: 'scheme' };
  }
  if (url.search !== '' || url.hash !== '') return { ok: false, problem: 'invalid' };
  if (!hostAllowed(host.replace(/^\[|\]$/g, ''), allowlist))
    return { ok: false, problem: 'allowlist' };
  return { ok: true, url: url.href.replace(/\/+$/, ''), host: host.replace(/^\[|\]$/g, '') };
}
