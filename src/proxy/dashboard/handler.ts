// Routes of the live dashboard under {base}/_kmi/: the page (ui), its data (ui/state, ui/feed) and actions (actions/*).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyContext } from '../context.js';
import { handleAction, isAction } from './actions.js';
import { isAssetRoute, serveAsset } from './assets.js';
import { feedFor } from './feed.js';
import { hostAllowed, sendJson, sendJsonError } from './http.js';
import { buildSnapshot } from './view.js';

/** Admin route names the dashboard answers. */
export function isDashboardRoute(name: string): boolean {
  return name === 'ui' || name.startsWith('ui/') || name.startsWith('actions/');
}

/**
 * The page and its scripts and styles hold no data, so they may load without the proxy token: the
 * page then asks for the token and sends it as a header with every data and action request.
 */
export function isPublicDashboardRoute(name: string): boolean {
  return isAssetRoute(name);
}

/** `{base}/_kmi`, as the browser addresses it. */
export function adminPath(basePath: string): string {
  return `${basePath === '/' ? '' : basePath}/_kmi`;
}

export function handleDashboard(
  ctx: ProxyContext,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  void route(ctx, name, req, res).catch((err: unknown) => {
    ctx.logger.error('proxy.dashboard_error', {
      route: name,
      message: err instanceof Error ? err.message : String(err),
    });
    if (!res.headersSent) {
      sendJsonError(res, 500, 'kmi_internal_error', 'Internal error in the kmi dashboard.');
    } else res.destroy();
  });
}

async function route(
  ctx: ProxyContext,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (isAssetRoute(name)) {
    if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, name, 'GET, HEAD');
    await serveAsset(name, adminPath(ctx.config.proxyBasePath), req, res);
    return;
  }
  if (!hostAllowed(ctx, req)) {
    sendJsonError(
      res,
      403,
      'kmi_forbidden',
      'The dashboard answers only requests addressed to the proxy by a loopback name (or set KMI_PROXY_TOKEN).',
    );
    return;
  }
  if (name.startsWith('actions/')) {
    const action = name.slice('actions/'.length);
    if (!isAction(action)) {
      sendJsonError(
        res,
        404,
        'kmi_not_found',
        `Unknown action ${action}; try unblock or auto-rotate.`,
      );
      return;
    }
    await handleAction(ctx, action, req, res);
    return;
  }
  if (name === 'ui/state') {
    if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, name, 'GET, HEAD');
    sendJson(res, 200, buildSnapshot(ctx));
    return;
  }
  if (name === 'ui/feed') {
    if (method !== 'GET') return notAllowed(res, name, 'GET');
    feedFor(ctx).open(res);
    return;
  }
  sendJsonError(res, 404, 'kmi_not_found', `Unknown dashboard endpoint /_kmi/${name}.`);
}

function notAllowed(res: ServerResponse, name: string, allow: string): void {
  sendJsonError(res, 405, 'kmi_method_not_allowed', `Use ${allow} for /_kmi/${name}.`, { allow });
}
