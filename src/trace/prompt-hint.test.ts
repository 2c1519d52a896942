import { describe, expect, it } from 'vitest';
import {
  fastPromptText,
  hintFromText,
  maskSecrets,
  promptHint,
  promptText,
  PROMPT_HINT_MAX_BODY_BYTES,
} from './prompt-hint.js';

const body = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('promptHint', () => {
  it('takes the last user message of an OpenAI body', () => {
    const h = promptHint(
      body({
        model: 'kimi',
        messages: [
          { role: 'system', content: 'You are helpful' },
          { role: 'user', content: 'first question' },
          { role: 'assistant', content: 'answer' },
          { role: 'user', content: '  Fix   the\n\tbug  ' },
        ],
      }),
    );
    expect(h).toEqual({ hint: 'Fix the bug', head: 'Fix' });
  });

  it('reads Anthropic content arrays and skips a trailing text-less tool_result turn', () => {
    const h = promptHint(
      body({
        system: 'sys',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: {} },
              { type: 'text', text: 'Refactor the' },
              { type: 'text', text: 'parser module' },
            ],
          },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'x', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'ok' }] },
        ],
      }),
    );
    expect(h).toEqual({ hint: 'Refactor the parser module', head: 'Refactor' });
  });

  it('cuts at 6 words and marks the cut', () => {
    const h = promptHint(
      body({ messages: [{ role: 'user', content: 'one two three four five six seven' }] }),
    );
    expect(h.hint).toBe('one two three four five six…');
  });

  it('cuts at 60 characters', () => {
    const long = 'a'.repeat(30) + ' ' + 'b'.repeat(45);
    const h = promptHint(body({ messages: [{ role: 'user', content: long }] }));
    expect(h.hint).toBe(`${'a'.repeat(30)} ${'b'.repeat(29)}…`);
    expect(h.hint!.length).toBe(61);
  });

  it('limits the head to 40 characters', () => {
    const h = hintFromText('x'.repeat(50));
    expect(h.head).toBe('x'.repeat(40));
  });

  it('reads prompt and input strings', () => {
    expect(promptHint(body({ prompt: 'complete this' })).hint).toBe('complete this');
    expect(promptHint(body({ prompt: ['a', 'last prompt'] })).hint).toBe('last prompt');
    expect(promptHint(body({ input: 'responses api' })).hint).toBe('responses api');
    expect(
      promptHint(
        body({ input: [{ role: 'user', content: [{ type: 'input_text', text: 'typed input' }] }] }),
      ).hint,
    ).toBe('typed input');
  });

  it('masks secrets in the hint and head', () => {
    const key = 'sk-live0123456789abcdefWXYZ';
    const h = promptHint(body({ messages: [{ role: 'user', content: `${key} is my key` }] }));
    expect(h.hint).toBe('sk-l…WXYZ is my key');
    expect(h.head).toBe('sk-l…WXYZ');
    expect(JSON.stringify(h)).not.toContain(key);

    const bearer = promptHint(
      body({ messages: [{ role: 'user', content: 'use Bearer abcdef123456 now' }] }),
    );
    expect(bearer.hint).toBe('use Bearer abcd…3456 now');

    const hex = '0123456789abcdef'.repeat(2);
    expect(maskSecrets(`token ${hex} end`)).toBe('token 0123…cdef end');
    const b64 = 'QWxhZGRpbjpvcGVuIHNlc2FtZQ==';
    expect(maskSecrets(b64)).toBe('QWxh…ZQ==');
    // Long ordinary words and paths are left alone.
    expect(maskSecrets('internationalization /usr/local/share/applications')).toBe(
      'internationalization /usr/local/share/applications',
    );
  });

  it('gives nulls for null, empty, invalid, non-object, text-less and huge bodies', () => {
    const none = { hint: null, head: null };
    expect(promptHint(null)).toEqual(none);
    expect(promptHint(Buffer.alloc(0))).toEqual(none);
    expect(promptHint(Buffer.from('{not json'))).toEqual(none);
    expect(promptHint(Buffer.from('[1,2]'))).toEqual(none);
    expect(promptHint(Buffer.from('"str"'))).toEqual(none);
    expect(promptHint(body({ messages: [{ role: 'assistant', content: 'hi' }] }))).toEqual(none);
    expect(promptHint(body({ messages: [{ role: 'user', content: '   ' }] }))).toEqual(none);
    const huge = Buffer.from(
      JSON.stringify({
        messages: [{ role: 'user', content: 'x '.repeat(PROMPT_HINT_MAX_BODY_BYTES / 2 + 10) }],
      }),
    );
    expect(promptHint(huge)).toEqual(none);
  });

  it('handles a very long message without scanning all of it', () => {
    const h = promptHint(body({ messages: [{ role: 'user', content: 'word '.repeat(100_000) }] }));
    expect(h.hint).toBe('word word word word word word…');
  });
});

