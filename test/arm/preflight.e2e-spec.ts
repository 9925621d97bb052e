import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EscalationService } from '../../src/escalation/escalation.service';
import { vmPackageDir } from '../support/fixtures-dir';
import { emulatedGroups, publishOffer, SAMPLE, useLocalServiceWith } from '../arm-resilience/helpers';

type Finding = { code: string; target?: string; message: string };

/**
 * Issue 13, the ARM publish preflight against the publisher's subscription (the emulator's Graph
 * applications, role assignments, resource providers and Compute usages): an expired client secret, a
 * principal without a deploying role, an unregistered resource provider are problems that refuse publish,
 * each named; a secret expiring in 20 days and a vCPU quota shortfall are warnings. The same check runs
 * periodically: removing the principal's role marks a published offer degraded within one interval (and
 * opens an escalation incident); restoring it makes the offer healthy again.
 */
describe('ARM publish preflight and health', () => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05 });
  const day = 86_400_000;

  it('refuses publish for an expired secret, a missing role, an unregistered provider; warns for an expiring secret and short quota', async () => {
    const svc = local.svc;
    const em = local.azure.emulator;
    const publish = async (id: string) => svc.http.post(`/api/v1/offers/${id}/publish`);
    const findings = (r: { body: { error?: { details?: Finding[] }; warnings?: Finding[] } }) => (r.body.error?.details ?? r.body.warnings ?? []).map((f) => `${f.code}@${f.target ?? ''}`);

    // A healthy offer publishes with no finding.
    await publishOffer(svc, local.publisher, 'pf-ok', [{ name: 'westeurope', hot: 0, cold: 1 }], { publish: false });
    const ok = await publish('pf-ok');
    expect(ok.status).toBe(200);
    expect(ok.body.health).toMatchObject({ status: 'healthy', problems: [] });

    // Expired secret: the tenant refuses the token (AADSTS7000222).
    const p1 = await em.createPublisher({});
    await publishOffer(svc, p1, 'pf-expired', [{ name: 'westeurope', hot: 0, cold: 1 }], { publish: false });
    em.setClientSecretExpiry(p1.clientId, new Date(svc.clock.now() - day));
    const expired = await publish('pf-expired');
    expect(expired.status).toBe(409);
    expect(findings(expired)).toContain('CredentialRefused@deployment.clientSecret');
    expect(JSON.stringify(expired.body)).toMatch(/AADSTS7000222|expired/);

    // Expiring in 20 days: a warning.
    em.setClientSecretExpiry(p1.clientId, new Date(Date.now() + 20 * day));
    const expiring = await publish('pf-expired');
    expect(expiring.status).toBe(200);
    expect(findings(expiring)).toContain('ClientSecretExpiring@deployment.clientSecret');

    // No deploying role on the subscription.
    const p2 = await em.createPublisher({});
    await publishOffer(svc, p2, 'pf-norole', [{ name: 'westeurope', hot: 0, cold: 1 }], { publish: false });
    em.removeRoleAssignment(p2.subscriptionId, p2.clientId);
    const norole = await publish('pf-norole');
    expect(norole.status).toBe(409);
    expect(findings(norole)).toContain('PrincipalLacksRole@deployment.clientId');

    // A resource provider the template needs is not registered.
    const p3 = await em.createPublisher({});
    await publishOffer(svc, p3, 'pf-provider', [{ name: 'westeurope', hot: 0, cold: 1 }], { publish: false });
    em.setProvider(p3.subscriptionId, 'Microsoft.Web', { registrationState: 'NotRegistered' } as never);
    const provider = await publish('pf-provider');
    expect(provider.status).toBe(409);
    expect(findings(provider)).toContain('ResourceProviderNotRegistered@deployment.subscriptionId');

    // ARM's validation refuses the template: an expression default that breaks its parameter's minLength
    // (left to ARM at upload) is reported per region, naming it.
    const p5 = await em.createPublisher({});
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-pf-'));
    fs.cpSync(SAMPLE, dir, { recursive: true });
    const mt = path.join(dir, 'main-template.json');
    const t = JSON.parse(fs.readFileSync(mt, 'utf8').replace(/^\uFEFF/, '')) as { parameters: Record<string, unknown> };
    t.parameters.siteSuffix = { type: 'string', defaultValue: "[concat('a', 'b')]", minLength: 5 };
    fs.writeFileSync(mt, JSON.stringify(t));
    await publishOffer(svc, p5, 'pf-invalid', [{ name: 'westeurope', hot: 0, cold: 1 }, { name: 'eastus', hot: 0, cold: 1 }], { publish: false, packageDir: dir });
    const invalid = await publish('pf-invalid');
    expect(invalid.status).toBe(409);
    expect(findings(invalid)).toEqual(expect.arrayContaining(['TemplateValidationFailed@testDrive.regions[0].name', 'TemplateValidationFailed@testDrive.regions[1].name']));
    // The scratch resource groups are gone (deletion submitted; the emulator removes them).
    await svc.until(async () => !emulatedGroups(local.azure, p5.subscriptionId).some((g) => g.name.startsWith('CloudTryValidate_')), 10_000);

    // vCPU quota: 4 instances of a 1-VM template need ~8 vCPUs; 4 are allowed: a warning naming region and shortfall.
    const p4 = await em.createPublisher({});
    await publishOffer(svc, p4, 'pf-quota', [{ name: 'westeurope', hot: 0, cold: 4 }], { publish: false, packageDir: vmPackageDir() });
    em.setComputeQuota(p4.subscriptionId, 'westeurope', { cores: 4 });
    const quota = await publish('pf-quota');
    expect(quota.status).toBe(200);
    const q = (quota.body.warnings as Finding[]).find((w) => w.code === 'QuotaShortfall')!;
    expect(q).toMatchObject({ target: 'testDrive.regions[0]' });
    expect(q.message).toMatch(/westeurope.*short/);
  });

  it('a published offer whose principal loses its role turns degraded within one health interval, and healthy again once restored', async () => {
    const svc = local.svc;
    const em = local.azure.emulator;
    const p = await em.createPublisher({});
    await publishOffer(svc, p, 'pf-health', [{ name: 'westeurope', hot: 0, cold: 1 }]);
    expect((await svc.http.get('/api/v1/offers/pf-health').expect(200)).body.health.status).toBe('healthy');
    em.removeRoleAssignment(p.subscriptionId, p.clientId);
    svc.clock.advance(300_000);
    await svc.reconcile.reconcileOnce();
    const degraded = (await svc.http.get('/api/v1/offers/pf-health').expect(200)).body.health;
    expect(degraded).toMatchObject({ status: 'degraded', problems: [expect.objectContaining({ code: 'PrincipalLacksRole', target: 'deployment.clientId' })] });
    const escalation = svc.app.get(EscalationService);
    expect((await escalation.evaluate()).opened).toBeGreaterThanOrEqual(1);
    const open = (await svc.http.get('/api/v1/incidents?offerId=pf-health&state=open').expect(200)).body.value;
    expect(open[0]).toMatchObject({ kind: 'offer_degraded' });

    em.setRoleAssignment(p.subscriptionId, p.clientId, 'Contributor');
    svc.clock.advance(300_000);
    await svc.reconcile.reconcileOnce();
    expect((await svc.http.get('/api/v1/offers/pf-health').expect(200)).body.health.status).toBe('healthy');
    await escalation.evaluate();
    expect((await svc.http.get('/api/v1/incidents?offerId=pf-health&state=open').expect(200)).body.value).toEqual([]);
  });
});
