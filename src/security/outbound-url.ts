/**
 * Outbound URLs from publisher configuration (issue 8, hole 5: server-side request forgery).
 *
 * The rule: a URL the service will call with credentials (a bearer token for the publisher's
 * Dynamics 365 instance, a Logic App callback URL carrying its `sig`) must
 * 1. be an absolute `https:` URL typed with URL characters only (no space, quote, angle bracket,
 *    backslash, backtick or control character: RFC 3986 section 2 and appendix C),
 * 2. carry no user name or password, and no port other than 443,
 * 3. name its host as a DNS name: IP address literals are refused in every spelling (dotted, decimal
 *    `2852039166`, octal `0177.0.0.1`, hex `0x7f.1`, short `127.1`: the WHATWG URL parser turns all of
 *    them into dotted IPv4, which is what is checked; bracketed IPv6; `localhost` and `*.localhost`),
 * 4. belong to the expected domains of that kind of endpoint (OutboundUrlKind: Dynamics 365, Logic Apps
 *    callback URLs, Power BI), and
 * 5. resolve (DNS, all addresses) only to public addresses (isPublicAddress: no loopback, private,
 *    link-local incl. the metadata endpoint 169.254.169.254, CGNAT, multicast, reserved, unique-local,
 *    IPv4-mapped private... see NON_PUBLIC_V4 / NON_PUBLIC_V6).
 *
 * 1-4 are synchronous (outboundUrlProblem; checked when an offer is saved and again before each call);
 * 5 is checked when an offer is saved (checkOutboundUrls, PUT /offers/{id}) and again when a connection
 * is opened (guardedLookup, on the https.Agent / undici dispatcher: DNS rebinding), or right before
 * the call where a client library offers no hook (assertOutboundUrl).
 *
 * The one exception (OutboundUrlPolicy): in the emulated runtime (AzureRuntime.endpoints.emulated) the
 * local emulator's own origin (https://localhost:PORT, 127.0.0.1, [::1]) hosts the test Dynamics 365
 * environments and Logic Apps; it is exempt, and only it.
 *
 * Sources: OWASP Server-Side Request Forgery Prevention Cheat Sheet (allow-list of domains, refuse IP
 * literals, resolve and check every address, guard against DNS rebinding at connection time); IANA IPv4
 * and IPv6 Special-Purpose Address Registries (RFC 6890 and updates) for the non-public ranges.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import type { LookupFunction } from 'node:net';
import { ApiError, ErrorDetail } from '../common/api-error';

/** Error code of a refused outbound URL or connection (save-time details, call-time failures). */
export const OUTBOUND_URL_REFUSED = 'OutboundUrlRefused';

/** A kind of endpoint the service calls, with the domains such endpoints live on. */
export interface OutboundUrlKind {
  /** Human name used in messages, e.g. "Dynamics 365". */
  readonly name: string;
  /** The host must be a proper subdomain of one of these (`*.dynamics.com`), compared case-insensitively. */
  readonly domains: readonly string[];
  /** ...or exactly one of these hosts. */
  readonly hosts: readonly string[];
  /** Where the list comes from. */
  readonly source: string;
  /** Any public DNS name is accepted (the publisher's own receivers, e.g. an HTTPS lead endpoint). */
  readonly anyHost?: boolean;
}

/**
 * A publisher's own HTTPS receivers (lead endpoints, e.g. a Power Automate HTTP trigger or their CRM's
 * webhook): any public DNS name, https on 443, public addresses only (issue 10; rules of issue 8).
 */
export const PUBLISHER_RECEIVER_ENDPOINTS: OutboundUrlKind = {
  name: 'publisher receiver',
  domains: [],
  hosts: [],
  anyHost: true,
  source: 'Partner Center: "Use an HTTPS endpoint to manage commercial marketplace leads" (any https URL the publisher owns)',
};

