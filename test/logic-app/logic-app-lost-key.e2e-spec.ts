jest.setTimeout(180_000);
import { purgeDataProtectionKey } from '../support/data-protection';
import { definition } from '../emulator/logic-helpers';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { clients, customer, offerBody, Publisher, runs, sessionWhen } from './helpers';

const RG = 'rg-wf';

/**
 * The data protection key is deleted and purged while a Logic app session is ready, and the service
 * restarts: the session's outputs (what the provisioning Logic App answered) can no longer be decrypted.
 * Its deprovisioning Logic App must still be called (with the session id and no outputs), or whatever
 * the provisioning one made is never cleaned up.
 *
 * Found by trying the product (stop 26): the decryption error was taken for a failed call, retried
 * LOGIC_APP_MAX_ATTEMPTS times, and the session ended without the deprovisioning Logic App ever running.
 */
describe('Logic app test drive with a lost data protection key', () => {
  let azure: LocalAzure;
  let pub: Publisher;
  let a: TestService | undefined;
  let b: TestService | undefined;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    pub = await azure.emulator.createPublisher({});
    const { rm, logic } = clients(azure.emulator, pub);
    await rm.resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
    await logic.workflows.createOrUpdate(RG, 'provision', { location: 'westeurope', state: 'Enabled', definition: definition({ Response: { type: 'Response', kind: 'Http', runAfter: {}, inputs: { statusCode: 200, body: { userName: 'made-for-ada' } } } }) });
    await logic.workflows.createOrUpdate(RG, 'deprovision', { location: 'westeurope', state: 'Enabled', definition: definition({ Note: { type: 'Compose', runAfter: {}, inputs: "@triggerBody()?['sessionId']" } }) });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close(); // drops the database B shared
    await azure?.stop();
  });

  it('the deprovisioning Logic App is still called, with the session id and no outputs', async () => {
    a = await startService(azure);
    await a.http.put('/api/v1/offers/la-lostkey').send(offerBody(pub, RG, { logicAppName: 'provision', deprovisionLogicAppName: 'deprovision', accessInformation: 'User {{userName}}' })).expect(201);
    await a.http.post('/api/v1/offers/la-lostkey/publish').expect(200);
    const s = (await a.http.post('/api/v1/offers/la-lostkey/sessions').send({ customer }).expect(201)).body;
    await sessionWhen(a, s.id, (x) => x.state === 'ready', { tick: 1000 });
    await a.stop(); // keeps the database for B

    await purgeDataProtectionKey(azure);
    b = await startService(azure, { databaseUrl: a.databaseUrl, clock: a.clock });

    await b.http.delete(`/api/v1/sessions/${s.id}`).expect(202);
    const done = await sessionWhen(b, s.id, (x) => x.state === 'ended' || x.state === 'failed', { tick: 1000 });
    expect(done.outputs).toBeNull();
    const calls = await runs(azure.emulator, pub, RG, 'deprovision');
    expect(calls).toHaveLength(1);
    expect(calls[0].trigger!.outputs!.body).toEqual({ sessionId: s.id, offerId: 'la-lostkey', outputs: {}, reason: expect.any(String) });
    const cap = (await b.http.get('/api/v1/capacity?offerId=la-lostkey').expect(200)).body.value[0];
    expect(cap).toMatchObject({ inUse: 0, deprovisionFailures: 0 });
  });
});
