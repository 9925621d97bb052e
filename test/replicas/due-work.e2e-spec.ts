/**
 * Issue 14, "reconcile costs its due work, not the fleet": with the background loop on, a tick runs a
 * task only when sessions or offers changed (ChangeWatch), when the task's own due time came (the next
 * session expiry here), or after the backstop. Nothing changed and nothing due: no type reconcile runs.
 */
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { sleep, waitFor } from '../support/wait';
import { describeOn, DATABASES } from '../support/postgres';

const INTERVAL_MS = 100;
const EMBED = 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11';
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };


for (const db of DATABASES) {
  describeOn(db)(`reconcile runs due work only (${db})`, () => {
    let azure: LocalAzure;
    let svc: TestService | undefined;

    beforeAll(async () => {
      azure = await startLocalAzure(0.2);
    });
    afterAll(async () => {
      await svc?.close();
      await azure?.stop();
    });

    it('idle ticks run no type; a change runs them on the next tick; an expiry runs when due without a change', async () => {
      svc = await startService(azure, { db, env: { RECONCILE_INTERVAL_MS: String(INTERVAL_MS), RECONCILE_BACKSTOP_MS: '600000' } });
      const registry = svc.app.get(TestDriveTypeRegistry);
      const calls = { 'power-bi': 0, 'logic-app': 0 };
      for (const t of ['power-bi', 'logic-app'] as const) {
        const type = registry.get(t);
        const real = type.reconcile.bind(type);
        jest.spyOn(type, 'reconcile').mockImplementation(async (now: number) => {
          calls[t]++;
          return real(now);
        });
      }
      await svc.http.put('/api/v1/offers/bi').send({ alias: 'Dashboard', testDrive: { type: 'power-bi', embedUrl: EMBED } }).expect(201);
      await waitFor('the change to run the types', () => calls['power-bi'] > 0 && calls['logic-app'] > 0, 3_000);
      await sleep(3 * INTERVAL_MS); // the passes of that change settle

      // Nothing changes, nothing is due: 10 ticks run no type reconcile.
      const before = { ...calls };
      await sleep(10 * INTERVAL_MS);
      expect(calls).toEqual(before);

      // A change (publish) runs every type on the next tick, once.
      await svc.http.post('/api/v1/offers/bi/publish').expect(200);
      await waitFor('the publish to run the types', () => calls['power-bi'] > before['power-bi'] && calls['logic-app'] > before['logic-app'], 3_000);
      await sleep(5 * INTERVAL_MS);
      const afterPublish = { ...calls };
      expect(afterPublish['power-bi'] - before['power-bi']).toBeLessThanOrEqual(2);
      await sleep(5 * INTERVAL_MS);
      expect(calls).toEqual(afterPublish);

      // A session's expiry is due work by time alone: the clock passes expiresAt, no write happens, it ends.
      const s = (await svc.http.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201)).body as { id: string; expiresAt: string };
      await sleep(5 * INTERVAL_MS);
      svc.clock.set(Date.parse(s.expiresAt) + 1);
      await waitFor('the expired session to end', async () => (await svc!.http.get(`/api/v1/sessions/${s.id}`).expect(200)).body.state === 'ended', 3_000);
    });
  });
}
