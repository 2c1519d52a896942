// JSON error replies from kmi itself, shaped like the upstream's: OpenAI `{"error":{…}}` or Anthropic `{"type":"error",…}`.
import type { ServerResponse } from 'node:http';

/** Stable codes in kmi's own error replies (the `code` field, and the trace's error_code). */
export type ProxyErrorCode =
  | 'kmi_not_found'
  | 'kmi_bad_request'
  | 'kmi_unauthorized'
  | 'kmi_body_too_large'
  | 'kmi_rate_limited'
  | 'kmi_no_key_available'
  | 'kmi_method_not_allowed'
  | 'kmi_internal_error';

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  503: 'overloaded_error',
};

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'service_unavailable_error',
};

/** The error body for `status` in the upstream's dialect. */
export function errorBody(
  anthropic: boolean,
  status: number,
  code: ProxyErrorCode,
  message: string,
): string {
  if (anthropic) {
    return JSON.stringify({
      type: 'error',
      error: {
        type: ANTHROPIC_TYPES[status] ?? (status < 500 ? 'invalid_request_error' : 'api_error'),
        message,
      },
    });
  }
  // Any other 4xx (408, 431, …) is the client's request, not a server fault.
  const type = OPENAI_TYPES[status] ?? (status < 500 ? 'invalid_request_error' : 'server_error');
  return JSON.stringify({ error: { message, type, code } });
}

/** Send a kmi error reply (headers already set on `res`, such as x-kmi-request-id, are kept). */
export function sendError(
  res: ServerResponse,
  status: number,
  anthropic: boolean,
  code: ProxyErrorCode,
  message: string,
  headers?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = errorBody(anthropic, status, code, message);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  if (headers) for (const name in headers) res.setHeader(name, headers[name] as string);
  res.end(body);
}
