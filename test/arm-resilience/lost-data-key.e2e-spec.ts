/**
 * The data protection key (Key Vault secret `data-protection-key`) is deleted and purged while hot
 * instances wait, and the service restarts (no key left in its memory): the outputs of those instances,
 * the generated passwords among them, can no longer be decrypted.
 *
 * Found by trying the product (stop 23): a start then answered 500 after its claim, the instance was
 * assigned for good and the next start did the same to the next one. Now the start answers 201 with
 * the session `failed` (AccessInformationLost), its resource group is deleted, and the pool's other
 * unreadable instances are deleted and replaced, so the next customer gets a working instance.
 */
import { ManualClock } from '../../src/common/clock';
import { purgeDataProtectionKey } from '../support/data-protection';
import type { LocalAzure, TestService } from '../support/harness';
import { startService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { vmPackageDir } from '../support/fixtures-dir';
import { capacity, customer, emulatedGroups, instances, publishOffer, Publisher, startLocalAzureWith } from './helpers';

/** testdrive_session_starts_total of `offer` on /metrics, by result (only the results counted). */
async function starts(svc: TestService, offer: string): Promise<Record<string, number>> {
  const text = (await (await svc.as('operator')).get('/metrics').expect(200)).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^testdrive_session_starts_total\{([^}]*)\} (\S+)$/gm)) {
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.offer === offer) out[labels.result] = Number(m[2]);
  }
  return out;
}

describeEachDb('a lost data protection key on %s', (db) => {
  let azure: LocalAzure;
  let publisher: Publisher;
  let a: TestService | undefined;
  let b: TestService | undefined;
  let c: TestService | undefined;
  let d: TestService | undefined;

  beforeAll(async () => {
    azure = await startLocalAzureWith({ deploymentSeconds: 0.2, vmStartSeconds: 0.5, vmDeallocateSeconds: 0.2 });
    publisher = await azure.emulator.createPublisher({});
  });
  afterAll(async () => {
    await b?.close();
    await a?.close(); // drops the database B shared
    await d?.close();
    await c?.close();
    await azure?.stop();
  });

  it('a start answers 201 with the session failed (never 500); its instance and the pool\'s other unreadable ones are deleted and replaced', async () => {
    a = await startService(azure, { db });
    await publishOffer(a, publisher, 'lostkey', [{ name: 'westeurope', hot: 2, cold: 0 }]);
    await a.until(async () => (await capacity(a!, 'lostkey', 'westeurope')).hotReady === 2);
    const before = (await instances(a, 'lostkey')).filter((i) => i.state === 'ready');
    expect(before).toHaveLength(2);
    const databaseUrl = a.databaseUrl;
    await a.stop();

    // The key is gone for good (deleted, then purged), and the next process has none in memory.
    await purgeDataProtectionKey(azure);
    b = await startService(azure, { databaseUrl, clock: new ManualClock(Date.now()) });

    const start = await b.http.post('/api/v1/offers/lostkey/sessions').send({ customer });
    expect(start.status).toBe(201);
    // Failed, its resources being deleted: `ending` because it failed, then `failed`.
    expect(start.body).toMatchObject({ state: 'ending', endReason: 'failed', instanceKind: 'hot', accessInformation: null, outputs: null, failure: { code: 'AccessInformationLost' } });
    expect(start.body.failure.message).toMatch(/start a new one/);
    // Counted as a failed start, not as a hot one (it was written before the view found the outputs unreadable).
    expect(await starts(b, 'lostkey')).toEqual({ failed: 1 });
    const read = await b.http.get(`/api/v1/sessions/${start.body.id}`).expect(200);
    expect(read.body).toMatchObject({ endReason: 'failed', accessInformation: null, failure: { code: 'AccessInformationLost' } });

    // Both old instances go (the claimed one and the unreadable one still waiting), two new ones come.
    await b.until(
      async () => {
        const all = await instances(b!, 'lostkey');
        const old = all.filter((i) => before.some((x) => x.id === i.id));
        return old.every((i) => i.state === 'deleted') && all.filter((i) => i.state === 'ready' && !i.sessionId).length === 2;
      },
      30_000,
      { tickMs: 1_000 },
    );
    const failed = await b.http.get(`/api/v1/sessions/${start.body.id}`).expect(200);
    expect(failed.body).toMatchObject({ state: 'failed', endReason: 'failed', failure: { code: 'AccessInformationLost' } });
    const groups = emulatedGroups(azure, publisher.subscriptionId).map((g) => g.name);
    for (const old of before) expect(groups).not.toContain(old.resourceGroupName);

    // The next customer is served from a new instance, its access information readable.
    const next = await b.http.post('/api/v1/offers/lostkey/sessions').send({ customer: { ...customer, email: 'next@example.com' } }).expect(201);
    expect(next.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
    expect(next.body.accessInformation).toMatch(/admin\d{5}/);
    expect(await starts(b, 'lostkey')).toEqual({ failed: 1, hot: 1 });
  });

  it('a waiting warm instance is kept (its start reads the outputs again from the deployment): only hot ones are replaced', async () => {
    c = await startService(azure, { db });
    await publishOffer(c, publisher, 'lostwarm', [{ name: 'westeurope', hot: 1, warm: 1, cold: 0 }], { packageDir: vmPackageDir(), accessInformation: '<p>ssh {{adminUsername}}@{{hostname}}</p>' });
    await c.until(async () => {
      const cap = (await capacity(c!, 'lostwarm', 'westeurope')) as unknown as Record<string, number>;
      return cap.hotReady === 1 && cap.warmReady === 1;
    }, 30_000);
    const before = await instances(c, 'lostwarm');
    const oldHot = before.find((i) => i.kind === 'hot' && i.state === 'ready')!;
    const warm = before.find((i) => i.kind === 'warm' && i.state === 'ready')!;
    const databaseUrl = c.databaseUrl;
    await c.stop();

    await purgeDataProtectionKey(azure);
    d = await startService(azure, { databaseUrl, clock: new ManualClock(Date.now()) });

    // The unreadable hot instance is replaced; the warm one is still the same, ready.
    await d.until(
      async () => {
        const all = await instances(d!, 'lostwarm');
        return all.find((i) => i.id === oldHot.id)?.state === 'deleted' && all.some((i) => i.kind === 'hot' && i.state === 'ready' && !i.sessionId);
      },
      30_000,
      { tickMs: 1_000 },
    );
    expect((await instances(d, 'lostwarm')).find((i) => i.id === warm.id)).toMatchObject({ state: 'ready', sessionId: null });

    // Hot first, then the warm instance: its virtual machine started, its access information readable.
    const market = await d.as('marketplace');
    await market.post('/api/v1/offers/lostwarm/sessions').send({ customer, region: 'westeurope' }).expect(201);
    const w = await market.post('/api/v1/offers/lostwarm/sessions').send({ customer: { ...customer, email: 'warm@example.com' }, region: 'westeurope' }).expect(201);
    expect(w.body).toMatchObject({ state: 'provisioning', instanceKind: 'warm' });
    const ready = await d.until(
      async () => {
        const v = (await market.get(`/api/v1/sessions/${w.body.id}`).expect(200)).body;
        return v.state === 'ready' ? v : null;
      },
      30_000,
      { tickMs: 1_000 },
    );
    expect(ready.accessInformation).toMatch(/ssh \S+@\S+/);
  });
});
