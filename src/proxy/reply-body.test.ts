// ReplyBody: held until a decision, prefix read without losing bytes, relayed with backpressure, dropped on demand.
import { PassThrough, Readable, Writable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Cancellation } from './cancel.js';
import { ReplyBody, replyBodyFrom } from './reply-body.js';

function sink(): { res: ServerResponse; data: () => string } {
  const parts: Buffer[] = [];
  const w = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      setImmediate(cb);
    },
  });
  return { res: w as unknown as ServerResponse, data: () => Buffer.concat(parts).toString() };
}

describe('ReplyBody', () => {
  it('reads a small body whole as its prefix', async () => {
    const body = replyBodyFrom(Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
    expect(await body.readPrefix(100)).toEqual({ prefix: Buffer.from('abcd'), complete: true });
  });

  it('keeps the prefix held, so relaying afterwards sends every byte once', async () => {
    const src = new PassThrough();
    const body = replyBodyFrom(src);
    src.write('aaaa');
    src.write('bbbb');
    const { prefix, complete } = await body.readPrefix(6);
    expect(complete).toBe(false);
    expect(prefix.toString()).toBe('aaaabbbb');
    const out = sink();
    const relayed = body.pipeTo(out.res, Cancellation.forResponse(out.res));
    src.write('cccc');
    src.end('dd');
    expect(await relayed).toBe('ok');
    expect(out.data()).toBe('aaaabbbbccccdd');
  });

  it('relays a body that ended before the relay: every held chunk in order, or none', async () => {
    const body = new ReplyBody();
    for (const part of ['one ', 'two ', 'three']) body.push(Buffer.from(part));
    body.end();
    const out = sink();
    expect(await body.pipeTo(out.res, Cancellation.forResponse(out.res))).toBe('ok');
    expect(out.data()).toBe('one two three');

    const empty = new ReplyBody();
    empty.end();
    const none = sink();
    expect(await empty.pipeTo(none.res, Cancellation.forResponse(none.res))).toBe('ok');
    expect(none.data()).toBe('');
  });

  it('pauses the source while nobody consumes and resumes on relay (backpressure)', async () => {
    let pauses = 0;
    let resumes = 0;
    const body = new ReplyBody();
    body.attach({ pause: () => pauses++, resume: () => resumes++, abort: () => {} });
    body.push(Buffer.alloc(70 * 1024));
    expect(pauses).toBe(1);
    const out = sink();
    const relayed = body.pipeTo(out.res, Cancellation.forResponse(out.res));
    // the sink drains the held 70 KiB, then the source is resumed
    while (resumes === 0) await new Promise((r) => setImmediate(r));
    body.push(Buffer.from('x'));
    body.end();
    expect(await relayed).toBe('ok');
    expect(out.data().length).toBe(70 * 1024 + 1);
  });

  it('breaks the client side when the source fails mid-relay', async () => {
    const body = new ReplyBody();
    const out = new PassThrough();
    out.resume();
    const relayed = body.pipeTo(
      out as unknown as ServerResponse,
      Cancellation.forResponse(out as unknown as ServerResponse),
    );
    body.push(Buffer.from('partial'));
    body.fail(new Error('reset'));
    expect(await relayed).toBe('stream_aborted');
    expect(out.destroyed).toBe(true);
  });

  it('aborts the source when the client goes away mid-relay', async () => {
    let aborted = 0;
    const body = new ReplyBody();
    body.attach({ pause: () => {}, resume: () => {}, abort: () => aborted++ });
    const out = new PassThrough();
    const relayed = body.pipeTo(
      out as unknown as ServerResponse,
      Cancellation.forResponse(out as unknown as ServerResponse),
    );
    body.push(Buffer.from('one'));
    out.destroy();
    expect(await relayed).toBe('client_aborted');
    expect(aborted).toBe(1);
  });

  it('drops small bodies by reading them, and cuts big ones', () => {
    let aborted = 0;
    const body = new ReplyBody();
    body.attach({ pause: () => {}, resume: () => {}, abort: () => aborted++ });
    body.discard();
    body.push(Buffer.alloc(100 * 1024));
    expect(aborted).toBe(0);
    body.push(Buffer.alloc(100 * 1024));
    expect(aborted).toBe(1);
  });

  it('rejects a prefix read when the source fails first', async () => {
    const body = new ReplyBody();
    const p = body.readPrefix(10);
    body.fail(new Error('boom'));
    await expect(p).rejects.toThrow('boom');
  });
});