/**
 * Dynamics 365 endpoints (instance URLs and product APIs), public and sovereign clouds:
 * - `*.dynamics.com`: Customer Engagement / Dataverse `https://<org>.crm[N].dynamics.com` (commercial regions
 *   crm, crm2..crm21; US GCC `crm9`), Finance and Operations `https://<env>.operations.dynamics.com`
 *   (also `*.sandbox.operations.dynamics.com`, `*.cloudax.dynamics.com`), Business Central
 *   `https://api.businesscentral.dynamics.com` (Microsoft Learn: "Datacenter regions" of Power Platform
 *   admin, "Environment URLs" of Finance and Operations, "Business Central API endpoints").
 * - `*.crm.microsoftdynamics.us` (US GCC High) and `*.crm.appsplatform.us` (US DoD): Microsoft Learn,
 *   "Dynamics 365 US Government" / "Power Apps US Government", section "Dynamics 365 US Government URLs".
 * - `*.dynamics.us` (other US Government Dynamics 365 service endpoints).
 * - `*.dynamics.cn`, e.g. `https://<org>.crm.dynamics.cn` (China, operated by 21Vianet): Microsoft Learn,
 *   "Power Platform and Dynamics 365 apps - operated by 21Vianet in China".
 * - `*.crm.microsoftdynamics.de` (Microsoft Cloud Germany, legacy): Microsoft Learn, "Dynamics 365
 *   Germany" migration notes.
 */
export const DYNAMICS_365_ENDPOINTS: OutboundUrlKind = {
  name: 'Dynamics 365',
  domains: ['dynamics.com', 'dynamics.us', 'dynamics.cn', 'crm.microsoftdynamics.us', 'crm.microsoftdynamics.de', 'crm.appsplatform.us'],
  hosts: [],
  source: 'Microsoft Learn: Dynamics 365 / Power Platform environment URLs, US Government and 21Vianet clouds',
};

/**
 * Logic Apps (Consumption) trigger callback URLs, their async `Location` and run content links:
 * `https://prod-NN.<region>.logic.azure.com[:443]/workflows/...` (Microsoft Learn, "Call, trigger, or nest
 * logic apps by using HTTPS endpoints in Azure Logic Apps"; "Limits and configuration reference for Azure
 * Logic Apps", section "Inbound IP addresses" lists the `*.logic.azure.com`, `*.logic.azure.us` (Azure
 * Government) and `*.logic.azure.cn` (Azure China) endpoints).
 */
export const LOGIC_APPS_CALLBACK_ENDPOINTS: OutboundUrlKind = {
  name: 'Azure Logic Apps',
  domains: ['logic.azure.com', 'logic.azure.us', 'logic.azure.cn'],
  hosts: [],
  source: 'Microsoft Learn: Azure Logic Apps HTTPS endpoints and limits (logic.azure.com / .us / .cn)',
};

/**
 * Azure Table storage endpoints a lead destination's connection string may name: storage accounts
 * `https://<account>.table.core.windows.net` and the sovereign clouds' `table.core.usgovcloudapi.net`,
 * `table.core.chinacloudapi.cn` (Microsoft Learn, "Azure Storage endpoints"; EndpointSuffix per cloud), and
 * Azure Cosmos DB for Table `https://<account>.table.cosmos.azure.com` (Microsoft Learn, "Azure Cosmos DB for
 * Table": the same SDK and connection string shape).
 */
export const AZURE_TABLE_ENDPOINTS: OutboundUrlKind = {
  name: 'Azure Table storage',
  domains: ['table.core.windows.net', 'table.core.usgovcloudapi.net', 'table.core.chinacloudapi.cn', 'table.cosmos.azure.com'],
  hosts: [],
  source: 'Microsoft Learn: Azure Storage endpoints per cloud; Azure Cosmos DB for Table',
};

/**
 * Hosts of the Power BI service an embed link may point to, public and sovereign clouds (Microsoft
 * Learn, "Embed content in your app for national clouds": embedUrlBase per cloud; "Power BI for US
 * government customers": sign-in URLs). The service never calls these; the customer's browser opens
 * them (access information links and iframes).
 */
