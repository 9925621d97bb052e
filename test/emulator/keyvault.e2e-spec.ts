jest.setTimeout(60_000);
import { secretClient, emulatorPerSuite } from './helpers';
import type { EmulatorHandle } from '../../emulator/src';

describe('emulator: Key Vault secrets through the real SecretClient', () => {
  let h: EmulatorHandle;
  emulatorPerSuite((started) => (h = started));

  it('sets, gets (latest and by version), lists versions and updates properties', async () => {
    const c = await h.createClient();
    const sc = secretClient(h, c);
    const v1 = await sc.setSecret('publisher-secret-1', 'first', { contentType: 'text/plain', tags: { offer: 'lab1' } });
    expect(v1.value).toBe('first');
    expect(v1.properties.id).toBe(`${h.url}/secrets/publisher-secret-1/${v1.properties.version}`);
    expect(v1.properties.createdOn).toBeInstanceOf(Date);
    expect(Math.abs(v1.properties.createdOn!.getTime() - Date.now())).toBeLessThan(5000);
    const v2 = await sc.setSecret('publisher-secret-1', 'second');
    expect((await sc.getSecret('publisher-secret-1')).value).toBe('second');
    expect((await sc.getSecret('publisher-secret-1', { version: v1.properties.version })).value).toBe('first');
    const versions: string[] = [];
    for await (const p of sc.listPropertiesOfSecretVersions('publisher-secret-1')) versions.push(p.version!);
    expect(versions.sort()).toEqual([v1.properties.version!, v2.properties.version!].sort());
    const exp = new Date(Date.now() + 86400_000);
    const upd = await sc.updateSecretProperties('publisher-secret-1', v2.properties.version!, { tags: { rotated: 'yes' }, expiresOn: exp });
    expect(upd.tags).toEqual({ rotated: 'yes' });
    expect(Math.floor(upd.expiresOn!.getTime() / 1000)).toBe(Math.floor(exp.getTime() / 1000));
    await expect(sc.getSecret('no-such-secret')).rejects.toMatchObject({ statusCode: 404, code: 'SecretNotFound' });
  });

  it('soft-deletes, refuses reuse (409 ObjectIsDeletedButRecoverable), recovers and purges', async () => {
    const c = await h.createClient();
    const sc = secretClient(h, c);
    await sc.setSecret('to-delete', 'value');
    const delPoller = await sc.beginDeleteSecret('to-delete', { intervalInMs: 50 });
    const deleted = await delPoller.pollUntilDone();
    expect(deleted.recoveryId).toBe(`${h.url}/deletedsecrets/to-delete`);
    expect(deleted.deletedOn).toBeInstanceOf(Date);
    await expect(sc.getSecret('to-delete')).rejects.toMatchObject({ statusCode: 404 });
    await expect(sc.setSecret('to-delete', 'again')).rejects.toMatchObject({ statusCode: 409, code: 'Conflict', details: { error: { innerError: { code: 'ObjectIsDeletedButRecoverable' } } } });
    expect((await sc.getDeletedSecret('to-delete')).name).toBe('to-delete');

    const recPoller = await sc.beginRecoverDeletedSecret('to-delete', { intervalInMs: 50 });
    await recPoller.pollUntilDone();
    expect((await sc.getSecret('to-delete')).value).toBe('value');

    await (await sc.beginDeleteSecret('to-delete', { intervalInMs: 50 })).pollUntilDone();
    await sc.purgeDeletedSecret('to-delete');
    await expect(sc.getDeletedSecret('to-delete')).rejects.toMatchObject({ statusCode: 404 });
    await sc.setSecret('to-delete', 'fresh');
    expect((await sc.getSecret('to-delete')).value).toBe('fresh');
  });

  it('answers 403 Forbidden to a service-tenant principal without vault access', async () => {
    const c = await h.createClient({ keyVaultAccess: false });
    await expect(secretClient(h, c).getSecret('anything')).rejects.toMatchObject({ statusCode: 403, code: 'Forbidden' });
  });

  it("refuses a publisher's credential: the vault's challenge names the service tenant", async () => {
    const pub = await h.createPublisher();
    await expect(secretClient(h, pub).getSecret('anything')).rejects.toThrow();
  });

  it('injects Key Vault faults: a 503 with Retry-After is retried by the SDK', async () => {
    const c = await h.createClient();
    const sc = secretClient(h, c);
    await sc.setSecret('faulty', 'v');
    h.setFaults([{ operation: 'keyvault.getSecret', status: 503, retryAfterSeconds: 1, count: 1 }]);
    try {
      expect((await sc.getSecret('faulty')).value).toBe('v');
      expect(h.listFaults()[0].applied).toBe(1);
    } finally {
      h.setFaults([]);
    }
  });
});
