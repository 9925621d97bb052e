/**
 * Issue 8, hole 8: expiry has its own short path. A type whose reconcile is slow (here the ARM type's
 * reconcile waits on a promise the test holds, as a pass can wait minutes on Azure) must not delay the
 * expiry of another type's session: with the background loop on (RECONCILE_INTERVAL_MS=200) and the
 * clock moved past the session's expiresAt, the session ends within about a tick while the slow
 * reconcile is still running. reconcileOnce() still completes the whole pass when it is fast.
 */
import { performance } from 'node:perf_hooks';
import { ReconcileService } from '../../src/scheduling/reconcile.service';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeOn, DATABASES } from '../support/postgres';

const INTERVAL_MS = 200;
const EMBED = 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11';
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const db of DATABASES) {
  describeOn(db)(`expiry while another type's reconcile is slow (${db})`, () => {
    let azure: LocalAzure;
    let svc: TestService | undefined;
    let open: () => void = () => undefined;

    beforeAll(async () => {
      azure = await startLocalAzure(0.2);
    });
    afterAll(async () => {
      open();
      await svc?.close();
      await azure?.stop();
    });

    it('a Power BI session past its expiresAt ends within about a tick while the ARM reconcile hangs', async () => {
      // Every task due on every tick (RECONCILE_BACKSTOP_MS = one tick): this test is about the budget, not about due work.
      svc = await startService(azure, { db, env: { RECONCILE_INTERVAL_MS: String(INTERVAL_MS), RECONCILE_BACKSTOP_MS: String(INTERVAL_MS) } });
      await svc.http.put('/api/v1/offers/bi').send({ alias: 'Dashboard', testDrive: { type: 'power-bi', embedUrl: EMBED } }).expect(201);
      await svc.http.post('/api/v1/offers/bi/publish').expect(200);
      const s = (await svc.http.post('/api/v1/offers/bi/sessions').send({ customer }).expect(201)).body as { id: string; state: string; expiresAt: string };
      expect(s.state).toBe('ready');

      // The ARM type's reconcile now hangs until the test lets it go.
      const arm = svc.app.get(TestDriveTypeRegistry).get('azure-resource-manager');
      const gate = new Promise<void>((resolve) => (open = resolve));
      let armCalls = 0;
      jest.spyOn(arm, 'reconcile').mockImplementation(async () => {
        armCalls++;
        await gate;
      });
      const reconcile = svc.app.get(ReconcileService);
      const deadline = Date.now() + 5_000;
      while (!reconcile.isRunning('azure-resource-manager')) {
        if (Date.now() > deadline) throw new Error('the ARM reconcile never started');
        await sleep(10);
      }

      svc.clock.set(Date.parse(s.expiresAt) + 1);
      const t0 = performance.now();
      let state = s.state;
      while (state !== 'ended' && performance.now() - t0 < 5_000) {
        await sleep(20);
        state = (await svc.http.get(`/api/v1/sessions/${s.id}`).expect(200)).body.state;
      }
      const tookMs = Math.round(performance.now() - t0);
      process.stdout.write(`expired Power BI session ${state} ${tookMs} ms after the clock passed expiresAt, ARM reconcile still hanging (${db})\n`);
      expect(state).toBe('ended');
      expect(tookMs).toBeLessThan(INTERVAL_MS + 1_000);
      expect(reconcile.isRunning('azure-resource-manager')).toBe(true);
      expect(armCalls).toBe(1); // a type still running is skipped, not started again

      // Released, the ARM type runs again on later ticks; reconcileOnce() completes a full pass.
      open();
      await sleep(3 * INTERVAL_MS);
      expect(armCalls).toBeGreaterThan(1);
      await reconcile.reconcileOnce();
    });
  });
}
