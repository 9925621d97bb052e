jest.setTimeout(180_000);
import { randomUUID } from 'node:crypto';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import type { DynamicsEnvironmentInfo } from '../../emulator/src';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { customer, deploySample, offerBody, Publisher, runs, sessionWhen } from './helpers';

const RG = 'rg-testdrive-logic';
const HOUR = 3600 * 1000;

/**
 * Acceptance of issue 5 (Logic app): from templates/logicapp/dynamics-user, deploy the sample into an
 * emulator subscription (real DeploymentsClient), configure and publish an offer on it (real
 * LogicManagementClient preflight), start 3 sessions with maxConcurrent 2, expire them.
 */
describeEachDb('Logic app test drive from the template, whole life, on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let pub: Publisher;
  let env: DynamicsEnvironmentInfo;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { db });
    pub = (await azure.emulator.createPublisher({}));
    env = azure.emulator.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 3, roles: ['Salesperson', 'System Administrator'], syncSeconds: 1 });
    await deploySample(azure.emulator, pub, env, RG);
  });

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  const envView = () => azure.emulator.getDynamicsEnvironment(env.name) as { users: Array<{ upn: string; licensed: boolean; inEnvironment: boolean; roles: string[] }>; licenses: { inUse: number } };

  it('2 ready with outputs from the Logic App, the 3rd NoCapacity; expiry deprovisions and frees the slot', async () => {
    const put = await svc.http.put('/api/v1/offers/contoso-logic').send(offerBody(pub, RG));
    expect(put.status).toBe(201);
    expect(put.body.testDrive).toMatchObject({ type: 'logic-app', region: 'westeurope', maxConcurrent: 2, logicAppName: 'td-provision' });
    expect(JSON.stringify(put.body)).not.toContain(pub.clientSecret);
    await svc.http.post('/api/v1/offers/contoso-logic/publish').expect(200);

    const s1 = await svc.http.post('/api/v1/offers/contoso-logic/sessions').send({ customer }).expect(201);
    const s2 = await svc.http.post('/api/v1/offers/contoso-logic/sessions').send({ customer: { ...customer, email: 'grace@example.com', firstName: 'Grace' } }).expect(201);
    expect(s1.body).toMatchObject({ state: 'provisioning', region: 'westeurope', type: 'logic-app' });
    const s3 = await svc.http.post('/api/v1/offers/contoso-logic/sessions').send({ customer }).expect(409);
    expect(s3.body.error.code).toBe('NoCapacity');

    const r1 = await sessionWhen(svc, s1.body.id, (s) => s.state !== 'provisioning');
    const r2 = await sessionWhen(svc, s2.body.id, (s) => s.state !== 'provisioning');
    for (const r of [r1, r2]) {
      expect(r.state).toBe('ready');
      expect(r.outputs).toEqual({ instanceUrl: env.instanceUrl, userName: expect.stringMatching(new RegExp(`^td-[0-9a-f]{12}@${pub.tenantName}$`)), password: expect.stringMatching(/^Td!.{12}x9Q$/) });
      expect(r.accessInformation).toContain(`<a href="${env.instanceUrl}"`);
      expect(r.accessInformation).toContain(`<b>${r.outputs.userName}</b>`);
      expect(r.accessInformation).not.toContain('{{');
      expect(Date.parse(r.expiresAt) - Date.parse(r.readyAt)).toBe(HOUR);
    }
    expect(r1.outputs.userName).toBe(`td-${r1.id.replace(/-/g, '').slice(0, 12)}@${pub.tenantName}`);

    // The Dynamics 365 environment holds both test users, licensed, with the role.
    const view = envView();
    expect(view.users.map((u) => [u.upn, u.licensed, u.inEnvironment, u.roles]).sort()).toEqual(
      [r1, r2].map((r) => [r.outputs.userName, true, true, ['Salesperson']]).sort(),
    );
    // The provisioning Logic App received the contract payload (and the session id as client tracking id).
    const prov = await runs(azure.emulator, pub, RG, 'td-provision');
    expect(prov.map((r) => r.status)).toEqual(['Succeeded', 'Succeeded']);
    const body = prov.find((r) => r.trigger?.outputs?.body?.sessionId === r1.id)!.trigger!.outputs!.body;
    expect(body).toEqual({ sessionId: r1.id, offerId: 'contoso-logic', customer: { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', company: 'Engines', country: 'GB' }, durationHours: 1, expiresAt: expect.any(String) });

    // Capacity: both slots in use.
    const cap = (await svc.http.get('/api/v1/capacity?offerId=contoso-logic').expect(200)).body.value[0];
    expect(cap).toMatchObject({ type: 'logic-app', region: 'westeurope', limit: 2, inUse: 2, assigned: 2, deprovisionFailures: 0 });

    // 600 requests queued after them (QUEUE_MAX_LENGTH may be up to 10,000), written straight into the database:
    // the counts still see both slots in use (defect: they came from the newest 500 sessions, here all queued: inUse 0).
    const sessions = svc.app.get(SessionsRepository).repo;
    const model = (await sessions.findOneByOrFail({ id: r1.id })) as unknown as Record<string, unknown>;
    const queuedIds: string[] = [];
    for (let chunk = 0; chunk < 600; chunk += 200) {
      const rows = Array.from({ length: 200 }, (_, i) => ({ ...model, id: randomUUID(), state: 'queued', slot: null, instanceId: null, outputsEnc: null, progress: null, queueSeq: chunk + i + 1, requestedAt: svc.clock.now() + 1, readyAt: null, expiresAt: null }));
      queuedIds.push(...rows.map((r) => r.id));
      await sessions.insert(rows as never);
    }
    const busy = (await svc.http.get('/api/v1/capacity?offerId=contoso-logic').expect(200)).body.value[0];
    expect(busy).toMatchObject({ inUse: 2, assigned: 2, deploying: 0, ending: 0, queued: 600 });
    await sessions.delete(queuedIds);

    // The hour passes: both expire, the deprovisioning Logic App runs, the users are gone, slots freed.
    svc.clock.advance(HOUR + 1000);
    await svc.until(async () => {
      const [a, b] = await Promise.all([r1, r2].map((r) => svc.http.get(`/api/v1/sessions/${r.id}`)));
      return a.body.state === 'ended' && b.body.state === 'ended';
    }, 60_000);
    const e1 = (await svc.http.get(`/api/v1/sessions/${r1.id}`)).body;
    expect(e1).toMatchObject({ state: 'ended', endReason: 'expired', outputs: null, accessInformation: null });
    const deprov = await runs(azure.emulator, pub, RG, 'td-deprovision');
    expect(deprov.map((r) => r.status)).toEqual(['Succeeded', 'Succeeded']);
    const dbody = deprov.find((r) => r.trigger?.outputs?.body?.sessionId === r1.id)!.trigger!.outputs!.body;
    expect(dbody).toEqual({ sessionId: r1.id, offerId: 'contoso-logic', outputs: r1.outputs, reason: 'expired' });
    expect(envView().users).toEqual([]);
    expect(envView().licenses.inUse).toBe(0);

    // A new start succeeds (slot freed); ending it early deprovisions with reason "ended".
    const s4 = await svc.http.post('/api/v1/offers/contoso-logic/sessions').send({ customer }).expect(201);
    await sessionWhen(svc, s4.body.id, (s) => s.state === 'ready');
    await svc.http.delete(`/api/v1/sessions/${s4.body.id}`).expect(202);
    const e4 = await sessionWhen(svc, s4.body.id, (s) => s.state === 'ended');
    expect(e4.endReason).toBe('ended');
    const last = (await runs(azure.emulator, pub, RG, 'td-deprovision'))[0];
    expect(last).toMatchObject({ status: 'Succeeded' });
    expect(last.trigger!.outputs!.body.reason).toBe('ended');
    expect(envView().users).toEqual([]);
  });
});
