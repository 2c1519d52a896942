// prompt_hint / prompt_head: a few words of the last user message of a request body, secrets masked.
import { maskKey } from '../auth/mask.js';
import { bytesAre, bytesAt, hasEscape, skipSpace, skipString, skipValue } from './json-bytes.js';

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

// The fast path: find the last `"role":"user"` in the raw bytes and read its `content` there (a string,
// or the text parts of an array of blocks), so a long conversation is not decoded and parsed whole.
// Anything unusual falls back to JSON.parse.
const CONTENT = Buffer.from('"content"');
const ROLE = Buffer.from('"role"');
const USER = Buffer.from('"user"');
/** A block's `"type"` key. */
const TYPE = Buffer.from('"type"');
/** A block's `"text"` key, and the type value of a text block. */
const TEXT = Buffer.from('"text"');
const INPUT_TEXT = Buffer.from('"input_text"');
/** How much of a message string is decoded: the hint needs a few words. */
const FAST_WINDOW_BYTES = 4 * 1024;

/**
 * Where the last `"role": "user"` at or before `before` starts, or -1. Each step jumps to the
 * previous `"role"`. (A negative offset would make `lastIndexOf` count from the end: never pass one.)
 */
function lastRoleUser(body: Buffer, before: number): number {
  let at = before;
  while (at >= 0) {
    at = body.lastIndexOf(ROLE, at);
    if (at < 0) return -1;
    const colon = skipSpace(body, at + ROLE.length);
    if (body[colon] === 0x3a /* : */ && bytesAt(body, skipSpace(body, colon + 1), USER)) return at;
    at--;
  }
  return -1;
}

/** A raw (still escaped) JSON string in the body: bytes [start, end), between its quotes. */
interface LiteralRange {
  readonly start: number;
  /** At the closing quote, or at the edge of the window when the string is longer (`cut`). */
  readonly end: number;
  readonly cut: boolean;
}

/** The string whose content is bytes [start, end), as far as the hint needs it. */
function windowed(start: number, end: number): LiteralRange {
  const limit = start + FAST_WINDOW_BYTES;
  return end > limit ? { start, end: limit, cut: true } : { start, end, cut: false };
}

/** A user message's content as found in the bytes. */
interface ContentAt {
  /** The string, or the text parts of the array, in order. */
  readonly parts: readonly LiteralRange[];
  /** The bytes that decide the hint (cache key): the string, or the whole array when it is short. */
  readonly key: LiteralRange | null;
  readonly array: boolean;
}

/**
 * The `content` of the message whose role starts at `at`; null when it is not found right there or
 * is neither a string nor an array (the full parse decides then). Strings are scanned as bytes: no
 * byte of a multibyte UTF-8 character is a quote or a backslash.
 */
function contentAfter(body: Buffer, at: number): ContentAt | null {
  const content = body.indexOf(CONTENT, at);
  if (content < 0) return null;
  // Another role before this content: the content belongs to a later message (or keys are reversed).
  if (body.lastIndexOf(ROLE, content) > at) return null;
  let i = skipSpace(body, content + CONTENT.length);
  if (body[i] !== 0x3a /* : */) return null;
  i = skipSpace(body, i + 1);
  if (body[i] === 0x5b /* [ */) return arrayContentAt(body, i);
  if (body[i] !== 0x22 /* " */) return null;
  const start = i + 1;
  const limit = Math.min(body.length, start + FAST_WINDOW_BYTES);
  for (let j = start; j < limit; j++) {
    const byte = body[j];
    if (byte === 0x5c /* \ */) j++;
    else if (byte === 0x22) return stringContent({ start, end: j, cut: false });
  }
  return stringContent({ start, end: limit, cut: true });
}

function stringContent(range: LiteralRange): ContentAt {
  return { parts: [range], key: range, array: false };
}

/**
 * The text parts of the content array at `open`: its strings and the `text` of its
 * `{"type": "text" | "input_text"}` blocks, as `contentText` reads them; other blocks (images,
 * tool results) are skipped without being decoded. Null when the array is malformed or a key it
 * needs is written with escapes.
 */
function arrayContentAt(body: Buffer, open: number): ContentAt | null {
  const parts: LiteralRange[] = [];
  let i = skipSpace(body, open + 1);
  if (body[i] !== 0x5d /* ] */) {
    for (;;) {
      const c = body[i];
      let end: number;
      if (c === 0x22) {
        end = skipString(body, i);
        if (end > 0) parts.push(windowed(i + 1, end - 1));
      } else if (c === 0x7b /* { */) {
        end = blockText(body, i, parts);
      } else end = skipValue(body, i);
      if (end < 0) return null;
      i = skipSpace(body, end);
      if (body[i] === 0x2c /* , */) i = skipSpace(body, i + 1);
      else if (body[i] === 0x5d) break;
      else return null;
    }
  }
  const whole = { start: open, end: i + 1, cut: false };
  return { parts, key: whole.end - whole.start <= FAST_WINDOW_BYTES ? whole : null, array: true };
}

