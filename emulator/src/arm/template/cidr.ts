import { fnError } from './functions';

/**
 * CIDR functions of ARM templates (ARM docs: "CIDR functions for ARM templates" — parseCidr,
 * cidrSubnet, cidrHost; the `sys` namespace). IPv4 and IPv6, addresses as BigInt.
 */

interface Net {
  v6: boolean;
  /** Address bits: 32 or 128. */
  bits: number;
  network: bigint;
  cidr: number;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let out = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out = (out << 8n) | BigInt(Number(p));
  }
  return out;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    const segs = h.split(':');
    for (let i = 0; i < segs.length; i++) {
      const g = segs[i];
      if (i === segs.length - 1 && g.includes('.')) {
        const v4 = parseV4(g);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(parseInt(g, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

function mask(bits: number, cidr: number): bigint {
  const all = (1n << BigInt(bits)) - 1n;
  return (all << BigInt(bits - cidr)) & all;
}

/** Formats an address; IPv6 in the RFC 5952 form .NET prints (lower case, longest zero run as "::"). */
export function formatAddress(v: bigint, v6: boolean): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 0xffn)).join('.');
  const g = Array.from({ length: 8 }, (_x, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function parseNetwork(fn: string, s: unknown): Net {
  if (typeof s !== 'string') throw fnError(fn, `the network must be a string in CIDR notation.`);
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  const bad = (): Error => fnError(fn, `the network '${s}' is not a valid CIDR notation (for example '10.0.0.0/16' or 'fdad:3236:5555::/48').`);
  if (!m) throw bad();
  const v6 = m[1].includes(':');
  const addr = v6 ? parseV6(m[1]) : parseV4(m[1]);
  const bits = v6 ? 128 : 32;
  const cidr = Number(m[2]);
  if (addr === undefined || cidr > bits) throw bad();
  return { v6, bits, network: addr & mask(bits, cidr), cidr };
}

function intArg(fn: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw fnError(fn, `the ${what} must be an integer.`);
  return v;
}

/** ARM docs: parseCidr(network) — {network, netmask, broadcast (IPv4 only), firstUsable, lastUsable, cidr}. */
export function parseCidr(fn: string, s: unknown): Record<string, unknown> {
  const n = parseNetwork(fn, s);
  const last = n.network | (((1n << BigInt(n.bits)) - 1n) ^ mask(n.bits, n.cidr));
  const f = (v: bigint): string => formatAddress(v, n.v6);
  if (n.v6) return { network: f(n.network), netmask: f(mask(n.bits, n.cidr)), firstUsable: f(n.network), lastUsable: f(last), cidr: n.cidr };
  const small = n.cidr >= 31;
  return {
    network: f(n.network),
    netmask: f(mask(n.bits, n.cidr)),
    broadcast: f(last),
    firstUsable: f(small ? n.network : n.network + 1n),
    lastUsable: f(small ? last : last - 1n),
    cidr: n.cidr,
  };
}

/** ARM docs: cidrSubnet(network, newCIDR, subnetIndex) — the subnetIndex-th /newCIDR range inside network. */
export function cidrSubnet(fn: string, s: unknown, newCidrRaw: unknown, indexRaw: unknown): string {
  const n = parseNetwork(fn, s);
  const newCidr = intArg(fn, newCidrRaw, 'new CIDR');
  const index = intArg(fn, indexRaw, 'subnet index');
  if (newCidr < n.cidr || newCidr > n.bits) {
    throw fnError(fn, `the new CIDR '${newCidr}' must be between the network's CIDR '${n.cidr}' and '${n.bits}'.`);
  }
  const count = 1n << BigInt(newCidr - n.cidr);
  if (index < 0 || BigInt(index) >= count) throw fnError(fn, `the subnet index '${index}' is out of range: the network '${s}' has ${count} subnets of /${newCidr}.`);
  const start = n.network + (BigInt(index) << BigInt(n.bits - newCidr));
  return `${formatAddress(start, n.v6)}/${newCidr}`;
}

/**
 * ARM docs: cidrHost(network, hostIndex) — the usable address at hostIndex: network + hostIndex + 1
 * ('10.144.3.0/24', 0 -> '10.144.3.1'; 'fdad:3236:5555:3000::/52', 0 -> 'fdad:3236:5555:3000::1').
 */
export function cidrHost(fn: string, s: unknown, indexRaw: unknown): string {
  const n = parseNetwork(fn, s);
  const index = intArg(fn, indexRaw, 'host index');
  const size = 1n << BigInt(n.bits - n.cidr);
  const usable = n.v6 ? size - 1n : n.cidr >= 31 ? size : size - 2n;
  if (index < 0 || BigInt(index) >= usable) throw fnError(fn, `the host index '${index}' is out of range: the network '${s}' has ${usable} usable addresses.`);
  const host = !n.v6 && n.cidr >= 31 ? n.network + BigInt(index) : n.network + BigInt(index) + 1n;
  return formatAddress(host, n.v6);
}
