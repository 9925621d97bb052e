import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Role } from '../../src/auth/roles';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { freePort } from '../support/net';
import { armOfferBody } from '../../src/embedded/sample-offer';
import { zipDirectory } from '../../src/common/zip-directory';

/** Debian's Chromium (installed by .ci/run); playwright-core never downloads a browser. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots of each page, kept as test artifacts (not committed). */
const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts', 'dashboard');
const SAMPLE = path.join(__dirname, '..', '..', 'templates', 'arm', 'sample-webapp');
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };
const haveBrowser = fs.existsSync(CHROMIUM);
if (!haveBrowser && process.env.TEST_REQUIRE_BROWSER === '1') throw new Error(`TEST_REQUIRE_BROWSER=1 but there is no browser at ${CHROMIUM} (apt-get install chromium)`);

/**
 * Issue 11, dashboard, driven in a real Chromium (playwright-core + Debian's chromium): Entra ID
 * sign-in on the emulator's page (authorization code + PKCE), the fleet overview matching GET
 * /capacity and updating live, publisher isolation (another publisher's offer page is 404), the audit
 * log, sign-out; a screenshot of each page under test-artifacts/dashboard.
 */
(haveBrowser ? describe : describe.skip)('dashboard in Chromium', () => {
  let azure: LocalAzure;
  let svc: TestService;
  let browser: Browser;
  let base: string;
  let operator: { userPrincipalName: string; password: string };
  let publisherA: { userPrincipalName: string; password: string; tenantId: string };

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    azure = await startLocalAzure(0.3);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const app = await azure.emulator.createClient({ redirectUris: [`${base}/auth/callback`, `${base}/`], displayName: 'Test drive dashboard', keyVaultAccess: false, signInAudience: 'AzureADMultipleOrgs' });
    svc = await startService(azure, { env: { PORT: String(port), HOST: '127.0.0.1', DASHBOARD_CLIENT_ID: app.clientId, DASHBOARD_CLIENT_SECRET: app.clientSecret, DASHBOARD_PUBLIC_URL: base } });
    await svc.app.listen(port, '127.0.0.1');
    const op = await azure.emulator.createUser({ roles: [Role.Operator], password: 'Operator-Pass-123' });
    operator = { userPrincipalName: op.userPrincipalName, password: 'Operator-Pass-123' };
    // Publisher A: a client (its API calls) and a user of the same tenant (the dashboard).
    const pubClient = await svc.as({ roles: [Role.Publisher], newTenant: true });
    const pu = await azure.emulator.createUser({ tenantId: pubClient.client.tenantId, roles: [Role.Publisher], password: 'Publisher-Pass-123' });
    publisherA = { userPrincipalName: pu.userPrincipalName, password: 'Publisher-Pass-123', tenantId: pubClient.client.tenantId };
    await pubClient.put('/api/v1/offers/pub-a-demo').send({ alias: 'Publisher A demo', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', durationHours: 1 } }).expect(201);
    await pubClient.post('/api/v1/offers/pub-a-demo/publish').expect(200);
    // An ARM offer of the service tenant's publisher with one hot instance.
    const publisher = await azure.emulator.createPublisher({});
    await svc.http.put('/api/v1/offers/fleet-arm').send(armOfferBody('Fleet ARM', publisher, { regions: [{ name: 'westeurope', hot: 1, cold: 0 }] })).expect(201);
    await svc.http.put('/api/v1/offers/fleet-arm/package').set('content-type', 'application/zip').send(await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] })).expect(201);
    await svc.http.post('/api/v1/offers/fleet-arm/publish').expect(200);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });

  afterAll(async () => {
    await browser?.close();
    await svc?.close();
    await azure?.stop();
  });

  async function signIn(page: Page, user: { userPrincipalName: string; password: string }, tenant?: string): Promise<void> {
    await page.goto(`${base}/`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Sign in');
    if (tenant) await page.fill('#tenant', tenant);
    await Promise.all([page.waitForURL(/\/oauth2\/v2\.0\/authorize/), page.click('#signin')]);
    await page.fill('#login', user.userPrincipalName);
    await page.fill('#passwd', user.password);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
  }

  const cell = (page: Page, offer: string, region: string, field: string) => page.locator(`tr[data-offer="${offer}"][data-region="${region}"] td[data-field="${field}"]`);

  it('an operator signs in, sees every offer matching GET /capacity, and watches assigned change live after a start', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const started = Date.now();
    await signIn(page, operator);
    expect(Date.now() - started).toBeLessThan(15_000);
    await expect(page.locator('h1').textContent()).resolves.toBe('Fleet');
    // Hot instances become ready while the page is open (reconcile passes drive the pool).
    await svc.until(async () => (await cell(page, 'fleet-arm', 'westeurope', 'hotReady').textContent()) === '1', 30_000);
    // The overview matches GET /capacity, offer by offer.
    const cap = (await svc.http.get('/api/v1/capacity').expect(200)).body.value as Array<Record<string, unknown>>;
    expect(cap.map((r) => r.offerId).sort()).toEqual(['fleet-arm', 'pub-a-demo']);
    for (const r of cap) {
      for (const f of ['hotTarget', 'hotReady', 'deploying', 'assigned', 'failed']) {
        await expect(cell(page, String(r.offerId), typeof r.region === 'string' ? r.region : '', f).textContent()).resolves.toBe(String(r[f]));
      }
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-operator.png'), fullPage: true });
    const navigations: string[] = [];
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations.push(f.url()));
    // A start with curl's equivalent: the table changes without a reload.
    const market = await svc.as('marketplace');
    await market.post('/api/v1/offers/fleet-arm/sessions').send({ customer, region: 'westeurope' }).expect(201);
    await page.locator('tr[data-offer="fleet-arm"] td[data-field="assigned"]', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    expect(navigations).toEqual([]);

    // The offer page and the audit log.
    const first = Date.now();
    await page.goto(`${base}/ui/offers/fleet-arm`);
    expect(Date.now() - first).toBeLessThan(3000);
    await expect(page.locator('#pools').textContent()).resolves.toContain('westeurope');
    await expect(page.locator('#sessions').textContent()).resolves.toContain('ready');
    // Chart.js drew the chart (it sets the canvas to display: block when it takes it over).
    await page.locator('#starts-chart[style*="display: block"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#config').textContent()).not.toContain('clientSecret"');
    await page.screenshot({ path: path.join(ARTIFACTS, 'offer.png'), fullPage: true });
    await page.goto(`${base}/ui/audit?action=session.started`);
    await expect(page.locator('#audit tbody tr').count()).resolves.toBeGreaterThanOrEqual(1);
    await expect(page.locator('#audit').textContent()).resolves.not.toContain('offer.created');
    await page.screenshot({ path: path.join(ARTIFACTS, 'audit.png'), fullPage: true });

    // Sign-out: the session cookie goes, Entra ID's session ends, and the sign-in page is back.
    await Promise.all([page.waitForURL(`${base}/`), page.click('text=Sign out')]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Sign in');
    await page.goto(`${base}/ui/offers/fleet-arm`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Sign in');
    await page.screenshot({ path: path.join(ARTIFACTS, 'signed-out.png'), fullPage: true });
    await context.close();
  });

  it("a publisher user sees only its tenant's offers; another publisher's offer page is 404; the audit log is for operators", async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signIn(page, publisherA, publisherA.tenantId);
    const offers = await page.locator('#fleet-table tbody tr[data-offer]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-offer')));
    expect(offers).toEqual(['pub-a-demo']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview-publisher.png'), fullPage: true });
    const other = await page.goto(`${base}/ui/offers/fleet-arm`);
    expect(other?.status()).toBe(404);
    const own = await page.goto(`${base}/ui/offers/pub-a-demo`);
    expect(own?.status()).toBe(200);
    expect((await page.goto(`${base}/ui/audit`))?.status()).toBe(404);
    await context.close();
  });

  it('refuses a stale sign-out form, tampered cookies and operators of foreign tenants', async () => {
    const stale = await fetch(`${base}/auth/signout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=nope', redirect: 'manual' });
    expect(stale.status).toBe(403);
    const tampered = await fetch(`${base}/ui/fleet`, { headers: { cookie: 'td_session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bad' } });
    expect(tampered.status).toBe(401);
    // An Operator role held in a publisher's tenant is not honoured (issue 8's trust rule, as for the API).
    const rogue = await azure.emulator.createUser({ tenantId: publisherA.tenantId, roles: [Role.Operator], password: 'Rogue-Pass-123' });
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signIn(page, { userPrincipalName: rogue.userPrincipalName, password: 'Rogue-Pass-123' }, publisherA.tenantId);
    await expect(page.locator('h1').textContent()).resolves.toBe('No access');
    await context.close();
  });
});
