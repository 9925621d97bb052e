jest.setTimeout(180_000);
import { useLocalService } from '../support/harness';
import { customer, drive, envView, offerBody, publisherWithEnvironment, sessionState } from './helpers';

describe('Dynamics 365 Business Central and Operations test drives (automation API / F&O OData over fetch against the emulator)', () => {
  const local = useLocalService();

  it('Business Central: user licensed, synced, given the permission set in the company; ends without a trace', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'business-central', licenses: 2, roles: ['D365 BUS FULL ACCESS', 'D365 READ'] });
    await local.svc.http.put('/api/v1/offers/bc-trial').send(offerBody(publisher, env, { roleName: 'D365 READ', maxConcurrent: 2, durationHours: 1 })).expect(201);
    const pub = await local.svc.http.post('/api/v1/offers/bc-trial/publish').expect(200);
    expect(pub.body.warnings).toEqual([]);
    expect(pub.body.health.licenses).toMatchObject({ sku: 'DYN365_BUSCENTRAL_ESSENTIAL', total: 2, free: 2 });

    // A throttled permission assignment (429 + Retry-After) is retried after the delay.
    local.azure.emulator.setFaults([{ operation: 'bc.userPermissions.create', status: 429, retryAfterSeconds: 1, count: 1 }]);
    const s = (await local.svc.http.post('/api/v1/offers/bc-trial/sessions').send({ customer }).expect(201)).body;
    const ready = await drive(local.svc, async () => {
      const v = await sessionState(local.svc, s.id);
      return v.state === 'ready' ? v : null;
    });
    expect(ready.outputs).toMatchObject({ instanceUrl: env.instanceUrl, userName: expect.stringMatching(/^td-[0-9a-f]{12}@/) });
    let view = envView(local.azure, env.name);
    expect(view.roleAssignments).toEqual([expect.objectContaining({ upn: ready.outputs!.userName, role: 'D365 READ', organizations: [env.companyName] })]);
    expect(view.licenses.inUse).toBe(1);

    local.svc.clock.advance(3600 * 1000 + 1000);
    await drive(local.svc, async () => (await sessionState(local.svc, s.id)).state === 'ended');
    view = envView(local.azure, env.name);
    expect(view).toMatchObject({ licenses: { inUse: 0 }, users: [], roleAssignments: [] });
  });

  it('Operations: AOT role restricted to the trial legal entity; ends without a trace', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'operations', licenses: 2, roles: ['SYSTEMUSER', 'LEDGERACCOUNTANT'], legalEntity: 'USMF' });
    // Preflight names a legal entity that does not exist, and an unknown AOT role.
    await local.svc.http.put('/api/v1/offers/fo-trial').send(offerBody(publisher, env, { roleName: 'NOSUCHROLE', trialLegalEntity: 'DEMF', maxConcurrent: 2 })).expect(201);
    const refused = await local.svc.http.post('/api/v1/offers/fo-trial/publish').expect(409);
    expect((refused.body.error.details as Array<{ target: string }>).map((d) => d.target).sort()).toEqual(['testDrive.roleName', 'testDrive.trialLegalEntity']);

    await local.svc.http.put('/api/v1/offers/fo-trial').send(offerBody(publisher, env, { roleName: 'LEDGERACCOUNTANT', maxConcurrent: 2 }, { clientSecret: undefined })).expect(200);
    const pub = await local.svc.http.post('/api/v1/offers/fo-trial/publish');
    expect(pub.body.error?.details ?? []).toEqual([]);
    const s = (await local.svc.http.post('/api/v1/offers/fo-trial/sessions').send({ customer: { ...customer, country: 'de' } }).expect(201)).body;
    const ready = await drive(local.svc, async () => {
      const v = await sessionState(local.svc, s.id);
      return v.state === 'ready' ? v : null;
    });
    let view = envView(local.azure, env.name);
    expect(view.roleAssignments).toEqual([expect.objectContaining({ upn: ready.outputs!.userName, role: 'LEDGERACCOUNTANT', organizations: ['USMF'] })]);

    await local.svc.http.delete(`/api/v1/sessions/${s.id}`).expect(202);
    await drive(local.svc, async () => (await sessionState(local.svc, s.id)).state === 'ended');
    view = envView(local.azure, env.name);
    expect(view).toMatchObject({ licenses: { inUse: 0 }, users: [], roleAssignments: [] });
  });
});
