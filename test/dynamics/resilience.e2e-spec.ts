jest.setTimeout(180_000);
import { randomUUID } from 'node:crypto';
import { purgeDataProtectionKey } from '../support/data-protection';
import { authedRequest, LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { emulatorCall } from '../support/emulator-client';
import { customer, drive, envView, markedUsers, offerBody, publisherGraph, publisherWithEnvironment, sessionState } from './helpers';

/** Starts a service with DYNAMICS_* settings (read from the environment when the module starts). */
async function serviceWith(azure: LocalAzure, env: Record<string, string>, opts: Parameters<typeof startService>[1] = {}): Promise<TestService> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await startService(azure, opts);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('Dynamics 365 test drives: crash, sync timeout, license races, leftovers', () => {
  let azure: LocalAzure;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
  });
  afterAll(async () => {
    await azure?.stop();
  });

  const patchEnv = (name: string, body: unknown) => emulatorCall(azure.emulator.url, azure.emulator.caCertPem, 'PATCH', `/_emulator/dynamics-environments/${name}`, body);

  it('a crash mid-provisioning (user created and licensed, not yet synced) is resumed by another process without a second user', async () => {
    const { publisher, env } = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 2, roles: ['Salesperson'], syncSeconds: 3600 });
    const a = await startService(azure);
    await a.http.put('/api/v1/offers/crash').send(offerBody(publisher, env, { maxConcurrent: 2 })).expect(201);
    await a.http.post('/api/v1/offers/crash/publish').expect(200);
    const starter = a.http.token;
    const s = (await a.http.post('/api/v1/offers/crash/sessions').send({ customer }).expect(201)).body;
    await drive(a, async () => envView(azure, env.name).users.some((u) => u.licensed));
    await a.close(); // process A stops while the session waits for the sync

    await patchEnv(env.name, { syncSeconds: 0 });
    const b = await startService(azure, { databaseUrl: a.databaseUrl, clock: a.clock });
    try {
      expect((await sessionState(b, s.id)).state).toBe('provisioning');
      const ready = await drive(b, async () => {
        const v = await sessionState(b, s.id);
        return v.state === 'ready' ? v : null;
      });
      const view = envView(azure, env.name);
      // Access information goes only to the marketplace client that started the session (issue 8): A's client, served by B.
      const outputs = (await authedRequest(b.app.getHttpServer(), starter).get(`/api/v1/sessions/${s.id}`).expect(200)).body.outputs;
      expect(ready.outputs).toBeNull();
      expect(view.users).toEqual([expect.objectContaining({ upn: outputs.userName, licensed: true, roles: ['Salesperson'] })]);
      await b.http.delete(`/api/v1/sessions/${s.id}`).expect(202);
      await drive(b, async () => (await sessionState(b, s.id)).state === 'ended');
      expect(envView(azure, env.name).users).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it("a user's password that can no longer be decrypted (data protection key purged, service restarted) fails the session at once, with a clean teardown", async () => {
    const { publisher, env } = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 1, roles: ['Salesperson'], syncSeconds: 3600 });
    const a = await startService(azure);
    let b: TestService | undefined;
    try {
      await a.http.put('/api/v1/offers/lostkey').send(offerBody(publisher, env, { maxConcurrent: 1 })).expect(201);
      await a.http.post('/api/v1/offers/lostkey/publish').expect(200);
      const starter = a.http.token;
      const s = (await a.http.post('/api/v1/offers/lostkey/sessions').send({ customer }).expect(201)).body;
      await drive(a, async () => envView(azure, env.name).users.some((u) => u.licensed));
      await a.stop(); // keeps the database for B

      // The key the password was encrypted with is deleted and purged; B starts with a new one.
      await purgeDataProtectionKey(azure);
      await patchEnv(env.name, { syncSeconds: 0 });
      b = await startService(azure, { databaseUrl: a.databaseUrl, clock: a.clock });
      const svc = b;

      // Failed within a few passes (not after the backoff of transient errors), the user removed.
      const failed = await drive(
        svc,
        async () => {
          const v = (await authedRequest(svc.app.getHttpServer(), starter).get(`/api/v1/sessions/${s.id}`).expect(200)).body;
          return v.state === 'failed' ? v : null;
        },
        20_000,
      );
      expect(failed).toMatchObject({ endReason: 'failed', failure: { code: 'AccessInformationLost' }, outputs: null, accessInformation: null });
      expect(envView(azure, env.name)).toMatchObject({ licenses: { inUse: 0 }, users: [] });
    } finally {
      await b?.close();
      await a.close();
    }
  });

  it('a user that never syncs fails the session after DYNAMICS_SYNC_TIMEOUT_SECONDS, with a clean teardown and the slot freed', async () => {
    const { publisher, env } = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 1, roles: ['Salesperson'], syncSeconds: 3600 });
    const svc = await serviceWith(azure, { DYNAMICS_SYNC_TIMEOUT_SECONDS: '20' });
    try {
      await svc.http.put('/api/v1/offers/slow-sync').send(offerBody(publisher, env, { maxConcurrent: 1 })).expect(201);
      await svc.http.post('/api/v1/offers/slow-sync/publish').expect(200);
      const s = (await svc.http.post('/api/v1/offers/slow-sync/sessions').send({ customer }).expect(201)).body;
      const failed = await drive(svc, async () => {
        const v = await sessionState(svc, s.id);
        return v.state === 'failed' ? v : null;
      });
      expect(failed).toMatchObject({ endReason: 'failed', failure: { code: 'UserSyncTimeout', message: expect.stringContaining('20 seconds') }, outputs: null });
      expect(envView(azure, env.name)).toMatchObject({ licenses: { inUse: 0 }, users: [] });
      // The slot is free again.
      await patchEnv(env.name, { syncSeconds: 0 });
      const next = (await svc.http.post('/api/v1/offers/slow-sync/sessions').send({ customer }).expect(201)).body;
      await drive(svc, async () => (await sessionState(svc, next.id)).state === 'ready');
      await svc.http.delete(`/api/v1/sessions/${next.id}`).expect(202);
      await drive(svc, async () => (await sessionState(svc, next.id)).state === 'ended');
    } finally {
      await svc.close();
    }
  });

  it('a license taken by someone else between claim and assignment fails the session cleanly (never over-assigned)', async () => {
    const { publisher, env } = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 2, roles: ['Salesperson'], syncSeconds: 0 });
    const svc = await serviceWith(azure, { DYNAMICS_LICENSE_CACHE_MS: '60000' });
    try {
      await svc.http.put('/api/v1/offers/race').send(offerBody(publisher, env, { maxConcurrent: 2 })).expect(201);
      await svc.http.post('/api/v1/offers/race/publish').expect(200);
      await svc.http.get('/api/v1/capacity?offerId=race').expect(200); // caches "2 free"
      // An employee of the publisher takes one license meanwhile.
      const g = await publisherGraph(azure, publisher);
      const emp = await g.api('/users').post({ accountEnabled: true, displayName: 'Employee', mailNickname: 'emp', userPrincipalName: `emp@${publisher.tenantName}`, usageLocation: 'US', passwordProfile: { password: 'Empl0yee-Passw0rd!' } });
      await g.api(`/users/${emp.id}/assignLicense`).post({ addLicenses: [{ skuId: env.skuId, disabledPlans: [] }], removeLicenses: [] });

      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push((await svc.http.post('/api/v1/offers/race/sessions').send({ customer }).expect(201)).body.id as string);
      const states = await drive(svc, async () => {
        const all = await Promise.all(ids.map((id) => sessionState(svc, id)));
        return all.every((v) => v.state === 'ready' || v.state === 'failed') ? all : null;
      });
      expect(states.map((v) => v.state).sort()).toEqual(['failed', 'ready']);
      expect(states.find((v) => v.state === 'failed')!.failure!.code).toBe('NoLicenseAvailable');
      const view = envView(azure, env.name);
      expect(view.licenses).toMatchObject({ total: 2, inUse: 2 });
      expect(view.users.map((u) => u.upn).sort()).toEqual([`emp@${publisher.tenantName}`, states.find((v) => v.state === 'ready')!.outputs!.userName].sort());
    } finally {
      await svc.close();
    }
  });

  it('the sweep removes marked users no live session owns (role, license, user), and nothing else', async () => {
    const { publisher, env } = await publisherWithEnvironment(azure, { product: 'customer-engagement', licenses: 3, roles: ['Salesperson'], syncSeconds: 0 });
    const svc = await startService(azure);
    try {
      await svc.http.put('/api/v1/offers/swept').send(offerBody(publisher, env, { maxConcurrent: 2 })).expect(201);
      await svc.http.post('/api/v1/offers/swept/publish').expect(200);
      const live = (await svc.http.post('/api/v1/offers/swept/sessions').send({ customer }).expect(201)).body;
      await drive(svc, async () => (await sessionState(svc, live.id)).state === 'ready');

      const g = await publisherGraph(azure, publisher);
      const mk = async (alias: string, extra: Record<string, unknown>) => {
        const u = await g.api('/users').post({ accountEnabled: true, displayName: alias, mailNickname: alias, userPrincipalName: `${alias}@${publisher.tenantName}`, usageLocation: 'US', passwordProfile: { password: 'Left0ver-Passw0rd!' }, ...extra });
        await g.api(`/users/${u.id}/assignLicense`).post({ addLicenses: [{ skuId: env.skuId, disabledPlans: [] }], removeLicenses: [] });
        return u.id as string;
      };
      await mk('td-leftover', { employeeType: 'TestDrive', companyName: 'testdrive:swept', department: randomUUID() });
      await mk('td-other-offer', { employeeType: 'TestDrive', companyName: 'testdrive:someone-else', department: randomUUID() });
      expect(envView(azure, env.name).licenses.inUse).toBe(3);

      svc.clock.advance(301_000); // DYNAMICS_SWEEP_INTERVAL_SECONDS default 300
      await svc.reconcile.reconcileOnce();
      const upns = envView(azure, env.name).users.map((u) => u.upn);
      expect(upns).not.toContain(`td-leftover@${publisher.tenantName}`);
      expect(upns).toContain(`td-other-offer@${publisher.tenantName}`); // another offer's: not ours to remove
      expect((await sessionState(svc, live.id)).state).toBe('ready');
      expect((await markedUsers(g)).map((u) => u.department)).toContain(live.id);
      expect(envView(azure, env.name).licenses.inUse).toBe(2);
    } finally {
      await svc.close();
    }
  });
});
