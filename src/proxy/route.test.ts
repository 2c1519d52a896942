// resolveRoute: base path matching, admin routes, and dot segments that must never escape the base.
import { describe, expect, it } from 'vitest';
import { isAnthropicPath, resolveRoute } from './route.js';

const BASE = '/kmi-rotor/v1';

describe('resolveRoute', () => {
  it('forwards paths under the base with their query', () => {
    expect(resolveRoute('/kmi-rotor/v1/chat/completions?a=1&b=%20', BASE)).toEqual({
      kind: 'forward',
      rest: '/chat/completions',
      query: '?a=1&b=%20',
    });
    expect(resolveRoute('/kmi-rotor/v1', BASE)).toEqual({ kind: 'forward', rest: '', query: '' });
    expect(resolveRoute('/kmi-rotor/v1/', BASE)).toEqual({ kind: 'forward', rest: '/', query: '' });
    expect(resolveRoute('/kmi-rotor/v1/files/a.b.json', BASE)).toEqual({
      kind: 'forward',
      rest: '/files/a.b.json',
      query: '',
    });
  });

  it('answers outside for other paths, including look-alike prefixes', () => {
    for (const p of [
      '/',
      '/docs',
      '/kmi-rotor',
      '/kmi-rotor/v1x',
      '/kmi-rotor/v2/models',
      '/KMI-ROTOR/v1/models',
    ]) {
      expect(resolveRoute(p, BASE), p).toEqual({ kind: 'outside' });
    }
  });

  it('rejects dot segments in every disguise', () => {
    for (const p of [
      '/kmi-rotor/v1/../x',
      '/kmi-rotor/v1/./x',
      '/kmi-rotor/v1/%2e%2e/x',
      '/kmi-rotor/v1/%2E%2e/x',
      '/kmi-rotor/v1/.%2E/x',
      '/kmi-rotor/v1/a%2f..%2fb',
      '/kmi-rotor/v1/a%5c..',
      '/kmi-rotor/v1/..\\x',
      '/x/../kmi-rotor/v1/models',
    ]) {
      expect(resolveRoute(p, BASE), p).toEqual({ kind: 'bad', reason: 'traversal' });
    }
    expect(resolveRoute('/kmi-rotor/v1/%zz', BASE)).toEqual({ kind: 'bad', reason: 'encoding' });
    expect(resolveRoute('http://evil/kmi-rotor/v1/models', BASE)).toEqual({
      kind: 'bad',
      reason: 'target',
    });
    expect(resolveRoute('*', BASE)).toEqual({ kind: 'bad', reason: 'target' });
    expect(resolveRoute(undefined, BASE)).toEqual({ kind: 'bad', reason: 'target' });
  });

  it('routes {base}/_kmi/* to the admin endpoints', () => {
    expect(resolveRoute('/kmi-rotor/v1/_kmi/health', BASE)).toEqual({
      kind: 'admin',
      name: 'health',
    });
    expect(resolveRoute('/kmi-rotor/v1/_kmi/status/', BASE)).toEqual({
      kind: 'admin',
      name: 'status',
    });
    expect(resolveRoute('/kmi-rotor/v1/_kmi', BASE)).toEqual({ kind: 'admin', name: '' });
    expect(resolveRoute('/kmi-rotor/v1/_kmix', BASE)).toEqual({
      kind: 'forward',
      rest: '/_kmix',
      query: '',
    });
  });

  it('serves everything with base path /', () => {
    expect(resolveRoute('/chat/completions', '/')).toEqual({
      kind: 'forward',
      rest: '/chat/completions',
      query: '',
    });
    expect(resolveRoute('/_kmi/metrics', '/')).toEqual({ kind: 'admin', name: 'metrics' });
  });

  it('spots Anthropic endpoints', () => {
    expect(isAnthropicPath('/messages')).toBe(true);
    expect(isAnthropicPath('/v1/messages/count_tokens')).toBe(true);
    expect(isAnthropicPath('/chat/completions')).toBe(false);
    expect(isAnthropicPath('/messagesx')).toBe(false);
  });
});
