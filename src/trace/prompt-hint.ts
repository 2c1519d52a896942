// prompt_hint / prompt_head: a few words of the last user message of a request body, secrets masked.
import { maskKey } from '../auth/mask.js';

export interface PromptHint {
  /** First 6 words / 60 characters of the last user message, whitespace collapsed, `…` when cut. */
  readonly hint: string | null;
  /** First word of the hint, at most 40 characters. */
  readonly head: string | null;
}

/** Bodies above this are not parsed: the hint is a convenience, never worth a long JSON.parse. */
export const PROMPT_HINT_MAX_BODY_BYTES = 1024 * 1024;
const HINT_WORDS = 6;
const HINT_CHARS = 60;
const HEAD_CHARS = 40;
/** Only this much of the message is looked at; the hint needs far less. */
const SCAN_CHARS = 4096;

const NONE: PromptHint = { hint: null, head: null };

// `Bearer <token>`, `sk-…` keys, and long runs of token characters (hex, base64, base64url).
const SECRET_RE = /(\bBearer\s+)(\S+)|\bsk-[A-Za-z0-9_-]{6,}|[A-Za-z0-9+=_-]{24,}/gi;
const HAS_DIGIT = /\d/;
const HAS_LETTER = /[A-Za-z]/;

/** Replace secret-looking tokens with their masked form (`sk-a…wxyz`). */
export function maskSecrets(text: string): string {
  return text.replace(SECRET_RE, (match: string, bearer?: string, token?: string) => {
    if (bearer !== undefined && token !== undefined) return `${bearer}${maskKey(token)}`;
    if (/^sk-/i.test(match)) return maskKey(match);
    // Random tokens mix letters and digits; a long run of letters only (or digits only) is a word or a number.
    return HAS_DIGIT.test(match) && HAS_LETTER.test(match) ? maskKey(match) : match;
  });
}

/** Hint and head from raw text (already the user's message). */
export function hintFromText(text: string): PromptHint {
  const collapsed = text.slice(0, SCAN_CHARS).replace(/\s+/g, ' ').trim();
  if (collapsed === '') return NONE;
  const masked = maskSecrets(collapsed);
  const words = masked.split(' ');
  let hint = words.slice(0, HINT_WORDS).join(' ');
  let cut = words.length > HINT_WORDS || text.length > SCAN_CHARS;
  if (hint.length > HINT_CHARS) {
    hint = hint.slice(0, HINT_CHARS).trimEnd();
    cut = true;
  }
  if (cut) hint += '…';
  const head = (words[0] ?? '').slice(0, HEAD_CHARS);
  return { hint, head: head === '' ? null : head };
}

/** Text parts of one message's `content` (string, or an array of `{type:'text'|'input_text', text}` parts). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: string[] = [];
  for (const part of content) {
    if (typeof part === 'string') parts.push(part);
    else if (typeof part === 'object' && part !== null) {
      const p = part as { type?: unknown; text?: unknown };
      if ((p.type === 'text' || p.type === 'input_text') && typeof p.text === 'string')
        parts.push(p.text);
    }
  }
  return parts.join(' ');
}

/** The last user message with some text (agents often end with a text-less tool_result turn). */
function lastUserText(messages: readonly unknown[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (typeof m !== 'object' || m === null) continue;
    const msg = m as { role?: unknown; content?: unknown };
    if (msg.role !== 'user') continue;
    const text = contentText(msg.content);
    if (text.trim() !== '') return text;
  }
  return '';
}

function lastString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    for (let i = v.length - 1; i >= 0; i--) if (typeof v[i] === 'string') return v[i] as string;
  }
  return '';
}

/** The user's text from an OpenAI, Anthropic, completions or responses-style request body. */
export function promptText(parsed: unknown): string {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return '';
  const body = parsed as { messages?: unknown; prompt?: unknown; input?: unknown };
  if (Array.isArray(body.messages)) {
    const text = lastUserText(body.messages);
    if (text !== '') return text;
  }
  const prompt = lastString(body.prompt);
  if (prompt !== '') return prompt;
  if (Array.isArray(body.input) && body.input.some((x) => typeof x === 'object' && x !== null)) {
    return lastUserText(body.input);
  }
  return lastString(body.input);
}

/** Never throws: invalid, empty or oversized bodies give nulls. */
export function promptHint(body: Buffer | null): PromptHint {
  if (body === null || body.length === 0 || body.length > PROMPT_HINT_MAX_BODY_BYTES) return NONE;
  // Cheap pre-check so binary uploads and non-JSON bodies are not decoded and parsed.
  const first = body[0];
  if (
    first !== 0x7b /* { */ &&
    first !== 0x20 &&
    first !== 0x0a &&
    first !== 0x0d &&
    first !== 0x09
  ) {
    return NONE;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return NONE;
  }
  try {
    return hintFromText(promptText(parsed));
  } catch {
    return NONE;
  }
}