/** Read the block object at `open`: push its text when it is a text block. Index past it, or -1. */
function blockText(body: Buffer, open: number, parts: LiteralRange[]): number {
  let isText = false;
  let text: LiteralRange | null = null;
  let i = skipSpace(body, open + 1);
  if (body[i] !== 0x7d /* } */) {
    for (;;) {
      if (body[i] !== 0x22) return -1;
      const keyEnd = skipString(body, i);
      if (keyEnd < 0 || hasEscape(body, i, keyEnd)) return -1;
      const key = i;
      i = skipSpace(body, keyEnd);
      if (body[i] !== 0x3a /* : */) return -1;
      i = skipSpace(body, i + 1);
      const valueEnd = skipValue(body, i);
      if (valueEnd < 0) return -1;
      if (body[i] === 0x22) {
        if (bytesAre(body, key, keyEnd, TYPE)) {
          if (hasEscape(body, i, valueEnd)) return -1;
          isText = bytesAre(body, i, valueEnd, TEXT) || bytesAre(body, i, valueEnd, INPUT_TEXT);
        } else if (bytesAre(body, key, keyEnd, TEXT)) {
          text = windowed(i + 1, valueEnd - 1);
        }
      }
      i = skipSpace(body, valueEnd);
      if (body[i] === 0x2c /* , */) i = skipSpace(body, i + 1);
      else if (body[i] === 0x7d) break;
      else return -1;
    }
  }
  if (isText && text !== null) parts.push(text);
  return i + 1;
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
  readonly array: boolean;
  readonly hint: PromptHint;
}
const recentHints: KnownHint[] = [];
const RECENT_HINTS_MAX = 32;

function knownHint(body: Buffer, key: LiteralRange, array: boolean): PromptHint | undefined {
  const length = key.end - key.start;
  for (let n = recentHints.length - 1; n >= 0; n--) {
    const known = recentHints[n]!;
    if (
      known.bytes.length === length &&
      known.cut === key.cut &&
      known.array === array &&
      body.compare(known.bytes, 0, length, key.start, key.end) === 0
    ) {
      return known.hint;
    }
  }
  return undefined;
}

function rememberHint(body: Buffer, key: LiteralRange, array: boolean, hint: PromptHint): void {
  if (recentHints.length >= RECENT_HINTS_MAX) recentHints.shift();
  // A copy of its own (not a slice of the body or of Node's shared pool), so nothing else is kept alive.
  const bytes = Buffer.allocUnsafeSlow(key.end - key.start);
  body.copy(bytes, 0, key.start, key.end);
  recentHints.push({ bytes, cut: key.cut, array, hint });
}

/**
 * Walk back over the user messages read straight from the bytes; `use` decides for each one. An
 * agent's tool loop can put many text-less turns (tool results) after the last real prompt: the walk
 * goes as far back as it takes, which reads each byte at most about once, still far cheaper than
 * the full parse it replaces.
 */
function lastUserContent<T>(
  body: Buffer,
  use: (body: Buffer, content: ContentAt) => T | null | 'empty',
): T | null {
  let before = body.length;
  for (;;) {
    const at = lastRoleUser(body, before - 1);
    if (at < 0) return null;
    const content = contentAfter(body, at);
    if (content === null) return null;
    const found = use(body, content);
    if (found !== 'empty') return found;
    before = at;
  }
}

/** The last user message's text read straight from the bytes, or null to fall back to a full parse. */
export function fastPromptText(body: Buffer): string | null {
  return lastUserContent(body, textOf);
}

/** The content's text (parts joined by spaces, as far as a hint can reach), or 'empty'. */
function textOf(body: Buffer, content: ContentAt): string | null | 'empty' {
  let text: string | null = null;
  for (const part of content.parts) {
    const t = decodeRange(body, part);
    if (t === null) return null;
    text = text === null ? t : `${text} ${t}`;
    if (text.length > SCAN_CHARS) break; // the hint never looks further
  }
  return text === null || text.trim() === '' ? 'empty' : text;
}

/** The hint of the last user message read straight from the bytes (cached by its bytes), or null. */
function fastPromptHint(body: Buffer): PromptHint | null {
  return lastUserContent(body, hintOf);
}

function hintOf(body: Buffer, content: ContentAt): PromptHint | null | 'empty' {
  const { key, array } = content;
  if (key !== null) {
    const known = knownHint(body, key, array);
    if (known !== undefined) return known;
  }
  const text = textOf(body, content);
  if (text === null || text === 'empty') return text;
  const hint = hintFromText(text);
  if (key !== null) rememberHint(body, key, array, hint);
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
