import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as dns from 'node:dns';
import {
  assertOutboundUrl,
  checkOutboundUrls,
  DYNAMICS_365_ENDPOINTS,
  guardedLookup,
  isOutboundRefusal,
  isPublicAddress,
  LOGIC_APPS_CALLBACK_ENDPOINTS,
  nonPublicReason,
  OUTBOUND_URL_REFUSED,
  outboundPolicyFor,
  outboundUrlProblem,
  PUBLISHER_RECEIVER_ENDPOINTS,
  STRICT_OUTBOUND_POLICY,
} from './outbound-url';
import { ApiError } from '../common/api-error';

const D = DYNAMICS_365_ENDPOINTS;
const resolveTo = (...addresses: string[]) => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
const failWith = (code: string) => async () => {
  throw Object.assign(new Error(code), { code });
};

describe('outboundUrlProblem (rules 1-4)', () => {
  it.each([
    'https://contoso.crm.dynamics.com',
    'https://contoso.crm4.dynamics.com/api/data/v9.2/',
    'https://contoso.crm9.dynamics.com',
    'https://contoso.operations.dynamics.com/data/',
    'https://contoso.sandbox.operations.dynamics.com/data/',
    'https://api.businesscentral.dynamics.com/v2.0/t/production/api/microsoft/automation/v2.0/',
    'https://contoso.crm.microsoftdynamics.us',
    'https://contoso.crm.appsplatform.us',
    'https://contoso.crm.dynamics.cn',
    'https://contoso.crm.microsoftdynamics.de',
    'https://CONTOSO.CRM.DYNAMICS.COM:443/',
    'https://contoso.crm.dynamics.com./',
  ])('accepts the Dynamics 365 URL %s', (url) => {
    expect(outboundUrlProblem(url, D)).toBeUndefined();
  });

  it.each([
    ['https://169.254.169.254', 'not an IP address'],
    ['https://127.0.0.1:8643', 'not an IP address'],
    ['https://10.0.0.1', 'not an IP address'],
    ['https://2852039166', 'not an IP address'], // decimal 169.254.169.254
    ['https://0x7f.1', 'not an IP address'], // hex + short form of 127.0.0.1
    ['https://0177.0.0.1', 'not an IP address'], // octal
    ['https://127.1', 'not an IP address'],
    ['https://0x7f000001', 'not an IP address'],
    ['https://[::1]', 'not an IP address'],
    ['https://[::ffff:169.254.169.254]', 'not an IP address'],
    ['https://[fd00::1]:443', 'not an IP address'],
    ['https://localhost', 'localhost'],
    ['https://LOCALHOST.', 'localhost'],
    ['https://x.localhost', 'localhost'],
    ['http://contoso.crm.dynamics.com', 'must use https'],
    ['ftp://contoso.crm.dynamics.com', 'must use https'],
    ['https://user:pw@contoso.crm.dynamics.com', 'user name or password'],
    ['https://contoso.crm.dynamics.com:8443', 'port other than 443'],
    ['https://dynamics.com', 'Dynamics 365 host'],
    ['https://contoso.crm.dynamics.com.evil.example', 'Dynamics 365 host'],
    ['https://evildynamics.com', 'Dynamics 365 host'],
    ['https://metadata.google.internal', 'Dynamics 365 host'],
    ['https://contoso.crm.dynamics.com/x"><script>', 'not valid in a URL as typed'],
    ['https://contoso.crm.dynamics.com/a b', 'not valid in a URL as typed'],
    ['https://contoso.crm.dynamics.com\\@evil.example', 'not valid in a URL as typed'],
    ['contoso.crm.dynamics.com', 'absolute https URL'],
  ])('refuses %s (%s)', (url, why) => {
    expect(outboundUrlProblem(url, D)).toContain(why);
  });

  it('names the host rule in plain words for any public host and for a list of domains', () => {
    expect(outboundUrlProblem('https://10.0.0.1/leads', PUBLISHER_RECEIVER_ENDPOINTS)).toMatch(/^must name its host with a public DNS name, not an IP address/);
    expect(outboundUrlProblem('https://10.0.0.1', D)).toMatch(/^must name its host with a DNS name on \*\.dynamics\.com, /);
  });

  it('Logic Apps callback URLs: *.logic.azure.com / .us / .cn only', () => {
    expect(outboundUrlProblem('https://prod-00.westeurope.logic.azure.com:443/workflows/x/triggers/manual/paths/invoke?sig=s', LOGIC_APPS_CALLBACK_ENDPOINTS)).toBeUndefined();
    expect(outboundUrlProblem('https://prod-00.usgovvirginia.logic.azure.us/workflows/x', LOGIC_APPS_CALLBACK_ENDPOINTS)).toBeUndefined();
    expect(outboundUrlProblem('https://prod-00.chinaeast2.logic.azure.cn/workflows/x', LOGIC_APPS_CALLBACK_ENDPOINTS)).toBeUndefined();
    expect(outboundUrlProblem('https://evil.example.com/workflows/x', LOGIC_APPS_CALLBACK_ENDPOINTS)).toContain('Azure Logic Apps host');
    expect(outboundUrlProblem('https://169.254.169.254/metadata/instance', LOGIC_APPS_CALLBACK_ENDPOINTS)).toContain('not an IP address');
  });

  it('in the emulated runtime exempts the emulator origin only (localhost, 127.0.0.1, [::1] on its port)', () => {
    const policy = outboundPolicyFor({ emulated: true, authorityHost: 'https://localhost:45123' });
    for (const u of ['https://localhost:45123/dynamics/env1', 'https://127.0.0.1:45123/x', 'https://[::1]:45123/x']) expect(outboundUrlProblem(u, D, policy)).toBeUndefined();
    for (const u of ['https://localhost:45124/x', 'https://127.0.0.1:8643', 'https://169.254.169.254', 'https://localhost/x']) expect(outboundUrlProblem(u, D, policy)).toBeDefined();
    expect(outboundUrlProblem('http://localhost:45123/x', D, policy)).toContain('https');
    expect(outboundPolicyFor({ emulated: false, authorityHost: 'https://localhost:45123' })).toBe(STRICT_OUTBOUND_POLICY);
  });
});

