import assert from 'node:assert/strict';
import { RecordIoDecoder, encodeRecord } from './recordio.js';

describe('RecordIO', () => {
  it('prefixes the byte length (not the character count)', () => {
    const record = encodeRecord({ type: 'ERROR', error: { message: 'héllo ✓' } });
    const text = record.toString('utf8');
    const newline = text.indexOf('\n');
    const json = Buffer.from(text.slice(newline + 1), 'utf8');
    assert.equal(Number(text.slice(0, newline)), json.length);
    assert.notEqual(json.length, text.slice(newline + 1).length);
  });

  it('decodes several records in one chunk and records split across chunks', () => {
    const events = [{ type: 'HEARTBEAT' }, { type: 'ERROR', error: { message: 'ünïcode' } }, { type: 'RESCIND', rescind: { offer_id: { value: 'o' } } }];
    const stream = Buffer.concat(events.map(encodeRecord));
    // Every split point, including inside the length prefix and inside a multi-byte character.
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new RecordIoDecoder();
      const out = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
      assert.deepEqual(out.map((r) => JSON.parse(r)), events, `cut at ${cut}`);
      assert.equal(decoder.pendingBytes, 0);
    }
    // One byte at a time.
    const decoder = new RecordIoDecoder();
    const out: string[] = [];
    for (const byte of stream) out.push(...decoder.push(Buffer.from([byte])));
    assert.deepEqual(out.map((r) => JSON.parse(r)), events);
  });

  it('refuses what is not RecordIO', () => {
    assert.throws(() => new RecordIoDecoder().push(Buffer.from('abc\n{}')), /bad record length/);
    assert.throws(() => new RecordIoDecoder().push(Buffer.from('1'.repeat(30))), /too long/);
    assert.throws(() => new RecordIoDecoder(10).push(Buffer.from('11\n')), /exceeds/);
  });
});