export const POWER_BI_SERVICE_HOSTS: ReadonlyArray<{ host: string; cloud: string }> = [
  { host: 'app.powerbi.com', cloud: 'public (commercial) cloud' },
  { host: 'app.powerbigov.us', cloud: 'US Government Community Cloud (GCC)' },
  { host: 'app.high.powerbigov.us', cloud: 'US Government Community Cloud High (GCC High, DoDCON)' },
  { host: 'app.mil.powerbigov.us', cloud: 'US Department of Defense (DoD)' },
  { host: 'app.powerbi.cn', cloud: 'China cloud operated by 21Vianet' },
  { host: 'app.powerbi.de', cloud: 'Germany cloud (legacy)' },
];

/** Power BI embed links (exact hosts of POWER_BI_SERVICE_HOSTS). */
export const POWER_BI_ENDPOINTS: OutboundUrlKind = {
  name: 'Power BI',
  domains: [],
  hosts: POWER_BI_SERVICE_HOSTS.map((h) => h.host),
  source: 'Microsoft Learn: Power BI embedUrlBase per national cloud',
};

/** One URL of an offer's configuration the service will call (TestDriveType.outboundUrls). */
export interface OutboundUrl {
  /** JSON path of the field, e.g. "testDrive.instanceUrl". */
  target: string;
  url: string;
  kind: OutboundUrlKind;
}

/** Which origins are exempt from the rule: none, except the local emulator's in the emulated runtime. */
export interface OutboundUrlPolicy {
  /** `https://host:port` origins the rule does not apply to. */
  readonly exemptOrigins: ReadonlySet<string>;
  /** Host names whose DNS answers are not checked at connection time (the emulator's, when emulated). */
  readonly exemptHostnames: ReadonlySet<string>;
}

/** No exemption (real Azure). */
export const STRICT_OUTBOUND_POLICY: OutboundUrlPolicy = Object.freeze({ exemptOrigins: new Set<string>(), exemptHostnames: new Set<string>() });

const policies = new WeakMap<object, OutboundUrlPolicy>();

/**
 * The policy of a runtime: STRICT_OUTBOUND_POLICY for real Azure; when `endpoints.emulated`, the
 * emulator's origin (its authority host, https://localhost:PORT) under the names it answers to
 * (localhost, 127.0.0.1, [::1]) is exempt. Memoised per endpoints object.
 */
export function outboundPolicyFor(endpoints: { emulated: boolean; authorityHost: string }): OutboundUrlPolicy {
  if (!endpoints.emulated) return STRICT_OUTBOUND_POLICY;
  const hit = policies.get(endpoints);
  if (hit) return hit;
  let policy = STRICT_OUTBOUND_POLICY;
  try {
    const u = new URL(endpoints.authorityHost);
    const port = u.port || '443';
    const hosts = new Set([u.hostname.toLowerCase(), 'localhost', '127.0.0.1', '[::1]']);
    policy = Object.freeze({
      exemptOrigins: new Set([...hosts].map((h) => `https://${h}:${port}`)),
      exemptHostnames: new Set([u.hostname.toLowerCase(), 'localhost']),
    });
  } catch {
    /* an unparsable authority host exempts nothing */
  }
  policies.set(endpoints, policy);
  return policy;
}