describe('fastPromptText (reads the last user message without parsing the whole body)', () => {
  const body = (v: unknown) => Buffer.from(JSON.stringify(v));

  it('agrees with the full parse on OpenAI-style bodies', () => {
    const b = body({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'an answer with "role":"user" inside' },
        { role: 'user', content: 'Fix the \\"bug\\" in café.ts\nplease' },
      ],
    });
    expect(fastPromptText(b)).toBe('Fix the \\"bug\\" in café.ts\nplease');
    expect(promptHint(b)).toEqual(promptHint(Buffer.from(` ${b.toString()}`)));
  });

  it('finds the closing quote after escaped backslashes and quotes', () => {
    const b = body({ messages: [{ role: 'user', content: 'dir C:\\ and "quoted\\" end\\' }] });
    expect(fastPromptText(b)).toBe('dir C:\\ and "quoted\\" end\\');
  });

  it('skips an empty last user message', () => {
    expect(
      fastPromptText(
        body({
          messages: [
            { role: 'user', content: 'real one' },
            { role: 'user', content: '  ' },
          ],
        }),
      ),
    ).toBe('real one');
  });

  it('handles spaced JSON and cuts very long strings safely', () => {
    const long = `${'word '.repeat(10_000)}end`;
    const b = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: long }] }, null, 1));
    expect(fastPromptText(b)?.startsWith('word word')).toBe(true);
    expect(promptHint(b).hint).toBe('word word word word word word…');
  });

  it('reads content arrays: strings and text blocks at the top level, nothing nested', () => {
    const b = body({
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', data: 'AAAA' } },
            { text: 'keys in any order', type: 'text' },
            'a plain string',
            { type: 'tool_result', content: [{ type: 'text', text: 'nested: not the user' }] },
            { type: 'input_text', text: 'say \\"hi\\" \\u00e9 😀' },
            { type: 'text', text: 42 },
            { type: 'text' },
          ],
        },
      ],
    });
    expect(fastPromptText(b)).toBe('keys in any order a plain string say \\"hi\\" \\u00e9 😀');
    expect(fastPromptText(b)).toBe(promptText(JSON.parse(b.toString())));
  });

  it('falls back (null) for content before role or keys written with escapes, and promptHint still answers', () => {
    const reversed = body({ messages: [{ content: 'reversed order', role: 'user' }] });
    expect(fastPromptText(reversed)).toBeNull();
    expect(promptHint(reversed).hint).toBe('reversed order');
    const escaped = Buffer.from(
      '{"messages":[{"role":"user","content":[{"\\u0074ype":"text","text":"escaped key"}]}]}',
    );
    expect(fastPromptText(escaped)).toBeNull();
    expect(promptHint(escaped).hint).toBe('escaped key');
  });

  it('ends its walk at the first byte (a role key there is not searched again from the end)', () => {
    expect(fastPromptText(Buffer.from('"role":"user","content":"  "'))).toBeNull();
    expect(fastPromptText(Buffer.from('"role":"tool","content":"x"'))).toBeNull();
    expect(fastPromptText(Buffer.from('"role":"user","content":"here"'))).toBe('here');
  });

  it('walks back over a long tool loop to the last prompt with text', () => {
    const anthropic: unknown[] = [
      { role: 'user', content: [{ type: 'text', text: 'Refactor it' }] },
    ];
    const openai: unknown[] = [{ role: 'user', content: 'Refactor it' }];
    for (let i = 0; i < 100; i++) {
      anthropic.push(
        {
          role: 'assistant',
          content: [{ type: 'tool_use', id: `t${i}`, name: 'read', input: {} }],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: `t${i}`, content: 'ok' }] },
      );
      openai.push(
        { role: 'assistant', content: null, tool_calls: [{ id: `c${i}`, type: 'function' }] },
        { role: 'tool', tool_call_id: `c${i}`, content: 'ok' },
      );
    }
    expect(fastPromptText(body({ messages: anthropic }))).toBe('Refactor it');
    expect(fastPromptText(body({ messages: openai }))).toBe('Refactor it');
  });

  it('agrees with the full parse on many agent-shaped bodies, compact or spaced', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const words = [
      'fix',
      'the',
      'bug',
      'in',
      '"parser"',
      'C:\\dir\\',
      'café',
      '😀',
      '\\n',
      ' ',
      '',
    ];
    const text = () => Array.from({ length: rnd(12) }, () => words[rnd(words.length)]).join(' ');
    const block = (): unknown => {
      switch (rnd(6)) {
        case 0:
          return { type: 'text', text: text() };
        case 1:
          return { text: text(), type: 'input_text', cache_control: { type: 'ephemeral' } };
        case 2:
          return {
            type: 'tool_result',
            tool_use_id: 't',
            content: [{ type: 'text', text: text() }],
          };
        case 3:
          return { type: 'image', source: { data: 'x'.repeat(rnd(50)) } };
        case 4:
          return text();
        default:
          return { type: 'tool_result', content: text(), is_error: rnd(2) === 0 };
      }
    };
    const content = (): unknown => (rnd(3) === 0 ? text() : Array.from({ length: rnd(4) }, block));
    for (let n = 0; n < 300; n++) {
      const messages = Array.from({ length: 1 + rnd(5) }, (_, i) =>
        i % 2 === 0
          ? { role: 'user', content: content() }
          : { role: 'assistant', content: [{ type: 'tool_use', id: 't', input: { text: 'no' } }] },
      );
      const value = { model: 'k', messages, stream: rnd(2) === 0 };
      for (const b of [body(value), Buffer.from(JSON.stringify(value, null, 2))]) {
        const full = promptText(JSON.parse(b.toString()));
        expect(promptHint(b)).toEqual(hintFromText(full));
        // The fast path reads every one of them; only bodies without any user text give null.
        expect(fastPromptText(b)).toBe(full.trim() === '' ? null : full);
      }
    }
  });
});

describe('promptHint for repeated messages', () => {
  it('gives each message its own hint however often messages repeat or are pushed out', () => {
    const chat = (text: string) =>
      body({
        messages: [
          { role: 'system', content: 'sys' },
          { role: 'user', content: text },
        ],
      });
    const texts = Array.from(
      { length: 100 },
      (_, i) => `message number ${i} sk-${'q'.repeat(30)}${i}`,
    );
    const first = texts.map((t) => promptHint(chat(t)));
    for (let round = 0; round < 3; round++) {
      for (let i = texts.length - 1; i >= 0; i--) {
        expect(promptHint(chat(texts[i]!))).toEqual(first[i]);
      }
    }
    expect(first[7]!.hint).toBe(hintFromText(texts[7]!).hint);
    expect(first[7]!.hint).not.toContain('q'.repeat(30));
    // The same words behind an empty user turn: the empty turn is skipped either way.
    const withEmpty = body({
      messages: [
        { role: 'user', content: texts[3] },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: '   ' },
      ],
    });
    expect(promptHint(withEmpty)).toEqual(first[3]);
  });
});
