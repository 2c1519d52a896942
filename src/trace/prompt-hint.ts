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
  // Only the words that can reach the hint are masked: the rest of a long message is never shown.
  const leading = collapsed.split(' ', HINT_WORDS + 1);
  const words = maskSecrets(leading.slice(0, HINT_WORDS).join(' ')).split(' ');
  let hint = words.join(' ');
  let cut = leading.length > HINT_WORDS || text.length > SCAN_CHARS;
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

// The fast path: find the last `"role":"user"` in the raw bytes and read its string `content`, so a
// long conversation is not decoded and parsed whole. Anything unusual falls back to JSON.parse.
const CONTENT = Buffer.from('"content"');
const ROLE = Buffer.from('"role"');
const USER = Buffer.from('"user"');
/** How much of a message string is decoded: the hint needs a few words. */
const FAST_WINDOW_BYTES = 4 * 1024;
/** Messages looked at from the end before giving up on the fast path. */
const FAST_MAX_MESSAGES = 64;

/** Where the last `"role": "user"` before `before` starts, or -1. Each step jumps to the previous `"role"`. */
function lastRoleUser(body: Buffer, before: number): number {
  let at = before;
  for (let n = 0; n < FAST_MAX_MESSAGES; n++) {
    at = body.lastIndexOf(ROLE, at);
    if (at < 0) return -1;
    let i = at + ROLE.length;
    while (isSpace(body[i])) i++;
    if (body[i] === 0x3a /* : */) {
      i++;
      while (isSpace(body[i])) i++;
      if (body.compare(USER, 0, USER.length, i, i + USER.length) === 0) return at;
    }
    at--;
  }
  return -1;
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * The raw (still escaped) string `content` of the message whose role starts at `at`, at most
 * FAST_WINDOW_BYTES of it; null when it is not a plain string here.
 */
function contentLiteralAfter(body: Buffer, at: number): string | null {
  const content = body.indexOf(CONTENT, at);
  if (content < 0) return null;
  const nextRole = body.indexOf(ROLE, at + 1);
  if (nextRole >= 0 && nextRole < content) return null; // content came before role: let JSON.parse decide
  let i = content + CONTENT.length;
  while (isSpace(body[i])) i++;
  if (body[i] !== 0x3a /* : */) return null;
  i++;
  while (isSpace(body[i])) i++;
  if (body[i] !== 0x22 /* " */) return null;
  const windowText = body.toString('utf8', i + 1, Math.min(body.length, i + 1 + FAST_WINDOW_BYTES));
  let end = -1;
  for (let j = 0; j < windowText.length; j++) {
    const c = windowText.charCodeAt(j);
    if (c === 0x5c /* \ */) j++;
    else if (c === 0x22) {
      end = j;
      break;
    }
  }
  // A string longer than the window is cut; drop a half escape sequence at the cut.
  return end >= 0 ? windowText.slice(0, end) : windowText.replace(/\\(u[0-9a-fA-F]{0,3})?$/, '');
}

function decodeLiteral(literal: string): string | null {
  try {
    return JSON.parse(`"${literal}"`) as string;
  } catch {
    return null;
  }
}

/**
 * Hints of recently seen messages, keyed by the raw message text. An agent's tool loop sends the same
 * last user message turn after turn, so most requests skip the decode, collapse and mask. Memory only.
 */
const recentHints = new Map<string, PromptHint>();
const RECENT_HINTS_MAX = 32;

function rememberHint(literal: string, hint: PromptHint): void {
  if (recentHints.size >= RECENT_HINTS_MAX) {
    const oldest = recentHints.keys().next().value;
    if (oldest !== undefined) recentHints.delete(oldest);
  }
  recentHints.set(literal, hint);
}

/** Walk back over the user messages read straight from the bytes; `use` decides for each one. */
function lastUserLiteral<T>(body: Buffer, use: (literal: string) => T | null | 'empty'): T | null {
  let before = body.length;
  for (let tries = 0; tries < 8; tries++) {
    const at = lastRoleUser(body, before - 1);
    if (at < 0) return null;
    const literal = contentLiteralAfter(body, at);
    if (literal === null) return null;
    const found = use(literal);
    if (found !== 'empty') return found;
    before = at;
  }
  return null;
}

/** The last user message's text read straight from the bytes, or null to fall back to a full parse. */
export function fastPromptText(body: Buffer): string | null {
  return lastUserLiteral(body, textOf);
}

function textOf(literal: string): string | null | 'empty' {
  const text = decodeLiteral(literal);
  if (text === null) return null;
  return text.trim() === '' ? 'empty' : text;
}

/** The hint of the last user message read straight from the bytes (cached by its text), or null. */
function fastPromptHint(body: Buffer): PromptHint | null {
  return lastUserLiteral(body, hintOf);
}

function hintOf(literal: string): PromptHint | null | 'empty' {
  const known = recentHints.get(literal);
  if (known !== undefined) return known;
  const text = textOf(literal);
  if (text === null || text === 'empty') return text;
  const hint = hintFromText(text);
  rememberHint(literal, hint);
  return hint;
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
  try {
    const fast = fastPromptHint(body);
    if (fast !== null) return fast;
  } catch {
    // fall through to the full parse
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