describe('nonPublicReason (rule 5 ranges)', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.254', 'CGNAT'],
    ['0.0.0.0', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'benchmarking'],
    ['192.0.2.1', 'documentation'],
    ['168.63.129.16', 'WireServer'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped link-local'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['64:ff9b::a00:1', 'IPv4-mapped private'],
    ['2001:db8::1', 'documentation'],
    ['2002:7f00:1::1', '6to4'],
    ['::7f00:1', 'IPv4-compatible'],
    ['4000::1', 'not global unicast'],
    ['not-an-ip', 'not an IP address'],
  ])('%s is not public (%s)', (ip, why) => {
    expect(nonPublicReason(ip)).toContain(why);
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each(['20.42.65.92', '52.96.0.1', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1', '168.63.129.17', '2603:1030::1', '2620:1ec:c11::200', '::ffff:20.42.65.92', '64:ff9b::142a:415c'])(
    '%s is public',
    (ip) => {
      expect(nonPublicReason(ip)).toBeUndefined();
    },
  );
});

describe('checkOutboundUrls (save time)', () => {
  const target = 'testDrive.instanceUrl';
  it('accepts a Dynamics host resolving to public addresses only', async () => {
    expect(await checkOutboundUrls([{ target, url: 'https://contoso.crm.dynamics.com', kind: D }], STRICT_OUTBOUND_POLICY, resolveTo('20.42.65.92', '2603:1030::1'))).toEqual([]);
  });

  it.each([['10.0.0.1'], ['169.254.169.254'], ['127.0.0.1'], ['::1'], ['::ffff:192.168.0.1']])('refuses a host with one address in a non-public range (%s), naming the field', async (addr) => {
    const r = await checkOutboundUrls([{ target, url: 'https://contoso.crm.dynamics.com', kind: D }], STRICT_OUTBOUND_POLICY, resolveTo('20.42.65.92', addr));
    expect(r).toEqual([{ code: OUTBOUND_URL_REFUSED, target, message: expect.stringContaining('instanceUrl must resolve only to public addresses') }]);
  });

  it('does not echo the address it found', async () => {
    const r = await checkOutboundUrls([{ target, url: 'https://contoso.crm.dynamics.com', kind: D }], STRICT_OUTBOUND_POLICY, resolveTo('10.9.8.7'));
    expect(r[0].message).toContain('private, RFC 1918 (10.0.0.0/8)');
    expect(r[0].message).not.toContain('10.9.8.7');
  });

  it('refuses a host that does not resolve, and answers 503 when DNS fails', async () => {
    expect(await checkOutboundUrls([{ target, url: 'https://nope.crm.dynamics.com', kind: D }], STRICT_OUTBOUND_POLICY, failWith('ENOTFOUND'))).toEqual([expect.objectContaining({ target, message: expect.stringContaining('resolves in DNS') })]);
    const err = await checkOutboundUrls([{ target, url: 'https://x.crm.dynamics.com', kind: D }], STRICT_OUTBOUND_POLICY, failWith('EAI_AGAIN')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).getStatus()).toBe(503);
    expect((err as ApiError).code).toBe('OutboundUrlCheckUnavailable');
  });

  it('reports syntax refusals without resolving, and resolves each host once', async () => {
    const resolver = jest.fn(resolveTo('20.42.65.92'));
    const r = await checkOutboundUrls(
      [
        { target: 'testDrive.instanceUrl', url: 'https://2852039166', kind: D },
        { target: 'testDrive.instanceWebApiUrl', url: 'https://contoso.crm.dynamics.com/api/data/v9.2/', kind: D },
        { target: 'testDrive.other', url: 'https://CONTOSO.crm.dynamics.com/', kind: D },
      ],
      STRICT_OUTBOUND_POLICY,
      resolver,
    );
    expect(r).toEqual([{ code: OUTBOUND_URL_REFUSED, target: 'testDrive.instanceUrl', message: expect.stringContaining('not an IP address') }]);
    expect(resolver).toHaveBeenCalledTimes(1);
  });

  it('does not resolve the emulator origin when emulated', async () => {
    const resolver = jest.fn(resolveTo('127.0.0.1'));
    const policy = outboundPolicyFor({ emulated: true, authorityHost: 'https://localhost:45123' });
    expect(await checkOutboundUrls([{ target, url: 'https://localhost:45123/dynamics/e1', kind: D }], policy, resolver)).toEqual([]);
    expect(resolver).not.toHaveBeenCalled();
  });
});

