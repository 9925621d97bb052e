jest.setTimeout(240_000);
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { customer, drive, envView, offerBody, publisherWithEnvironment, sessionState } from './helpers';

/** Starts `n` sessions at once (spread over the given services); returns the status codes and created ids. */
async function burst(services: TestService[], offerId: string, n: number): Promise<{ codes: number[]; ids: string[] }> {
  const rs = await Promise.all(Array.from({ length: n }, (_, i) => services[i % services.length].http.post(`/api/v1/offers/${offerId}/sessions`).send({ customer })));
  return { codes: rs.map((r) => r.status), ids: rs.filter((r) => r.status === 201).map((r) => r.body.id as string) };
}

describeEachDb('Dynamics 365 license-bounded concurrency on %s', (db) => {
  let azure: LocalAzure;
  let a: TestService;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    a = await startService(azure, { db });
  });
  afterAll(async () => {
    await a?.close();
    await azure?.stop();
  });

  const run = async (services: TestService[], offerId: string) => {
    const { publisher, env } = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 3, roles: ['Salesperson'], syncSeconds: 0 });
    await services[0].http.put(`/api/v1/offers/${offerId}`).send(offerBody(publisher, env)).expect(201);
    const pub = await services[0].http.post(`/api/v1/offers/${offerId}/publish`);
    expect(pub.body.error?.details ?? []).toEqual([]);

    const { codes, ids } = await burst(services, offerId, 50);
    expect(codes.filter((c) => c === 201)).toHaveLength(3);
    expect(codes.filter((c) => c === 409)).toHaveLength(47);
    const svc = services[0];
    await drive(svc, async () => (await Promise.all(ids.map((id) => sessionState(svc, id)))).every((s) => s.state === 'ready'));
    expect(envView(azure, env.name).licenses).toMatchObject({ total: 3, inUse: 3 });
    expect(envView(azure, env.name).users).toHaveLength(3);

    for (const id of ids) await svc.http.delete(`/api/v1/sessions/${id}`).expect(202);
    await drive(svc, async () => (await Promise.all(ids.map((id) => sessionState(svc, id)))).every((s) => s.state === 'ended'));
    const view = envView(azure, env.name);
    expect(view.licenses.inUse).toBe(0);
    expect(view.users).toEqual([]);
  };

  it('50 concurrent starts against 3 licenses yield exactly 3 sessions; zero licenses in use after they end', async () => {
    await run([a], `burst-${db}`);
  });

  it('two service processes on one database: still exactly 3', async () => {
    const b = await startService(azure, { databaseUrl: a.databaseUrl, clock: a.clock });
    try {
      await run([a, b], `burst2-${db}`);
    } finally {
      await b.close();
    }
  });
});
