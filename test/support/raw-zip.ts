import * as zlib from 'node:zlib';
import { deflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (zip): zlib.crc32 where Node has it (20.15+, 22.2+), else a table-driven one. */
export function crc32(b: Buffer): number {
  const native = (zlib as unknown as { crc32?: (d: Buffer) => number }).crc32;
  if (native) return native(b) >>> 0;
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One entry of a hand-built (possibly hostile) zip. */
export interface RawEntry {
  /** Raw name bytes (may be non-UTF-8, absolute, contain ".."). */
  name: Buffer;
  data: Buffer;
  /** 0 stored, 8 deflated. */
  method?: 0 | 8;
  /** Unix mode in the high 16 bits of the external attributes (e.g. 0o120777 for a symlink). */
  unixMode?: number;
  /** Sets the UTF-8 name flag (bit 11). */
  utf8?: boolean;
  /** Lies about the uncompressed size in the headers. */
  declaredSize?: number;
}

/** A little-endian field of a zip header: byte offset, width in bytes, value. */
type Field = [at: number, bytes: 2 | 4, value: number];

/** A zip header of `size` bytes: `signature`, then `fields` (zero elsewhere). */
function header(size: number, signature: number, fields: Field[]): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(signature, 0);
  for (const [at, bytes, value] of fields) {
    if (bytes === 2) b.writeUInt16LE(value, at);
    else b.writeUInt32LE(value, at);
  }
  return b;
}

/** Builds a zip archive byte by byte (no validation: duplicates, symlinks, any names and sizes). */
export function rawZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const comp = method === 8 ? deflateRawSync(e.data) : e.data;
    const size = e.declaredSize ?? e.data.length;
    // Version needed, flags, method, CRC, sizes and name length: at these offsets in the local header,
    // 2 bytes further in the central one (whose offset 4 is "version made by").
    const shared: Field[] = [
      [4, 2, 20],
      [6, 2, e.utf8 ? 0x0800 : 0],
      [8, 2, method],
      [14, 4, crc32(e.data)],
      [18, 4, comp.length],
      [22, 4, size >>> 0],
      [26, 2, e.name.length],
    ];
    locals.push(header(30, 0x04034b50, shared), e.name, comp);
    const unix = e.unixMode !== undefined;
    const central: Field[] = [[4, 2, unix ? 0x031e : 20], ...shared.map(([at, bytes, value]): Field => [at + 2, bytes, value]), [38, 4, unix ? (e.unixMode! << 16) >>> 0 : 0], [42, 4, offset]];
    centrals.push(header(46, 0x02014b50, central), e.name);
    offset += 30 + e.name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const end = header(22, 0x06054b50, [
    [8, 2, entries.length],
    [10, 2, entries.length],
    [12, 4, cd.length],
    [16, 4, offset],
  ]);
  return Buffer.concat([...locals, cd, end]);
}
