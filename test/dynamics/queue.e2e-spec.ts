jest.setTimeout(180_000);
import { useLocalService } from '../support/harness';
import { customer, drive, envView, offerBody, publisherWithEnvironment, sessionState } from './helpers';

/**
 * Issue 12: a Dynamics 365 offer with 2 licenses: a third start with "whenFull": "queue" waits (202,
 * position 1, an estimate) and becomes ready on its own when a license frees (a session ends: its user
 * and license are removed), through the same license-bounded slot claim as a fresh start.
 */
describe('Dynamics 365 queue (licenses bound the queue)', () => {
  const local = useLocalService();

  it('2 licenses: the third request queues and becomes ready when a license frees', async () => {
    const { publisher, env } = await publisherWithEnvironment(local.azure, { product: 'customer-engagement', licenses: 2, roles: ['Salesperson'] });
    await local.svc.http.put('/api/v1/offers/crm-queue').send(offerBody(publisher, env, { maxConcurrent: 2 })).expect(201);
    await local.svc.http.post('/api/v1/offers/crm-queue/publish').expect(200);
    const first = (await local.svc.http.post('/api/v1/offers/crm-queue/sessions').send({ customer }).expect(201)).body as { id: string };
    const second = (await local.svc.http.post('/api/v1/offers/crm-queue/sessions').send({ customer }).expect(201)).body as { id: string };
    const third = await local.svc.http.post('/api/v1/offers/crm-queue/sessions').send({ customer, whenFull: 'queue' }).expect(202);
    expect(third.body).toMatchObject({ state: 'queued', queuePosition: 1 });
    expect(third.body.estimatedReadyAt).not.toBeNull();
    await drive(local.svc, async () => (await sessionState(local.svc, first.id)).state === 'ready' && (await sessionState(local.svc, second.id)).state === 'ready');
    expect((await sessionState(local.svc, third.body.id as string)).state).toBe('queued');
    expect(envView(local.azure, env.name).licenses).toMatchObject({ total: 2, inUse: 2 });

    await local.svc.http.delete(`/api/v1/sessions/${first.id}`).expect(202);
    const served = await drive(local.svc, async () => {
      const s = await sessionState(local.svc, third.body.id as string);
      return s.state === 'ready' ? s : null;
    });
    expect(served.outputs).toMatchObject({ instanceUrl: env.instanceUrl });
    expect(envView(local.azure, env.name).licenses).toMatchObject({ total: 2, inUse: 2 });
  });
});
