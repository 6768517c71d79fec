// RecordIO, the framing of the SUBSCRIBE stream: `<byte length>\n<record>` repeated.
// Chunk boundaries (HTTP chunks, TCP segments, proxies) are unrelated to record boundaries.
import { TesseraError } from '../errors.js';

export function encodeRecord(event: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(event), 'utf8');
  return Buffer.concat([Buffer.from(`${body.length}\n`, 'ascii'), body]);
}

/** A length prefix longer than this is not RecordIO (or not ours); stop rather than buffer forever. */
const MAX_LENGTH_DIGITS = 20;

/** Splits a byte stream into records. Keeps the unfinished tail between pushes. */
export class RecordIoDecoder {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxRecordBytes = 64 * 1024 * 1024) {}

  /** The records completed by `chunk`, in order (as UTF-8 text). */
  push(chunk: Buffer): string[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const records: string[] = [];
    let offset = 0;
    for (;;) {
      const newline = this.buffer.indexOf(0x0a, offset);
      if (newline === -1) {
        if (this.buffer.length - offset > MAX_LENGTH_DIGITS) throw new TesseraError('INVALID_RECORDIO', 'record length prefix too long');
        break;
      }
      const prefix = this.buffer.toString('ascii', offset, newline);
      if (!/^\d{1,20}$/.test(prefix)) throw new TesseraError('INVALID_RECORDIO', `bad record length '${prefix.slice(0, 32)}'`);
      const length = Number(prefix);
      if (length > this.maxRecordBytes) throw new TesseraError('INVALID_RECORDIO', `record of ${length} bytes exceeds ${this.maxRecordBytes}`);
      const end = newline + 1 + length;
      if (end > this.buffer.length) break;
      records.push(this.buffer.toString('utf8', newline + 1, end));
      offset = end;
    }
    this.buffer = offset === 0 ? this.buffer : this.buffer.subarray(offset);
    return records;
  }

  /** Bytes held for a record not yet complete. */
  get pendingBytes(): number {
    return this.buffer.length;
  }
}
