// httpRequest: undici's request() without loading the whole package (fetch, WebSocket, caches…), which would add ~8 MiB to a running proxy.
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

export type HttpRequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & {
  /** Defaults to one shared keep-alive Agent (not undici's global dispatcher). */
  readonly dispatcher?: Dispatcher;
};

type RequestFn = (
  this: Dispatcher,
  opts: Dispatcher.RequestOptions,
) => Promise<Dispatcher.ResponseData>;

interface Loaded {
  readonly request: RequestFn;
  readonly agent: Dispatcher;
}

let loaded: Loaded | null = null;

/** Only the request API and the Agent; the package entry when undici's layout differs. */
function load(): Loaded {
  if (loaded !== null) return loaded;
  const require = createRequire(import.meta.url);
  try {
    const request = require('undici/lib/api/api-request.js') as RequestFn;
    const Agent = require('undici/lib/dispatcher/agent.js') as new () => Dispatcher;
    if (typeof request !== 'function') throw new Error('unexpected undici layout');
    loaded = { request, agent: new Agent() };
  } catch {
    const undici = require('undici') as typeof import('undici');
    loaded = {
      request: function (this: Dispatcher, opts: Dispatcher.RequestOptions) {
        return this.request(opts);
      },
      agent: undici.getGlobalDispatcher(),
    };
  }
  return loaded;
}

/** One HTTP request (as undici's `request(url, options)`); the body is the caller's to consume. */
export function httpRequest(
  url: string,
  options: HttpRequestOptions,
): Promise<Dispatcher.ResponseData> {
  const { request, agent } = load();
  const { dispatcher, ...rest } = options;
  const target = new URL(url);
  return request.call(dispatcher ?? agent, {
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: rest.method ?? 'GET',
  });
}
