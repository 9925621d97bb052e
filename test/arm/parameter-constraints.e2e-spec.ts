import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { zipDirectory } from '../../src/common/zip-directory';
import { capacity, customer, publishOffer, SAMPLE, useLocalServiceWith } from '../arm-resilience/helpers';

/** templates/arm/sample-webapp with its parameters changed by `edit`, in a new folder. */
function samplePackage(edit: (params: Record<string, Record<string, unknown>>) => void): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-params-'));
  fs.cpSync(SAMPLE, dir, { recursive: true });
  const file = path.join(dir, 'main-template.json');
  const t = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as { parameters: Record<string, Record<string, unknown>> };
  edit(t.parameters);
  fs.writeFileSync(file, JSON.stringify(t, null, 2));
  return dir;
}

/**
 * Issue 13, at upload: every parameter is checked against its own constraints with the value it will
 * get (a literal default; a generated user name or password; the session id), the upload answer says
 * where each value comes from, and a generated password honours minLength.
 */
describe('template parameter constraints at upload', () => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 });

  it('refuses a default that breaks its own minLength or allowedValues, and a password that cannot be generated, naming each', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'params-bad', [{ name: 'westeurope', hot: 0, cold: 1 }], { publish: false });
    const dir = samplePackage((p) => {
      p.skuName.defaultValue = 'P9'; // not in allowedValues
      p.siteName = { type: 'string', defaultValue: 'ab', minLength: 3, metadata: { description: 'too short a default' } };
      p.adminPassword.allowedValues = ['Secret1!'];
    });
    const zip = await zipDirectory(dir, { exclude: ['README.md', 'access-information.html'] });
    const r = await svc.http.put('/api/v1/offers/params-bad/package').set('content-type', 'application/zip').send(zip).expect(400);
    const details = r.body.error.details as Array<{ code: string; target: string; message: string }>;
    expect(details.map((d) => d.target).sort()).toEqual(['main-template.json:parameters.adminPassword.allowedValues', 'main-template.json:parameters.siteName.defaultValue', 'main-template.json:parameters.skuName.defaultValue']);
    expect(details.find((d) => d.target.includes('siteName'))!.message).toMatch(/length 2, below minLength 3/);
  });

  it('a password parameter with minLength 12 deploys with a 12-character generated password; the answer reports each source', async () => {
    const svc = local.svc;
    const dir = samplePackage((p) => {
      p.adminPassword.minLength = 12;
    });
    await publishOffer(svc, local.publisher, 'params-long', [{ name: 'westeurope', hot: 1, cold: 0 }], { packageDir: dir, publish: false });
    const pkg = await svc.http.get('/api/v1/offers/params-long/package').expect(200);
    const bySource = Object.fromEntries((pkg.body.revision.parameters as Array<{ name: string; valueSource: string; passwordLength?: number }>).map((p) => [p.name, p]));
    expect(bySource).toMatchObject({ baseUri: { valueSource: 'package' }, sessionId: { valueSource: 'session' }, adminUser: { valueSource: 'generated' }, adminPassword: { valueSource: 'generated', passwordLength: 12 }, skuName: { valueSource: 'default' } });
    await svc.http.post('/api/v1/offers/params-long/publish').expect(200);
    await svc.until(async () => (await capacity(svc, 'params-long', 'westeurope')).hotReady === 1);
    const market = await svc.as('marketplace');
    const s = await market.post('/api/v1/offers/params-long/sessions').send({ customer, region: 'westeurope' }).expect(201);
    expect(s.body.outputs.password).toHaveLength(12);
  });
});
