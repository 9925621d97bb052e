jest.setTimeout(180_000);
import { DataSource } from 'typeorm';
import { OfferEntity } from '../../src/offers/offer.entity';
import { definition } from '../emulator/logic-helpers';
import { clients, Publisher, sessionWhen } from '../logic-app/helpers';
import { useLocalService } from '../support/harness';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };
const RG = 'rg-xss';

/**
 * No executable markup in an HTML string as the sanitiser writes it (attribute values double-quoted,
 * `"` inside them escaped): no script, event handler attribute, javascript:/data: URL, plugin or form.
 */
function expectInert(html: string): void {
  const tags = html.replace(/"[^"]*"/g, '""'); // attribute values (and quoted text) out of the way
  expect(tags).not.toMatch(/<script/i);
  expect(tags).not.toMatch(/\son[a-z]+\s*=/i);
  expect(html).not.toMatch(/(href|src)\s*=\s*"\s*(javascript|data|vbscript):/i);
  expect(html).not.toMatch(/<(object|embed|svg|math|style|form|input)\b/i);
}

/**
 * Issue 8, hole 4 (reproduced): access information was stored and rendered unescaped. An embed URL
 * `https://app.powerbi.com/x"><script>alert(1)</script>` broke out of the link, `<script>` and
 * `javascript:` in accessInformation came back as stored, and `{{constructor}}` rendered
 * `function Object() { [native code] }`. Now: sanitised on save, values HTML-escaped and the result
 * sanitised again on render, placeholders looked up among the outputs' own names only.
 */
describe('access information is sanitised on save and escaped on render', () => {
  const local = useLocalService();
  let pub: Publisher;

  beforeAll(async () => {
    pub = (await local.azure.emulator.createPublisher({}));
    const { rm, logic } = clients(local.azure.emulator, pub);
    await rm.resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
    const respond = (body: unknown) => ({ Response: { type: 'Response', kind: 'Http', runAfter: {}, inputs: { statusCode: 200, body } } });
    // Outputs a hostile deployment (or a compromised provisioning Logic App) could return.
    await logic.workflows.createOrUpdate(RG, 'hostile-provision', {
      location: 'westeurope',
      state: 'Enabled',
      definition: definition(
        respond({
          name: '<script>alert("name")</script>',
          link: 'javascript:alert(document.cookie)',
          breakout: 'https://app.powerbi.com/x"><script>alert(1)</script>',
          img: 'x" onerror="alert(2)',
        }),
      ),
    });
    await logic.workflows.createOrUpdate(RG, 'noop-deprovision', { location: 'westeurope', state: 'Enabled', definition: definition(respond({})) });
  });

  it('refuses an embed URL that would break out of the link (400 naming testDrive.embedUrl)', async () => {
    const r = await local.svc.http
      .put('/api/v1/offers/bi-breakout')
      .send({ alias: 'x', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/x"><script>alert(1)</script>' } })
      .expect(400);
    expect(r.body.error.code).toBe('ValidationFailed');
    expect(r.body.error.details).toEqual([expect.objectContaining({ target: 'testDrive.embedUrl', message: expect.stringContaining('not valid in a URL as typed') })]);
    await local.svc.http.get('/api/v1/offers/bi-breakout').expect(404);
  });

  it('stores the sanitised access information: no script, no javascript: link, no event handler; placeholders kept', async () => {
    const hostile =
      '<p onmouseover="alert(1)">Open <a href="{{embedUrl}}" target="_blank">the dashboard</a></p>' +
      '<script>alert(document.cookie)</script><a href="javascript:alert(2)">click</a><img src="data:image/svg+xml,x" onerror="alert(3)">' +
      '<iframe src="https://evil.example.com/"></iframe><iframe src="{{embedUrl}}"></iframe><style>body{display:none}</style>';
    const put = await local.svc.http.put('/api/v1/offers/bi-hostile').send({ alias: 'x', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', accessInformation: hostile } }).expect(201);
    const stored = put.body.testDrive.accessInformation as string;
    expect(stored).toBe(
      '<p>Open <a href="{{embedUrl}}" target="_blank" rel="noopener noreferrer">the dashboard</a></p><a>click</a><img /><iframe></iframe><iframe src="{{embedUrl}}"></iframe>',
    );
    expect((await local.svc.http.get('/api/v1/offers/bi-hostile').expect(200)).body.testDrive.accessInformation).toBe(stored);

    await local.svc.http.post('/api/v1/offers/bi-hostile/publish').expect(200);
    const s = (await local.svc.http.post('/api/v1/offers/bi-hostile/sessions').send({ customer }).expect(201)).body;
    expect(s.accessInformation).toBe(
      '<p>Open <a href="https://app.powerbi.com/view?r=abc" target="_blank" rel="noopener noreferrer">the dashboard</a></p><a>click</a><img /><iframe></iframe><iframe src="https://app.powerbi.com/view?r=abc"></iframe>',
    );
    expectInert(s.accessInformation);
  });

  it('leaves {{constructor}}, {{__proto__}} and {{toString}} unrendered', async () => {
    await local.svc.http
      .put('/api/v1/offers/bi-proto')
      .send({ alias: 'x', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', accessInformation: '<p>{{constructor}} {{__proto__}} {{toString}} {{ constructor }} {{embedUrl}}</p>' } })
      .expect(201);
    await local.svc.http.post('/api/v1/offers/bi-proto/publish').expect(200);
    const s = (await local.svc.http.post('/api/v1/offers/bi-proto/sessions').send({ customer }).expect(201)).body;
    expect(s.accessInformation).toBe('<p>{{constructor}} {{__proto__}} {{toString}} {{ constructor }} https://app.powerbi.com/view?r=abc</p>');
    expect(s.accessInformation).not.toContain('native code');
  });

  it('escapes an embed URL stored before the rule existed, so it cannot break out of the default link', async () => {
    await local.svc.http.put('/api/v1/offers/bi-legacy').send({ alias: 'x', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc' } }).expect(201);
    // A row written before issue 8: the raw URL with a quote and a script tag.
    const repo = local.svc.app.get(DataSource).getRepository(OfferEntity);
    const row = (await repo.findOneBy({ id: 'bi-legacy' }))!;
    await repo.update({ id: 'bi-legacy' }, { testDrive: { ...row.testDrive, embedUrl: 'https://app.powerbi.com/x"><script>alert(1)</script>' } });
    await local.svc.http.post('/api/v1/offers/bi-legacy/publish').expect(409); // publish re-validates the stored settings
    await repo.update({ id: 'bi-legacy' }, { state: 'published' });
    const s = (await local.svc.http.post('/api/v1/offers/bi-legacy/sessions').send({ customer }).expect(201)).body;
    expect(s.outputs.embedUrl).toBe('https://app.powerbi.com/x"><script>alert(1)</script>');
    expectInert(s.accessInformation);
    expect(s.accessInformation).toBe(
      '<p>Open the dashboard: <a href="https://app.powerbi.com/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" target="_blank" rel="noopener noreferrer">https://app.powerbi.com/x"&gt;&lt;script&gt;alert(1)&lt;/script&gt;</a></p>',
    );
  });

  it('HTML-escapes hostile output values of a provisioning Logic App and drops a javascript: link they fill in', async () => {
    const body = {
      alias: 'Hostile outputs',
      testDrive: {
        type: 'logic-app',
        region: 'westeurope',
        maxConcurrent: 1,
        durationHours: 1,
        resourceGroupName: RG,
        logicAppName: 'hostile-provision',
        deprovisionLogicAppName: 'noop-deprovision',
        accessInformation: '<p>Hello {{name}}. <a href="{{link}}">open</a> <a href="{{breakout}}">dashboard</a> <img src="https://cdn.example.com/{{img}}" alt="{{img}}"> {{constructor}}</p>',
      },
      deployment: { subscriptionId: pub.subscriptionId, tenantId: pub.tenantId, clientId: pub.clientId, clientSecret: pub.clientSecret },
    };
    await local.svc.http.put('/api/v1/offers/la-hostile').send(body).expect(201);
    await local.svc.http.post('/api/v1/offers/la-hostile/publish').expect(200);
    const started = await local.svc.http.post('/api/v1/offers/la-hostile/sessions').send({ customer }).expect(201);
    const ready = await sessionWhen(local.svc, started.body.id, (x) => x.state === 'ready');
    expect(ready.outputs.name).toBe('<script>alert("name")</script>');
    expectInert(ready.accessInformation);
    expect(ready.accessInformation).toBe(
      '<p>Hello &lt;script&gt;alert("name")&lt;/script&gt;. <a>open</a> ' +
        '<a href="https://app.powerbi.com/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">dashboard</a> ' +
        '<img src="https://cdn.example.com/x&quot; onerror=&quot;alert(2)" alt="x&quot; onerror=&quot;alert(2)" /> {{constructor}}</p>',
    );
    await local.svc.http.delete(`/api/v1/sessions/${started.body.id}`).expect(202);
  });
});