/** RFC 3986 (section 2, appendix C): characters that never appear in a URL as typed (they must be percent-encoded). */
export const NOT_URL_CHARACTERS = /[\s"<>\\`\u0000-\u001f\u007f]/;

/** Message part: why the rule exists. */
const WHY = 'the service calls this URL with credentials (issue 8, outbound URL rule)';

/** The origin of `u` with its port always written (`https://host:443`), lower case: comparable as a string. */
export function originOf(u: URL): string {
  return `${u.protocol}//${u.hostname.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

/** Whether `u` is an exempt origin of `policy`. */
export function isExemptOrigin(u: URL, policy: OutboundUrlPolicy): boolean {
  return policy.exemptOrigins.size > 0 && policy.exemptOrigins.has(originOf(u));
}

/** Whether `host` (lower case, no trailing dot) is one of `kind`'s hosts or a proper subdomain of one of its domains. */
export function hostMatchesKind(host: string, kind: OutboundUrlKind): boolean {
  return !!kind.anyHost || kind.hosts.includes(host) || kind.domains.some((d) => host.endsWith(`.${d}`));
}

/** The accepted domains of `kind`, for messages: "*.dynamics.com, *.dynamics.us, ...". */
export function describeKind(kind: OutboundUrlKind): string {
  if (kind.anyHost) return 'a public DNS name';
  return [...kind.hosts, ...kind.domains.map((d) => `*.${d}`)].join(', ');
}

/**
 * Rules 1-4 (synchronous): the reason `raw` may not be called as an endpoint of `kind`, or undefined.
 * Messages name the rule, never echo the value. Exempt origins of `policy` pass rules 3-4.
 */
export function outboundUrlProblem(raw: string, kind: OutboundUrlKind, policy: OutboundUrlPolicy = STRICT_OUTBOUND_POLICY): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return `must be an absolute https URL on ${describeKind(kind)}`;
  }
  if (NOT_URL_CHARACTERS.test(raw)) return 'must not contain spaces, quotes, angle brackets, backslashes, backticks or control characters (not valid in a URL as typed, RFC 3986)';
  if (u.protocol !== 'https:') return `must use https: ${WHY}`;
  if (u.username || u.password) return `must not contain a user name or password: ${WHY}`;
  if (isExemptOrigin(u, policy)) return undefined;
  const host = u.hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[') || net.isIP(host) || host === 'localhost' || host.endsWith('.localhost')) {
    return `must name its host with ${kind.anyHost ? 'a public DNS name' : `a DNS name on ${describeKind(kind)}`}, not an IP address (in any spelling) or localhost: ${WHY}`;
  }
  if (u.port && u.port !== '443') return `must not name a port other than 443: ${WHY}`;
  if (!hostMatchesKind(host, kind)) return `must be on a ${kind.name} host (${describeKind(kind)}): ${WHY}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------- addresses

type Range = { prefix: number[]; bits: number; what: string };

function v4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** 16 bytes of an IPv6 address (net.isIPv6 true; may end in dotted IPv4; may carry a %zone). */
function v6Bytes(ip: string): number[] {
  let s = ip.replace(/%.*$/, '');
  const dotted = /:(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    s = `${s.slice(0, dotted.index)}:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  const bytes: number[] = [];
  for (const g of groups.slice(0, 8)) {
    const n = parseInt(g || '0', 16);
    bytes.push((n >> 8) & 0xff, n & 0xff);
  }
  while (bytes.length < 16) bytes.push(0);
  return bytes;
}

function matches(bytes: number[], r: Range): boolean {
  let bits = r.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== ((r.prefix[i] ?? 0) & mask)) return false;
  }
  return true;
}

const v4 = (cidr: string, what: string): Range => {
  const [a, b] = cidr.split('/');
  return { prefix: v4Bytes(a), bits: Number(b), what: `${what} (${cidr})` };
};
const v6 = (cidr: string, what: string): Range => {
  const [a, b] = cidr.split('/');
  return { prefix: v6Bytes(a), bits: Number(b), what: `${what} (${cidr})` };
};

/**
 * IPv4 ranges that are not public (IANA IPv4 Special-Purpose Address Registry, RFC 6890), plus Azure's
 * platform virtual IP 168.63.129.16 (Microsoft Learn, "What is IP address 168.63.129.16?": the host's
 * WireServer, reachable from every Azure VM).
 */
export const NON_PUBLIC_V4: readonly Range[] = [
  v4('0.0.0.0/8', '"this network"'),
  v4('10.0.0.0/8', 'private, RFC 1918'),
  v4('100.64.0.0/10', 'shared address space (CGNAT), RFC 6598'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local, incl. the cloud metadata endpoint 169.254.169.254'),
  v4('172.16.0.0/12', 'private, RFC 1918'),
  v4('192.0.0.0/24', 'IETF protocol assignments'),
  v4('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  v4('192.88.99.0/24', '6to4 relay anycast (deprecated)'),
  v4('192.168.0.0/16', 'private, RFC 1918'),
  v4('198.18.0.0/15', 'benchmarking'),
  v4('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  v4('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved, incl. broadcast'),
  v4('168.63.129.16/32', 'Azure platform virtual IP (WireServer)'),
];

/**
 * IPv6 ranges that are not public (IANA IPv6 Special-Purpose Address Registry). Addresses outside
 * global unicast 2000::/3 are refused too; IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96)
 * addresses are judged by the IPv4 address they carry.
 */
export const NON_PUBLIC_V6: readonly Range[] = [
  v6('::1/128', 'loopback'),
  v6('::/128', 'unspecified'),
  v6('::/96', 'IPv4-compatible (deprecated)'),
  v6('64:ff9b:1::/48', 'local-use NAT64'),
  v6('100::/64', 'discard-only'),
  v6('2001:db8::/32', 'documentation'),
  v6('2001::/23', 'IETF protocol assignments, incl. Teredo'),
  v6('2002::/16', '6to4'),
  v6('3fff::/20', 'documentation'),
  v6('fc00::/7', 'unique local'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'site-local (deprecated)'),
  v6('ff00::/8', 'multicast'),
];

const MAPPED_V4 = v6('::ffff:0:0/96', 'IPv4-mapped');
const NAT64 = v6('64:ff9b::/96', 'NAT64');
const GLOBAL_UNICAST = v6('2000::/3', 'global unicast');

/**
 * Why `ip` (an IPv4 or IPv6 address as DNS returns it) is not a public address, or undefined when it
 * is public. Anything that is not an IP address is refused ("not an IP address").
 */
export function nonPublicReason(ip: string): string | undefined {
  const family = net.isIP(ip.replace(/%.*$/, ''));
  if (family === 4) return NON_PUBLIC_V4.find((r) => matches(v4Bytes(ip), r))?.what;
  if (family !== 6) return 'not an IP address';
  const b = v6Bytes(ip);
  if (matches(b, MAPPED_V4) || matches(b, NAT64)) {
    const inner = nonPublicReason(b.slice(12).join('.'));
    return inner ? `IPv4-mapped ${inner}` : undefined;
  }
  const r = NON_PUBLIC_V6.find((x) => matches(b, x));
  if (r) return r.what;
  return matches(b, GLOBAL_UNICAST) ? undefined : 'not global unicast (outside 2000::/3)';
}

/** Whether `ip` is a public address (see nonPublicReason). */
export function isPublicAddress(ip: string): boolean {
  return nonPublicReason(ip) === undefined;
}

// ---------------------------------------------------------------------------------------- DNS

/** How the addresses of a host are found: `dns.promises.lookup(host, {all: true})` by default. */
export type AddressResolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

/** Longest wait for one DNS answer (getaddrinfo has no timeout of its own). */
export const DNS_TIMEOUT_MS = 5000;

/** The default resolver: the system's (getaddrinfo, what connections use), every address, with DNS_TIMEOUT_MS. */
export const systemResolver: AddressResolver = (host) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error(`DNS lookup timed out after ${DNS_TIMEOUT_MS} ms`), { code: 'ETIMEOUT' })), DNS_TIMEOUT_MS);
    dns.promises.lookup(host, { all: true, verbatim: true }).then(
      (a) => {
        clearTimeout(timer);
        resolve(a);
      },
      (e: unknown) => {
        clearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the original rejection through unchanged
        reject(e);
      },
    );
  });

/** DNS answers meaning "this name has no address" (a refusal), as opposed to a DNS failure (retry later). */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);

/**
 * Rule 5 for one host: resolves every address and returns why the host may not be called
 * (`problem`), or that DNS did not answer (`unavailable`), or {} when every address is public.
 */
export async function resolutionProblem(host: string, resolve: AddressResolver = systemResolver): Promise<{ problem?: string; unavailable?: string }> {
  let addresses: Array<{ address: string }>;
  try {
    addresses = await resolve(host);
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN');
    if (NO_SUCH_NAME.has(code)) return { problem: `must have a host that resolves in DNS (${code}): ${WHY}` };
    return { unavailable: `DNS lookup failed (${code})` };
  }
  if (!addresses.length) return { problem: `must have a host that resolves in DNS (no address): ${WHY}` };
  for (const a of addresses) {
    const why = nonPublicReason(a.address);
    if (why) return { problem: `must resolve only to public addresses; its host resolves to a non-public address (${why}): ${WHY}` };
  }
  return {};
}

/**
 * The save-time check of TestDriveType.outboundUrls (PUT /offers/{id}): rules 1-4, then rule 5 once per
 * host. Exempt origins of `policy` are not checked.
 * @returns one ErrorDetail per refused URL (code OutboundUrlRefused, target = the field), empty when all pass.
 * @throws ApiError 503 OutboundUrlCheckUnavailable (Retry-After 5) when DNS does not answer.
 */
export async function checkOutboundUrls(urls: readonly OutboundUrl[], policy: OutboundUrlPolicy, resolve: AddressResolver = systemResolver): Promise<ErrorDetail[]> {
  const problems: ErrorDetail[] = [];
  const byHost = new Map<string, Promise<{ problem?: string; unavailable?: string }>>();
  for (const o of urls) {
    const syntax = outboundUrlProblem(o.url, o.kind, policy);
    if (syntax) {
      problems.push({ code: OUTBOUND_URL_REFUSED, target: o.target, message: `${o.target.replace(/^.*\./, '')} ${syntax}` });
      continue;
    }
    const u = new URL(o.url);
    if (isExemptOrigin(u, policy)) continue;
    const host = u.hostname.toLowerCase().replace(/\.$/, '');
    if (!byHost.has(host)) byHost.set(host, resolutionProblem(host, resolve));
    const r = await byHost.get(host)!;
    if (r.unavailable) {
      throw new ApiError(503, 'OutboundUrlCheckUnavailable', `${o.target} could not be checked: ${r.unavailable}. Try again later.`, o.target, undefined, { 'Retry-After': '5' });
    }
    if (r.problem) problems.push({ code: OUTBOUND_URL_REFUSED, target: o.target, message: `${o.target.replace(/^.*\./, '')} ${r.problem}` });
  }
  return problems;
}

/** A call or connection refused by the outbound URL rule (code OutboundUrlRefused). Never carries the URL's query. */
export class OutboundUrlRefusedError extends Error {
  readonly code = OUTBOUND_URL_REFUSED;
  constructor(message: string) {
    super(message);
    this.name = 'OutboundUrlRefusedError';
  }
}

/**
 * The call-time check where no connection hook exists: rules 1-4 and a fresh rule-5 resolution, right
 * before a call. Exempt origins pass.
 * @returns the parsed URL.
 * @throws OutboundUrlRefusedError when refused, or when DNS does not answer (the call would fail anyway).
 */
export async function assertOutboundUrl(raw: string, kind: OutboundUrlKind, policy: OutboundUrlPolicy, resolve: AddressResolver = systemResolver): Promise<URL> {
  const syntax = outboundUrlProblem(raw, kind, policy);
  if (syntax) throw new OutboundUrlRefusedError(`The ${kind.name} URL was not called: it ${syntax}.`);
  const u = new URL(raw);
  if (isExemptOrigin(u, policy)) return u;
  const r = await resolutionProblem(u.hostname.toLowerCase().replace(/\.$/, ''), resolve);
  if (r.problem) throw new OutboundUrlRefusedError(`The ${kind.name} URL was not called: it ${r.problem}.`);
  if (r.unavailable) throw Object.assign(new Error(`The ${kind.name} host could not be resolved: ${r.unavailable}.`), { code: 'EAI_AGAIN' });
  return u;
}

/**
 * The synchronous call-time check (rules 1-4) before a connection whose addresses guardedLookup checks.
 * @throws OutboundUrlRefusedError.
 */
export function assertOutboundUrlSyntax(raw: string, kind: OutboundUrlKind, policy: OutboundUrlPolicy): URL {
  const syntax = outboundUrlProblem(raw, kind, policy);
  if (syntax) throw new OutboundUrlRefusedError(`The ${kind.name} URL was not called: it ${syntax}.`);
  return new URL(raw);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for `https.request` / `https.Agent` / an undici dispatcher's `connect` options that refuses to
 * connect when any address of the host is not public (rule 5 at connection time: DNS rebinding). Host
 * names in `policy.exemptHostnames` (the emulator's) are not checked; IP literals never reach a lookup
 * (check them with assertOutboundUrlSyntax before the call).
 * The error passed on has code OutboundUrlRefused. `lookup` defaults to `dns.lookup` (read at each call).
 */
export function guardedLookup(policy: OutboundUrlPolicy, lookup: typeof dns.lookup = ((...args: Parameters<typeof dns.lookup>) => dns.lookup(...args)) as typeof dns.lookup): LookupFunction {
  const fn = (hostname: string, options: dns.LookupOptions | number | undefined, callback: LookupCallback): void => {
    const opts: dns.LookupOptions = typeof options === 'number' ? { family: options } : { ...(options ?? {}) };
    const wantAll = opts.all === true;
    lookup(hostname, { ...opts, all: true }, (err: NodeJS.ErrnoException | null, addresses: dns.LookupAddress[]) => {
      if (err) return callback(err, wantAll ? [] : '', undefined);
      const host = hostname.toLowerCase().replace(/\.$/, '');
      if (!policy.exemptHostnames.has(host)) {
        for (const a of addresses) {
          const why = nonPublicReason(a.address);
          if (why) {
            return callback(new OutboundUrlRefusedError(`Connection refused by the outbound URL rule: the host resolves to a non-public address (${why}).`), wantAll ? [] : '', undefined);
          }
        }
      }
      if (!addresses.length) return callback(Object.assign(new Error(`${hostname}: no address`), { code: 'ENOTFOUND' }), wantAll ? [] : '', undefined);
      if (wantAll) return callback(null, addresses);
      return callback(null, addresses[0].address, addresses[0].family);
    });
  };
  return fn;
}

/** Marker of a refusal in a message (fetch in another realm re-wraps the error as `Error(String(err))`). */
const REFUSAL_MARKER = /\bOutboundUrlRefused(?:Error)?\b/;

/**
 * The refusal of the outbound URL rule inside `err` (itself or a `cause`, as fetch wraps it), with its
 * message; undefined when `err` is something else.
 */
export function outboundRefusalOf(err: unknown): { code: typeof OUTBOUND_URL_REFUSED; message: string } | undefined {
  for (let e = err as { code?: unknown; cause?: unknown; message?: unknown } | undefined, i = 0; e && typeof e === 'object' && i < 5; e = e.cause as typeof e, i++) {
    const message = typeof e.message === 'string' ? e.message : '';
    if (e.code === OUTBOUND_URL_REFUSED || REFUSAL_MARKER.test(message)) {
      return { code: OUTBOUND_URL_REFUSED, message: message.replace(/^(?:Error: )?OutboundUrlRefusedError: /, '') };
    }
  }
  return undefined;
}

/** Whether `err` is (or wraps) a refusal of the outbound URL rule. */
export function isOutboundRefusal(err: unknown): boolean {
  return outboundRefusalOf(err) !== undefined;
}
