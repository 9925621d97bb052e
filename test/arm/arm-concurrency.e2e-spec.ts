import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { publishOffer } from '../arm-resilience/helpers';

const customer = { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' };

/** Publishes the sample web app in northeurope with `hot` + `cold` instances and waits for the hot pool. */
async function publishAndFill(svc: TestService, azure: LocalAzure, offerId: string, hot: number, cold: number): Promise<void> {
  await publishOffer(svc, await azure.emulator.createPublisher({}), offerId, [{ name: 'northeurope', hot, cold }], { accessInformation: '{{userName}}' });
  await svc.until(async () => {
    const r = await svc.http.get(`/api/v1/capacity?offerId=${offerId}`).expect(200);
    return r.body.value[0].hotReady === hot;
  });
}

/** Fires `n` starts at once, spread over the given services; returns the responses. */
async function burst(services: TestService[], offerId: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, (_, i) => services[i % services.length].http.post(`/api/v1/offers/${offerId}/sessions`).send({ customer: { ...customer, email: `c${i}@example.com` } })),
  );
}

function checkBurst(responses: Array<{ status: number; body: { id?: string; instanceKind?: string; state?: string; error?: { code: string } } }>, hot: number, cold: number) {
  const created = responses.filter((r) => r.status === 201);
  const refused = responses.filter((r) => r.status === 409);
  expect(responses.filter((r) => r.status !== 201 && r.status !== 409)).toEqual([]);
  expect(created.filter((r) => r.body.instanceKind === 'hot' && r.body.state === 'ready')).toHaveLength(hot);
  expect(created.filter((r) => r.body.instanceKind === 'cold')).toHaveLength(cold);
  expect(refused.every((r) => r.body.error?.code === 'NoCapacity')).toBe(true);
  expect(new Set(created.map((r) => r.body.id)).size).toBe(created.length);
  return created;
}

describeEachDb('concurrent starts on %s', (db) => {
  let azure: LocalAzure;

  beforeAll(async () => {
    azure = await startLocalAzure(0.1);
  });
  afterAll(async () => {
    await azure?.stop();
  });

  it('a burst of 40 starts never double-claims and never exceeds hot + cold', async () => {
    const svc = await startService(azure, { db });
    try {
      await publishAndFill(svc, azure, 'burst-one', 3, 2);
      const created = checkBurst(await burst([svc], 'burst-one', 40), 3, 2);
      const instances = await svc.app.get(require('../../modules/azure-resource-manager/pools/pool-instance.repository').PoolInstanceRepository).listLive('burst-one');
      const assigned = instances.filter((i: { sessionId: string | null }) => i.sessionId);
      expect(assigned).toHaveLength(5);
      expect(new Set(assigned.map((i: { sessionId: string }) => i.sessionId))).toEqual(new Set(created.map((r) => r.body.id)));
    } finally {
      await svc.close();
    }
  });

  if (db === 'postgres') {
    it('two service instances on one PostgreSQL database share the limits', async () => {
      const a = await startService(azure, { db });
      const b = await startService(azure, { databaseUrl: a.databaseUrl });
      try {
        await publishAndFill(a, azure, 'burst-two', 4, 2);
        checkBurst(await burst([a, b], 'burst-two', 60), 4, 2);
      } finally {
        await b.close();
        await a.close();
      }
    });
  }
});
