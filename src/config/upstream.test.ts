import { describe, expect, it } from 'vitest';
import { checkUpstreamUrl, hostAllowed, isLoopbackHost } from './upstream.js';

describe('upstream URL rules', () => {
  it('requires https unless the host is loopback', () => {
    expect(checkUpstreamUrl('https://api.kimi.com/coding/v1/', [])).toMatchObject({
      ok: true,
      url: 'https://api.kimi.com/coding/v1',
    });
    expect(checkUpstreamUrl('http://api.kimi.com/coding/v1', [])).toEqual({
      ok: false,
      problem: 'scheme',
    });
    expect(checkUpstreamUrl('http://127.0.0.1:8080/v1', [])).toMatchObject({ ok: true });
    expect(checkUpstreamUrl('http://[::1]:8080/v1', [])).toMatchObject({ ok: true });
    expect(checkUpstreamUrl('http://localhost/v1', [])).toMatchObject({ ok: true });
    expect(checkUpstreamUrl('ftp://api.kimi.com', [])).toEqual({ ok: false, problem: 'scheme' });
    expect(checkUpstreamUrl('not a url', [])).toEqual({ ok: false, problem: 'invalid' });
  });

  it('cannot be bypassed with userinfo, case or odd ports', () => {
    const allow = ['api.kimi.com'];
    expect(checkUpstreamUrl('https://api.kimi.com@evil.example/v1', allow)).toEqual({
      ok: false,
      problem: 'userinfo',
    });
    expect(checkUpstreamUrl('https://evil.example#@api.kimi.com', allow)).toEqual({
      ok: false,
      problem: 'invalid',
    });
    expect(checkUpstreamUrl('https://API.KIMI.COM:8443/v1', allow)).toMatchObject({
      ok: true,
      host: 'api.kimi.com',
    });
    expect(checkUpstreamUrl('https://api.kimi.com.evil.example/v1', allow)).toEqual({
      ok: false,
      problem: 'allowlist',
    });
    expect(checkUpstreamUrl('http://127.0.0.1.evil.example/v1', [])).toEqual({
      ok: false,
      problem: 'scheme',
    });
  });

  it('matches *.domain on subdomains only', () => {
    expect(hostAllowed('a.kimi.com', ['*.kimi.com'])).toBe(true);
    expect(hostAllowed('a.b.kimi.com', ['*.kimi.com'])).toBe(true);
    expect(hostAllowed('kimi.com', ['*.kimi.com'])).toBe(false);
    expect(hostAllowed('evilkimi.com', ['*.kimi.com'])).toBe(false);
    expect(hostAllowed('anything', [])).toBe(true);
  });

  it('knows loopback hosts', () => {
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.nip.io')).toBe(false);
  });
});
