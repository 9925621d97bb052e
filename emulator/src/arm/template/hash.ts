import { createHash } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function rotl32(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}
function mul32(a: number, b: number): number {
  return Math.imul(a, b) >>> 0;
}
function le32(d: Uint8Array, i: number, n: number): number {
  let v = 0;
  for (let j = n - 1; j >= 0; j--) v = ((v << 8) | d[i + j]) >>> 0;
  return v >>> 0;
}

/**
 * The 64-bit Murmur variant ARM's uniqueString() uses (two 32-bit lanes, constants from
 * Microsoft.PowerPlatform.ResourceStack), returned as [high, low] 32-bit halves.
 */
export function murmurHash64(data: Uint8Array): [number, number] {
  const length = data.length;
  let h1 = 0;
  let h2 = 0;
  let i = 0;
  for (; i + 7 < length; i += 8) {
    let k1 = le32(data, i, 4);
    let k2 = le32(data, i + 4, 4);
    k1 = mul32(rotl32(mul32(k1, 597399067), 15), 2869860233);
    h1 = (rotl32((h1 ^ k1) >>> 0, 19) + h2) >>> 0;
    h1 = (mul32(h1, 5) + 1444728091) >>> 0;
    k2 = mul32(rotl32(mul32(k2, 2869860233), 17), 597399067);
    h2 = (rotl32((h2 ^ k2) >>> 0, 13) + h1) >>> 0;
    h2 = (mul32(h2, 5) + 197830471) >>> 0;
  }
  const tail = length - i;
  if (tail > 0) {
    let k1 = le32(data, i, Math.min(tail, 4));
    k1 = mul32(rotl32(mul32(k1, 597399067), 15), 2869860233);
    h1 = (h1 ^ k1) >>> 0;
    if (tail > 4) {
      let k2 = le32(data, i + 4, tail - 4);
      k2 = mul32(rotl32(mul32(k2, 2869860233), 17), 597399067);
      h2 = (h2 ^ k2) >>> 0;
    }
  }
  h1 = (h1 ^ length) >>> 0;
  h2 = (h2 ^ length) >>> 0;
  h1 = (h1 + h2) >>> 0;
  h2 = (h2 + h1) >>> 0;
  const fmix = (h: number): number => {
    h = mul32((h ^ (h >>> 16)) >>> 0, 2246822507);
    h = mul32((h ^ (h >>> 13)) >>> 0, 3266489909);
    return (h ^ (h >>> 16)) >>> 0;
  };
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) >>> 0;
  h2 = (h2 + h1) >>> 0;
  return [h2, h1];
}

/**
 * ARM docs: uniqueString(baseString, ...) — 13-char deterministic hash of the '-'-joined UTF-8
 * arguments: MurmurHash64 (ARM's variant) encoded 5 bits at a time from the top with the
 * alphabet a-z2-7. Matches Azure's output (e.g. uniqueString('test') = 'rbgf3xv4ufgzg').
 */
export function uniqueString(values: string[]): string {
  const [hi, lo] = murmurHash64(Buffer.from(values.join('-'), 'utf8'));
  let h = (BigInt(hi) << 32n) | BigInt(lo);
  let out = '';
  for (let i = 0; i < 13; i++) {
    out += BASE32[Number((h >> 59n) & 31n)];
    h = (h << 5n) & 0xffffffffffffffffn;
  }
  return out;
}

/** Namespace GUID ARM's guid() function hashes into (name-based UUID v5). */
const ARM_GUID_NAMESPACE = '11fb06fb-712d-4ddd-98c7-e71bbd588830';

/** RFC 4122 v5 UUID of `name` in `namespace`. */
export function uuidV5(namespace: string, name: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(Buffer.from(name, 'utf8')).digest();
  const b = Buffer.from(hash.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * ARM docs: guid(baseString, ...) — deterministic GUID: UUID v5 over the '-'-joined arguments in
 * ARM's namespace (11fb06fb-712d-4ddd-98c7-e71bbd588830).
 */
export function armGuid(values: string[]): string {
  return uuidV5(ARM_GUID_NAMESPACE, values.join('-'));
}

/** Deterministic bytes derived from a seed string (emulator-only: synthesized IPs, keys, ids). */
export function seedBytes(seed: string, n = 32): Buffer {
  const out: Buffer[] = [];
  let i = 0;
  while (out.length * 32 < n) out.push(createHash('sha256').update(`${i++}:${seed}`).digest());
  return Buffer.concat(out).subarray(0, n);
}
