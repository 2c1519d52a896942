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
      if (bytesAt(body, i, USER)) return at;
    }
    at--;
  }
  return -1;
}

/** True when `needle` is at `i` (a short needle: cheaper than a native compare call). */
function bytesAt(body: Buffer, i: number, needle: Buffer): boolean {
  if (i + needle.length > body.length) return false;
  for (let k = 0; k < needle.length; k++) if (body[i + k] !== needle[k]) return false;
  return true;
}

function isSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** Where a message's raw (still escaped) string `content` sits in the body: bytes [start, end). */
interface LiteralRange {
  readonly start: number;
  /** At the closing quote, or at the edge of the window when the string is longer (`cut`). */
  readonly end: number;
  readonly cut: boolean;
}

/**
 * The string `content` of the message whose role starts at `at`, at most FAST_WINDOW_BYTES of it;
 * null when it is not a plain string here. The bytes are scanned as they are: no byte of a
 * multibyte UTF-8 character is a quote or a backslash.
 */
function contentRangeAfter(body: Buffer, at: number): LiteralRange | null {
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
  const start = i + 1;
  const limit = Math.min(body.length, start + FAST_WINDOW_BYTES);
  for (let j = start; j < limit; j++) {
    const byte = body[j];
    if (byte === 0x5c /* \ */) j++;
    else if (byte === 0x22) return { start, end: j, cut: false };
  }
  return { start, end: limit, cut: true };
}

/** The literal's text as JSON would read it, or null when it does not decode. */
function decodeRange(body: Buffer, range: LiteralRange): string | null {
  let literal = body.toString('utf8', range.start, range.end);
  // A string longer than the window is cut; drop a half escape sequence at the cut.
  if (range.cut) literal = literal.replace(/\\(u[0-9a-fA-F]{0,3})?$/, '');
  try {
    return JSON.parse(`"${literal}"`) as string;
  } catch {
    return null;
  }
}

/**
 * Hints of recently seen messages, matched by their raw bytes. An agent's tool loop sends the same
 * last user message turn after turn, so most requests skip the decode, collapse and mask; a match
 * costs a length check and a memcmp. Memory only, newest last.
 */
interface KnownHint {
  readonly bytes: Buffer;
  readonly cut: boolean;
  readonly hint: PromptHint;
}
const recentHints: KnownHint[] = [];
const RECENT_HINTS_MAX = 32;

function knownHint(body: Buffer, range: LiteralRange): PromptHint | undefined {
  const length = range.end - range.start;
  for (let n = recentHints.length - 1; n >= 0; n--) {
    const known = recentHints[n]!;
    if (
      known.bytes.length === length &&
      known.cut === range.cut &&
      body.compare(known.bytes, 0, length, range.start, range.end) === 0
    ) {
      return known.hint;
    }
  }
  return undefined;
}

function rememberHint(body: Buffer, range: LiteralRange, hint: PromptHint): void {
  if (recentHints.length >= RECENT_HINTS_MAX) recentHints.shift();
  // A copy of its own (not a slice of the body or of Node's shared pool), so nothing else is kept alive.
  const bytes = Buffer.allocUnsafeSlow(range.end - range.start);
  body.copy(bytes, 0, range.start, range.end);
  recentHints.push({ bytes, cut: range.cut, hint });
}

/** Walk back over the user messages read straight from the bytes; `use` decides for each one. */
function lastUserLiteral<T>(
  body: Buffer,
  use: (body: Buffer, range: LiteralRange) => T | null | 'empty',
): T | null {
  let before = body.length;
  for (let tries = 0; tries < 8; tries++) {
    const at = lastRoleUser(body, before - 1);
    if (at < 0) return null;
    const range = contentRangeAfter(body, at);
    if (range === null) return null;
    const found = use(body, range);
    if (found !== 'empty') return found;
    before = at;
  }
  return null;
}

/** The last user message's text read straight from the bytes, or null to fall back to a full parse. */
export function fastPromptText(body: Buffer): string | null {
  return lastUserLiteral(body, textOf);
}

function textOf(body: Buffer, range: LiteralRange): string | null | 'empty' {
  const text = decodeRange(body, range);
  if (text === null) return null;
  return text.trim() === '' ? 'empty' : text;
}

/** The hint of the last user message read straight from the bytes (cached by its bytes), or null. */
function fastPromptHint(body: Buffer): PromptHint | null {
  return lastUserLiteral(body, hintOf);
}

function hintOf(body: Buffer, range: LiteralRange): PromptHint | null | 'empty' {
  const known = knownHint(body, range);
  if (known !== undefined) return known;
  const text = textOf(body, range);
  if (text === null || text === 'empty') return text;
  const hint = hintFromText(text);
  rememberHint(body, range, hint);
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