describe('call time', () => {
  it('assertOutboundUrl refuses literals and private resolutions with OutboundUrlRefused', async () => {
    await expect(assertOutboundUrl('https://169.254.169.254/latest', D, STRICT_OUTBOUND_POLICY, resolveTo('20.0.0.1'))).rejects.toMatchObject({ code: OUTBOUND_URL_REFUSED });
    await expect(assertOutboundUrl('https://rebind.crm.dynamics.com/', D, STRICT_OUTBOUND_POLICY, resolveTo('127.0.0.1'))).rejects.toMatchObject({ code: OUTBOUND_URL_REFUSED });
    await expect(assertOutboundUrl('https://ok.crm.dynamics.com/', D, STRICT_OUTBOUND_POLICY, resolveTo('20.0.0.1'))).resolves.toBeInstanceOf(URL);
  });

  describe('guardedLookup on a real connection (DNS rebinding)', () => {
    let server: http.Server;
    let port: number;
    beforeAll(async () => {
      server = http.createServer((_req, res) => res.end('reached'));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    /** A resolver that says `rebind.crm.dynamics.com` is 127.0.0.1 (what a rebinding DNS answer would do). */
    const fakeDns = ((host: string, opts: dns.LookupOptions, cb: (e: NodeJS.ErrnoException | null, a: dns.LookupAddress[]) => void) => {
      void host;
      void opts;
      cb(null, [{ address: '127.0.0.1', family: 4 }]);
    }) as unknown as typeof dns.lookup;

    const get = (lookup: ReturnType<typeof guardedLookup>) =>
      new Promise<string>((resolve, reject) => {
        const req = http.get({ host: 'rebind.crm.dynamics.com', port, path: '/', lookup, agent: false }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
      });

    it('refuses to connect when the host resolves to a non-public address', async () => {
      const err = await get(guardedLookup(STRICT_OUTBOUND_POLICY, fakeDns)).catch((e: unknown) => e);
      expect(isOutboundRefusal(err)).toBe(true);
      expect(String((err as Error).message)).toContain('loopback');
    });

    it('connects to an exempt host name (the emulator, when emulated)', async () => {
      const policy = { exemptOrigins: new Set<string>(), exemptHostnames: new Set(['rebind.crm.dynamics.com']) };
      expect(await get(guardedLookup(policy, fakeDns))).toBe('reached');
    });

    it('undici honours it through the dispatcher connect options', async () => {
      const { Agent, request } = await import('undici');
      const dispatcher = new Agent({ connect: { lookup: guardedLookup(STRICT_OUTBOUND_POLICY, fakeDns) } });
      try {
        const err = await request(`http://rebind.crm.dynamics.com:${port}/`, { dispatcher }).catch((e: unknown) => e);
        expect(isOutboundRefusal(err)).toBe(true);
      } finally {
        await dispatcher.destroy();
      }
    });
  });
});
