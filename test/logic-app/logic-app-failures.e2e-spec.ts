jest.setTimeout(180_000);
import { PassThrough } from 'node:stream';
import type { LogicManagementClient } from '@azure/arm-logic';
import type { DynamicsEnvironmentInfo } from '../../emulator/src';
import { control } from '../emulator/helpers';
import { definition, localServer } from '../emulator/logic-helpers';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { clients, customer, deploySample, offerBody, Publisher, runs, sessionWhen } from './helpers';

const RG = 'rg-wf';
const SAMPLE_RG = 'rg-sample-ghost-role';

/**
 * Logic app failure semantics: publish preflight, a provisioning Logic App that fails or times out
 * (session failed with its reason, deprovisioning still runs), 429 retried, async answers, a
 * deprovisioning Logic App that keeps failing (bounded, recorded), and no callback signature in logs.
 */
describe('Logic app test drive: preflight, failures, timeouts, retries', () => {
  let azure: LocalAzure;
  let svc: TestService;
  let pub: Publisher;
  let env: DynamicsEnvironmentInfo;
  let logic: LogicManagementClient;
  let srv: Awaited<ReturnType<typeof localServer>>;
  const logs: string[] = [];
  const savedEnv = { ...process.env };
  let flakyCalls = 0;

  beforeAll(async () => {
    process.env.LOGIC_APP_MAX_ATTEMPTS = '3';
    process.env.LOGIC_APP_TIMEOUT_SECONDS = '600';
    azure = await startLocalAzure(0.2);
    const logStream = new PassThrough();
    logStream.on('data', (c: Buffer) => logs.push(c.toString('utf8')));
    svc = await startService(azure, { env: { LOG_LEVEL: 'info' }, logStream });
    pub = (await azure.emulator.createPublisher({}));
    env = azure.emulator.createDynamicsEnvironment({ tenantId: pub.tenantId, product: 'customer-engagement', licenses: 2, roles: ['Salesperson'], syncSeconds: 0 });
    await deploySample(azure.emulator, pub, env, SAMPLE_RG, 'Ghost role');
    ({ logic } = clients(azure.emulator, pub));
    await clients(azure.emulator, pub).rm.resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
    srv = await localServer(() => ({ status: 200, body: { status: ++flakyCalls === 1 ? 429 : 200 } }));
    const put = (name: string, def: Record<string, unknown>, state = 'Enabled') => logic.workflows.createOrUpdate(RG, name, { location: 'westeurope', state, definition: def });
    const respond = (body: unknown, extra: Record<string, unknown> = {}) => ({ type: 'Response', kind: 'Http', inputs: { statusCode: 200, body }, ...extra });
    // async Response after 1 s: 202 + Location, then the answer
    await put('quick-provision', definition({
      Wait: { type: 'Wait', runAfter: {}, inputs: { interval: { count: 1, unit: 'Second' } } },
      Response: respond({ hello: "@{triggerBody()?['customer']?['firstName']}", nested: { a: 1 } }, { operationOptions: 'Asynchronous', runAfter: { Wait: ['Succeeded'] } }),
    }));
    // no Response: 202 at once; the run is followed through workflowRuns.get
    await put('quick-deprovision', definition({ Note: { type: 'Compose', runAfter: {}, inputs: "@triggerBody()?['reason']" } }));
    // asynchronous Response that comes too late (the service's clock timeout)
    await put('slow-provision', definition({
      Wait: { type: 'Wait', runAfter: {}, inputs: { interval: { count: 30, unit: 'Second' } } },
      Response: respond({ late: true }, { operationOptions: 'Asynchronous', runAfter: { Wait: ['Succeeded'] } }),
    }));
    // synchronous Response slower than the emulator's sync timeout (set to 1 s below): 504 + run id
    await put('sync-slow-provision', definition({
      Wait: { type: 'Wait', runAfter: {}, inputs: { interval: { count: 3, unit: 'Second' } } },
      Response: respond({ late: true }, { runAfter: { Wait: ['Succeeded'] } }),
    }));
    // answers 429 (Retry-After 1) the first time, 200 after
    await put('flaky-provision', definition({
      Ask: { type: 'Http', runAfter: {}, inputs: { method: 'GET', uri: `${srv.url}/status` } },
      Response: { type: 'Response', kind: 'Http', runAfter: { Ask: ['Succeeded'] }, inputs: { statusCode: "@{body('Ask')?['status']}", headers: { 'Retry-After': '1' }, body: { attempt: "@{body('Ask')?['status']}" } } },
    }));
    await put('broken-deprovision', definition({ Fail: { type: 'Terminate', runAfter: {}, inputs: { runStatus: 'Failed', runError: { code: 'CleanupBroken', message: 'cannot clean up' } } } }));
    await put('disabled-wf', definition({ Response: respond({}) }), 'Disabled');
    await put('recurrence-wf', definition({ Note: { type: 'Compose', runAfter: {}, inputs: 1 } }, { hourly: { type: 'Recurrence', recurrence: { frequency: 'Hour', interval: 1 } } }));
  });

  afterAll(async () => {
    await svc?.close();
    await srv?.close();
    await azure?.stop();
    process.env = savedEnv;
  });

  const createAndPublish = async (id: string, rg: string, over: Record<string, unknown>, expectStatus = 200) => {
    await svc.http.put(`/api/v1/offers/${id}`).send(offerBody(pub, rg, over)).expect(201);
    return svc.http.post(`/api/v1/offers/${id}/publish`).expect(expectStatus);
  };

  it('refuses to publish when a workflow is missing, disabled, has no Request trigger, or the secret is wrong; the report names each', async () => {
    const r1 = await createAndPublish('la-missing', RG, { logicAppName: 'nope', deprovisionLogicAppName: 'disabled-wf' }, 409);
    expect(r1.body.error.code).toBe('OfferIncomplete');
    expect(r1.body.error.details).toEqual([
      expect.objectContaining({ code: 'LogicAppNotFound', target: 'testDrive.logicAppName', message: expect.stringContaining("'nope' was not found in resource group 'rg-wf'") }),
      expect.objectContaining({ code: 'LogicAppDisabled', target: 'testDrive.deprovisionLogicAppName', message: expect.stringContaining("'disabled-wf' is disabled") }),
    ]);
    const r2 = await createAndPublish('la-recurrence', RG, { logicAppName: 'recurrence-wf', deprovisionLogicAppName: 'quick-deprovision' }, 409);
    expect(r2.body.error.details).toEqual([expect.objectContaining({ code: 'LogicAppNoRequestTrigger', target: 'testDrive.logicAppName' })]);
    const r3 = await createAndPublish('la-norg', 'rg-does-not-exist', { logicAppName: 'quick-provision', deprovisionLogicAppName: 'quick-deprovision' }, 409);
    expect(r3.body.error.details[0]).toMatchObject({ target: expect.stringMatching(/^testDrive\.(resourceGroupName|logicAppName)$/) });
    await svc.http.put('/api/v1/offers/la-badsecret').send({ ...offerBody(pub, RG, { logicAppName: 'quick-provision', deprovisionLogicAppName: 'quick-deprovision' }), deployment: { subscriptionId: pub.subscriptionId, tenantId: pub.tenantId, clientId: pub.clientId, clientSecret: 'wrong-secret' } }).expect(201);
    const r4 = await svc.http.post('/api/v1/offers/la-badsecret/publish').expect(409);
    expect(r4.body.error.details).toEqual([expect.objectContaining({ code: 'AuthenticationFailed', target: 'deployment.clientSecret' })]);
    await svc.http.post('/api/v1/offers/la-missing/sessions').send({ customer }).expect(409);
  });

  it('a provisioning Logic App that fails (Terminate Failed) gives a failed session with its reason, and deprovisioning still runs', async () => {
    await createAndPublish('la-ghost', SAMPLE_RG, {});
    const s = await svc.http.post('/api/v1/offers/la-ghost/sessions').send({ customer }).expect(201);
    const done = await sessionWhen(svc, s.body.id, (x) => x.state === 'failed');
    expect(done.endReason).toBe('failed');
    expect(done.failure.code).toBe('RoleNotFound');
    expect(done.failure.message).toContain("The security role 'Ghost role' was not found in the test user's business unit.");
    const dep = await runs(azure.emulator, pub, SAMPLE_RG, 'td-deprovision');
    expect(dep).toHaveLength(1);
    expect(dep[0]).toMatchObject({ status: 'Succeeded', response: expect.objectContaining({ statusCode: 200 }) });
    expect(dep[0].trigger!.outputs!.body).toEqual({ sessionId: s.body.id, offerId: 'la-ghost', outputs: {}, reason: 'failed' });
    // the half-made user (created, licensed, no role) was removed by the deprovisioning Logic App
    expect((azure.emulator.getDynamicsEnvironment(env.name) as { users: unknown[] }).users).toEqual([]);
    // the slot is free again
    const cap = (await svc.http.get('/api/v1/capacity?offerId=la-ghost').expect(200)).body.value[0];
    expect(cap).toMatchObject({ inUse: 0, failed: 1 });
  });

  it('async answers (202 + Location) become outputs; a deprovisioning Logic App without Response is followed to its end', async () => {
    await createAndPublish('la-async', RG, { logicAppName: 'quick-provision', deprovisionLogicAppName: 'quick-deprovision', accessInformation: 'Hi {{hello}} {{nested}}' });
    const s = await svc.http.post('/api/v1/offers/la-async/sessions').send({ customer }).expect(201);
    const ready = await sessionWhen(svc, s.body.id, (x) => x.state === 'ready');
    expect(ready.outputs).toEqual({ hello: 'Ada', nested: '{"a":1}' });
    expect(ready.accessInformation).toBe('Hi Ada {"a":1}');
    await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    await sessionWhen(svc, s.body.id, (x) => x.state === 'ended');
    const dep = await runs(azure.emulator, pub, RG, 'quick-deprovision');
    expect(dep[0]).toMatchObject({ status: 'Succeeded' });
    expect(dep[0].trigger!.outputs!.body).toEqual({ sessionId: s.body.id, offerId: 'la-async', outputs: { hello: 'Ada', nested: '{"a":1}' }, reason: 'ended' });
  });

  it('a provisioning Logic App that takes longer than LOGIC_APP_TIMEOUT_SECONDS fails the session (run cancelled) and deprovisioning runs', async () => {
    await createAndPublish('la-slow', RG, { logicAppName: 'slow-provision', deprovisionLogicAppName: 'quick-deprovision' });
    const s = await svc.http.post('/api/v1/offers/la-slow/sessions').send({ customer }).expect(201);
    // the call was accepted (202) and the run is being followed
    await svc.until(async () => (await runs(azure.emulator, pub, RG, 'slow-provision')).length === 1);
    svc.clock.advance(601_000);
    const failed = await sessionWhen(svc, s.body.id, (x) => x.state === 'failed');
    expect(failed.failure).toMatchObject({ code: 'LogicAppTimedOut', message: expect.stringContaining("'slow-provision' did not finish within 600 seconds") });
    expect((await runs(azure.emulator, pub, RG, 'slow-provision'))[0].status).toBe('Cancelled');
    const dep = (await runs(azure.emulator, pub, RG, 'quick-deprovision'))[0];
    expect(dep.trigger!.outputs!.body).toMatchObject({ sessionId: s.body.id, reason: 'failed', outputs: {} });
  });

  it('a synchronous Response that misses the Logic Apps request timeout (504) is followed: the run fails and the session with it', async () => {
    await control(azure.emulator, 'PUT', '/_emulator/logic/settings', { syncResponseTimeoutSeconds: 1 });
    try {
      await createAndPublish('la-sync-slow', RG, { logicAppName: 'sync-slow-provision', deprovisionLogicAppName: 'quick-deprovision' });
      const s = await svc.http.post('/api/v1/offers/la-sync-slow/sessions').send({ customer }).expect(201);
      const failed = await sessionWhen(svc, s.body.id, (x) => x.state === 'failed');
      expect(failed.failure.message).toContain("'sync-slow-provision' run failed");
      expect((await runs(azure.emulator, pub, RG, 'quick-deprovision'))[0].trigger!.outputs!.body).toMatchObject({ sessionId: s.body.id, reason: 'failed' });
    } finally {
      await control(azure.emulator, 'PUT', '/_emulator/logic/settings', { syncResponseTimeoutSeconds: 120 });
    }
  });

  it('429 from the provisioning Logic App is retried after Retry-After / backoff', async () => {
    await createAndPublish('la-flaky', RG, { logicAppName: 'flaky-provision', deprovisionLogicAppName: 'quick-deprovision' });
    const s = await svc.http.post('/api/v1/offers/la-flaky/sessions').send({ customer }).expect(201);
    const ready = await sessionWhen(svc, s.body.id, (x) => x.state === 'ready', { tick: 1000 });
    expect(ready.outputs).toEqual({ attempt: '200' });
    const calls = await runs(azure.emulator, pub, RG, 'flaky-provision');
    expect(calls.map((r) => (r.response as { statusCode: number }).statusCode)).toEqual([200, 429]);
    await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    await sessionWhen(svc, s.body.id, (x) => x.state === 'ended');
  });

  it('a deprovisioning Logic App that keeps failing is retried LOGIC_APP_MAX_ATTEMPTS times, then the session ends anyway and it is counted', async () => {
    await createAndPublish('la-broken', RG, { logicAppName: 'quick-provision', deprovisionLogicAppName: 'broken-deprovision' });
    const s = await svc.http.post('/api/v1/offers/la-broken/sessions').send({ customer }).expect(201);
    await sessionWhen(svc, s.body.id, (x) => x.state === 'ready');
    await svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
    const ended = await sessionWhen(svc, s.body.id, (x) => x.state === 'ended', { tick: 5000 });
    expect(ended.endReason).toBe('ended');
    const attempts = await runs(azure.emulator, pub, RG, 'broken-deprovision');
    expect(attempts.map((r) => r.status)).toEqual(['Failed', 'Failed', 'Failed']);
    const cap = (await svc.http.get('/api/v1/capacity?offerId=la-broken').expect(200)).body.value[0];
    expect(cap).toMatchObject({ inUse: 0, deprovisionFailures: 1 });
  });

  it('never logs a callback signature or the client secret', async () => {
    const all = logs.join('');
    expect(all).toContain('calling the provisioning Logic App');
    expect(all).not.toMatch(/sig=[A-Za-z0-9_-]{20,}/);
    expect(all).not.toContain(pub.clientSecret);
  });
});
