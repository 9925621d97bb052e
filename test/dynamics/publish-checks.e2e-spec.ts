jest.setTimeout(120_000);
import { useLocalService } from '../support/harness';
import { emulatorCall } from '../support/emulator-client';
import { offerBody, publisherWithEnvironment } from './helpers';

describe('Dynamics 365 publish preflight and periodic health check', () => {
  const local = useLocalService();

  it('refuses a wrong client secret with a report naming deployment.clientSecret (AADSTS7000215)', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 5, roles: ['Salesperson'] });
    await local.svc.http.put('/api/v1/offers/bad-secret').send(offerBody(publisher, env, {}, { clientSecret: 'not-the-secret' })).expect(201);
    const r = await local.svc.http.post('/api/v1/offers/bad-secret/publish').expect(409);
    expect(r.body.error.code).toBe('OfferIncomplete');
    expect(r.body.error.message).toContain('deployment.clientSecret');
    expect(r.body.error.details).toEqual([expect.objectContaining({ code: 'CredentialRefused', target: 'deployment.clientSecret', message: expect.stringContaining('AADSTS7000215') })]);
    expect(JSON.stringify(r.body)).not.toContain('not-the-secret');
    expect((await local.svc.http.get('/api/v1/offers/bad-secret').expect(200)).body.state).toBe('draft');
  });

  it('refuses a missing role, an unknown SKU and a foreign tenant name, naming each', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 5, roles: ['Salesperson'] });
    await local.svc.http.put('/api/v1/offers/bad-role').send(offerBody(publisher, env, { roleName: 'Trial Salesperson', licenseSku: 'SPE_E5' }, { tenantName: 'fabrikam.onmicrosoft.com' })).expect(201);
    const r = await local.svc.http.post('/api/v1/offers/bad-role/publish').expect(409);
    const byTarget = Object.fromEntries((r.body.error.details as Array<{ target: string; code: string; message: string }>).map((d) => [d.target, d]));
    expect(byTarget['testDrive.roleName']).toMatchObject({ code: 'RoleNotFound', message: expect.stringContaining("'Trial Salesperson'") });
    expect(byTarget['testDrive.licenseSku']).toMatchObject({ code: 'LicenseSkuNotFound', message: expect.stringContaining('DYN365_ENTERPRISE_PLAN1') });
    expect(byTarget['deployment.tenantName']).toMatchObject({ code: 'TenantNameNotVerified' });
  });

  it('refuses when the app is not an application user of the instance (deployment.clientId)', async () => {
    const publisher = await local.azure.emulator.createPublisher({});
    const env = local.azure.emulator.createDynamicsEnvironment({ tenantId: publisher.tenantId, product: 'customer-engagement', licenses: 2, roles: ['Salesperson'], applicationUser: false });
    await local.svc.http.put('/api/v1/offers/no-app-user').send(offerBody(publisher, env, { maxConcurrent: 2 })).expect(201);
    const r = await local.svc.http.post('/api/v1/offers/no-app-user/publish').expect(409);
    expect(r.body.error.details).toEqual([expect.objectContaining({ code: 'InstanceAccessDenied', target: 'deployment.clientId' })]);
  });

  it('marks a published offer degraded when its role is deleted or its licenses are gone, and healthy again when fixed', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 3, roles: ['Salesperson'] });
    await local.svc.http.put('/api/v1/offers/watched').send(offerBody(publisher, env, { maxConcurrent: 3 })).expect(201);
    const pub = await local.svc.http.post('/api/v1/offers/watched/publish').expect(200);
    expect(pub.body.warnings).toEqual([]);
    const patch = (body: unknown) => emulatorCall(local.azure.emulator.url, local.azure.emulator.caCertPem, 'PATCH', `/_emulator/dynamics-environments/${env.name}`, body);

    expect((await patch({ deleteRoles: ['Salesperson'] })).status).toBe(200);
    await local.svc.reconcile.reconcileOnce();
    expect((await local.svc.http.get('/api/v1/offers/watched').expect(200)).body.health.status).toBe('healthy'); // not yet due
    local.svc.clock.advance(301_000); // DYNAMICS_HEALTH_INTERVAL_SECONDS default 300
    await local.svc.reconcile.reconcileOnce();
    const degraded = (await local.svc.http.get('/api/v1/offers/watched').expect(200)).body.health;
    expect(degraded).toMatchObject({ status: 'degraded', problems: [expect.objectContaining({ code: 'RoleNotFound', target: 'testDrive.roleName' })] });
    const cap = (await local.svc.http.get('/api/v1/capacity?offerId=watched').expect(200)).body.value[0];
    expect(cap.health).toMatchObject({ status: 'degraded' });

    await patch({ addRoles: ['Salesperson'], licenses: 0 });
    local.svc.clock.advance(301_000);
    await local.svc.reconcile.reconcileOnce();
    expect((await local.svc.http.get('/api/v1/offers/watched').expect(200)).body.health).toMatchObject({ status: 'degraded', problems: [expect.objectContaining({ code: 'NoLicensesAvailable', target: 'testDrive.licenseSku' })] });

    await patch({ licenses: 3 });
    local.svc.clock.advance(301_000);
    await local.svc.reconcile.reconcileOnce();
    expect((await local.svc.http.get('/api/v1/offers/watched').expect(200)).body.health).toMatchObject({ status: 'healthy', problems: [], warnings: [] });
  });

  it('publishing a published offer checks it again at once: a fixed problem clears without waiting for the next periodic check (found by trying the product)', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 3, roles: ['Salesperson'] });
    await local.svc.http.put('/api/v1/offers/recheck').send(offerBody(publisher, env, { maxConcurrent: 3 })).expect(201);
    await local.svc.http.post('/api/v1/offers/recheck/publish').expect(200);
    const patch = (body: unknown) => emulatorCall(local.azure.emulator.url, local.azure.emulator.caCertPem, 'PATCH', `/_emulator/dynamics-environments/${env.name}`, body);
    expect((await patch({ deleteRoles: ['Salesperson'] })).status).toBe(200);
    local.svc.clock.advance(301_000);
    await local.svc.reconcile.reconcileOnce();
    expect((await local.svc.http.get('/api/v1/offers/recheck').expect(200)).body.health).toMatchObject({ status: 'degraded' });

    // Fixed in the environment; publish again: checked now, no clock advance.
    expect((await patch({ addRoles: ['Salesperson'] })).status).toBe(200);
    const again = await local.svc.http.post('/api/v1/offers/recheck/publish').expect(200);
    expect(again.body).toMatchObject({ state: 'published', health: { status: 'healthy', problems: [] } });
    const got = await local.svc.http.get('/api/v1/offers/recheck').expect(200);
    expect(got.body.health).toMatchObject({ status: 'healthy' });
    expect(got.headers.etag).toBe(again.headers.etag);
    // Still broken: publish answers 200 (the offer stays published) with the problems in health.
    expect((await patch({ deleteRoles: ['Salesperson'] })).status).toBe(200);
    expect((await local.svc.http.post('/api/v1/offers/recheck/publish').expect(200)).body.health).toMatchObject({ status: 'degraded', problems: [expect.objectContaining({ code: 'RoleNotFound' })] });
  });

  it('validates the configuration, naming each field', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 1, roles: ['Salesperson'] });
    const r = await local.svc.http
      .put('/api/v1/offers/invalid')
      .send(offerBody(publisher, env, { durationHours: 1.5, maxConcurrent: 100, instanceUrl: 'http://x.example.com', instanceWebApiUrl: `${env.instanceUrl}/api/data/`, trialLegalEntity: 'USMF' }, { tenantName: 'contoso.com' }))
      .expect(400);
    const targets = (r.body.error.details as Array<{ target: string }>).map((d) => d.target).sort();
    expect(targets).toEqual(['deployment.tenantName', 'testDrive.durationHours', 'testDrive.instanceUrl', 'testDrive.instanceWebApiUrl', 'testDrive.maxConcurrent', 'testDrive.trialLegalEntity']);
  });
});
