jest.setTimeout(180_000);
import { randomUUID } from 'node:crypto';
import { Role } from '../../src/auth/roles';
import { EscalationService } from '../../src/escalation/escalation.service';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { definition } from '../emulator/logic-helpers';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { clients, customer, offerBody, Publisher, runs, sessionWhen } from './helpers';

const RG = 'rg-wf';

/**
 * A Logic app session whose deprovisioning Logic App failed every attempt ended anyway, and what it made
 * may be left behind: the offer's `deprovisioning_failed` incident must hold until someone acknowledges
 * the session (POST /sessions/{id}/acknowledge-deprovisioning), however many sessions end after it.
 *
 * Found by trying the product (noted at stops 28 and 29): the condition was read from the offer's newest
 * 500 finished sessions, so once 500 more had ended the capacity row counted 0 and the incident resolved
 * itself, with nothing cleaned up and no one told; and there was no way to say it had been dealt with.
 */
describeEachDb('Logic app: a deprovisioning that gave up stays an incident until acknowledged, on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  let pub: Publisher;
  const saved = process.env.LOGIC_APP_MAX_ATTEMPTS;

  beforeAll(async () => {
    process.env.LOGIC_APP_MAX_ATTEMPTS = '2';
    azure = await startLocalAzure(0.2);
    pub = await azure.emulator.createPublisher({});
    const { rm, logic } = clients(azure.emulator, pub);
    await rm.resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
    const put = (name: string, actions: Record<string, unknown>) => logic.workflows.createOrUpdate(RG, name, { location: 'westeurope', state: 'Enabled', definition: definition(actions) });
    await put('provision', { Response: { type: 'Response', kind: 'Http', runAfter: {}, inputs: { statusCode: 200, body: { userName: 'made-for-ada' } } } });
    await put('broken-deprovision', { Fail: { type: 'Terminate', runAfter: {}, inputs: { runStatus: 'Failed', runError: { code: 'CleanupBroken', message: 'cannot clean up' } } } });
    await put('deprovision', { Note: { type: 'Compose', runAfter: {}, inputs: "@triggerBody()?['sessionId']" } });
    await put('flip-deprovision', { Note: { type: 'Compose', runAfter: {}, inputs: 1 } });
    svc = await startService(azure, { db });
  });
  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
    if (saved === undefined) delete process.env.LOGIC_APP_MAX_ATTEMPTS;
    else process.env.LOGIC_APP_MAX_ATTEMPTS = saved;
  });

  const capacityOf = async (offerId: string) => (await svc.http.get(`/api/v1/capacity?offerId=${offerId}`).expect(200)).body.value[0];
  const incidents = async (offerId: string) => {
    await svc.app.get(EscalationService).evaluate(svc.clock.now());
    return (await svc.http.get(`/api/v1/incidents?offerId=${offerId}&kind=deprovisioning_failed`).expect(200)).body.value as Array<{ state: string; details: Record<string, unknown> }>;
  };
  const runSession = async (offerId: string) => {
    const s = (await svc.http.post(`/api/v1/offers/${offerId}/sessions`).send({ customer }).expect(201)).body;
    await sessionWhen(svc, s.id, (x) => x.state === 'ready', { tick: 1000 });
    await svc.http.delete(`/api/v1/sessions/${s.id}`).expect(202);
    return sessionWhen(svc, s.id, (x) => x.state === 'ended', { tick: 5000 });
  };

  it('counts the session however many end after it, until an operator or the publisher acknowledges it', async () => {
    await svc.http.put('/api/v1/offers/la-ack').send(offerBody(pub, RG, { logicAppName: 'provision', deprovisionLogicAppName: 'broken-deprovision', accessInformation: 'User {{userName}}' })).expect(201);
    await svc.http.post('/api/v1/offers/la-ack/publish').expect(200);
    const ended = await runSession('la-ack');
    expect((await runs(azure.emulator, pub, RG, 'broken-deprovision')).map((r) => r.status)).toEqual(['Failed', 'Failed']);
    expect(await capacityOf('la-ack')).toMatchObject({ deprovisionFailures: 1 });
    const opened = await incidents('la-ack');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ state: 'open', details: { sessions: 1 } });

    // 500 more sessions of the offer end (written straight to the table: their teardowns are not the point).
    const repo = svc.app.get(SessionsRepository).repo;
    const row = await repo.findOneByOrFail({ id: ended.id });
    const later = Array.from({ length: 501 }, (_, i) => ({
      ...row,
      id: randomUUID(),
      requestedAt: row.requestedAt + 1_000 + i,
      endedAt: row.requestedAt + 2_000 + i,
      updatedAt: row.requestedAt + 2_000 + i,
      progress: null,
      outputsEnc: null,
      slot: null,
      idempotencyKey: null,
      deprovisioningFailedAt: null,
    }));
    for (let i = 0; i < later.length; i += 100) await repo.insert(later.slice(i, i + 100));
    expect(await capacityOf('la-ack')).toMatchObject({ deprovisionFailures: 1 });
    expect((await incidents('la-ack'))[0]).toMatchObject({ state: 'open' });

    // The session and the capacity row say which session it is; the incident names it.
    expect(ended.deprovisioningFailedAt).toEqual(expect.any(String));
    expect(ended.deprovisioningAcknowledgedAt).toBeNull();
    expect(await capacityOf('la-ack')).toMatchObject({ deprovisionFailedSessions: [ended.id] });
    expect(opened[0].details).toEqual({ sessions: 1, sessionIds: [ended.id] });

    // Who may acknowledge: not the marketplace (its role), not another publisher (the session does not exist to it).
    const market = await svc.as({ roles: [Role.Marketplace] });
    await market.post(`/api/v1/sessions/${ended.id}/acknowledge-deprovisioning`).expect(403);
    const stranger = await svc.as({ roles: [Role.Publisher] });
    const hidden = await stranger.post(`/api/v1/sessions/${ended.id}/acknowledge-deprovisioning`).expect(404);
    expect(hidden.body.error.code).toBe('SessionNotFound');
    // A session whose deprovisioning did not fail has nothing to acknowledge.
    const other = await svc.http.post(`/api/v1/sessions/${later[0].id}/acknowledge-deprovisioning`).expect(409);
    expect(other.body.error).toMatchObject({ code: 'DeprovisioningNotFailed' });
    expect(other.body.error.message).toContain(later[0].id);

    const operator = await svc.as({ roles: [Role.Operator] });
    const acked = (await operator.post(`/api/v1/sessions/${ended.id}/acknowledge-deprovisioning`).expect(200)).body;
    expect(acked).toMatchObject({ id: ended.id, state: 'ended', deprovisioningFailedAt: ended.deprovisioningFailedAt, deprovisioningAcknowledgedAt: new Date(svc.clock.now()).toISOString(), outputs: null, accessInformation: null });
    // Idempotent: again is the same answer, and one audit record.
    svc.clock.advance(1_000);
    const again = (await operator.post(`/api/v1/sessions/${ended.id}/acknowledge-deprovisioning`).expect(200)).body;
    expect(again.deprovisioningAcknowledgedAt).toBe(acked.deprovisioningAcknowledgedAt);
    const audit = (await operator.get('/api/v1/audit?offerId=la-ack&action=session.deprovisioning-acknowledged').expect(200)).body.value;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ target: { type: 'session', id: ended.id }, details: { failedAt: ended.deprovisioningFailedAt } });

    expect(await capacityOf('la-ack')).toMatchObject({ deprovisionFailures: 0, deprovisionFailedSessions: [] });
    expect((await incidents('la-ack'))[0]).toMatchObject({ state: 'resolved' });
  });

  it('the publisher of the offer acknowledges its own sessions', async () => {
    await svc.http.put('/api/v1/offers/la-ack2').send(offerBody(pub, RG, { logicAppName: 'provision', deprovisionLogicAppName: 'broken-deprovision', accessInformation: 'User {{userName}}' })).expect(201);
    await svc.http.post('/api/v1/offers/la-ack2/publish').expect(200);
    const ended = await runSession('la-ack2');
    expect(ended.deprovisioningFailedAt).toEqual(expect.any(String));
    // The offer cannot be deleted while a failure is not acknowledged: its incident would go with it, unseen.
    await svc.http.post('/api/v1/offers/la-ack2/unpublish').expect(200);
    const refused = await svc.http.delete('/api/v1/offers/la-ack2').expect(409);
    expect(refused.body.error).toMatchObject({ code: 'OfferHasDeprovisioningFailures' });
    expect(refused.body.error.message).toContain('acknowledge-deprovisioning');
    // svc.http is the offer's publisher (it created the offer).
    const acked = (await svc.http.post(`/api/v1/sessions/${ended.id}/acknowledge-deprovisioning`).expect(200)).body;
    expect(acked.deprovisioningAcknowledgedAt).toEqual(expect.any(String));
    expect(await capacityOf('la-ack2')).toMatchObject({ deprovisionFailures: 0 });
    await svc.http.delete('/api/v1/offers/la-ack2').expect(204);
  });

  // Found by trying the product (stop 30): a deprovisioning Logic App that is disabled (or deleted) failed before
  // any POST, which was not counted as an attempt: retried every 2 s forever, the session `ending` and holding its slot.
  it('a deprovisioning Logic App that cannot be called at all gives up after LOGIC_APP_MAX_ATTEMPTS too', async () => {
    await svc.http.put('/api/v1/offers/la-disabled').send(offerBody(pub, RG, { logicAppName: 'provision', deprovisionLogicAppName: 'flip-deprovision', accessInformation: 'User {{userName}}' })).expect(201);
    await svc.http.post('/api/v1/offers/la-disabled/publish').expect(200);
    const s = (await svc.http.post('/api/v1/offers/la-disabled/sessions').send({ customer }).expect(201)).body;
    await sessionWhen(svc, s.id, (x) => x.state === 'ready', { tick: 1000 });
    await clients(azure.emulator, pub).logic.workflows.disable(RG, 'flip-deprovision'); // after publish, which checks it
    await svc.http.delete(`/api/v1/sessions/${s.id}`).expect(202);
    const ended = await sessionWhen(svc, s.id, (x) => x.state === 'ended', { tick: 5000 });
    expect(ended.deprovisioningFailedAt).toEqual(expect.any(String));
    expect(await runs(azure.emulator, pub, RG, 'flip-deprovision')).toHaveLength(0);
    expect(await capacityOf('la-disabled')).toMatchObject({ inUse: 0, deprovisionFailures: 1 });
  });

  it('a session whose deprovisioning succeeded, and one still live, have nothing to acknowledge', async () => {
    await svc.http.put('/api/v1/offers/la-ok').send(offerBody(pub, RG, { logicAppName: 'provision', deprovisionLogicAppName: 'deprovision', accessInformation: 'User {{userName}}' })).expect(201);
    await svc.http.post('/api/v1/offers/la-ok/publish').expect(200);
    const ended = await runSession('la-ok');
    expect(ended.deprovisioningFailedAt).toBeNull();
    await svc.http.post(`/api/v1/sessions/${ended.id}/acknowledge-deprovisioning`).expect(409);
    const live = (await svc.http.post('/api/v1/offers/la-ok/sessions').send({ customer }).expect(201)).body;
    const r = await svc.http.post(`/api/v1/sessions/${live.id}/acknowledge-deprovisioning`).expect(409);
    expect(r.body.error.message).toMatch(/the session is (provisioning|ready)/);
    await svc.http.post(`/api/v1/sessions/${randomUUID()}/acknowledge-deprovisioning`).expect(404);
  });
});
