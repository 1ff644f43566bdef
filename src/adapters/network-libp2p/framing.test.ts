import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MessageTooLargeError, NetworkError } from '../../ports/network-errors.ts';
import { encodeFrame, readFrame } from './framing.ts';

/** A stream that yields `chunks` and then ends, as a remote that half-closed would. */
function streamOf(...chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      yield* chunks;
    },
  };
}

/** Splits `bytes` at the given cut points, as TCP may deliver them. */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

describe('length-prefixed framing', () => {
  test('property: a frame split anywhere reads back as its payload', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (payload, cuts) => {
          const frame = encodeFrame(payload);
          expect(await readFrame(streamOf(...split(frame, cuts)), 600, 'test')).toEqual(payload);
        },
      ),
    );
  });

  test('behavior: the length prefix is an unsigned LEB128 varint', () => {
    expect(encodeFrame(new Uint8Array(0))).toEqual(Uint8Array.of(0));
    expect(encodeFrame(new Uint8Array(300)).subarray(0, 2)).toEqual(Uint8Array.of(0xac, 0x02));
  });

  test('behavior: an oversize frame is refused from its prefix, before the payload arrives', async () => {
    let payloadRequested = false;
    const stream: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        yield encodeFrame(new Uint8Array(101)).subarray(0, 1);
        payloadRequested = true;
        yield new Uint8Array(101);
      },
    };
    const error = await readFrame(stream, 100, 'request').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toMatchObject({ sizeBytes: 101, limitBytes: 100 });
    expect(payloadRequested).toBe(false);
  });

  test.each([
    ['nothing arrives', [], 'the stream closed before a message arrived'],
    ['the payload is cut short', [Uint8Array.of(3, 1, 2)], 'the stream closed after 2 of 3 bytes'],
    ['bytes follow the frame', [Uint8Array.of(1, 7, 8)], 'bytes after the end of the message'],
    [
      'the prefix runs past 5 bytes',
      [Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)],
      'length prefix longer than 5 bytes',
    ],
  ])('behavior: fails with REQUEST_FAILED when %s', async (_case, chunks, message) => {
    const error = await readFrame(streamOf(...chunks), 2 ** 40, 'request').catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(NetworkError);
    expect(error).toMatchObject({ code: 'REQUEST_FAILED', message: `request: ${message}` });
  });
});
