import { DataProtectionError, DataProtector, DATA_PROTECTION_KEY_SECRET } from './data-protector';
import { SecretNotFoundError } from './secret-store';

/** In-memory stand-in for SecretStore (versions per name). */
class FakeSecrets {
  readonly versions = new Map<string, Array<{ version: string; value: string }>>();
  sets = 0;
  async set(name: string, value: string) {
    this.sets++;
    const list = this.versions.get(name) ?? [];
    const version = `v${list.length + 1}${'0'.repeat(10)}`;
    list.push({ version, value });
    this.versions.set(name, list);
    return { name, version };
  }
  async get(name: string, version?: string) {
    const list = this.versions.get(name) ?? [];
    const v = version ? list.find((x) => x.version === version) : list[list.length - 1];
    if (!v) throw new SecretNotFoundError(name, version);
    return v.value;
  }
  async getLatest(name: string) {
    const list = this.versions.get(name) ?? [];
    const v = list[list.length - 1];
    return v ? { name, ...v } : undefined;
  }
}

const make = (s: FakeSecrets) => new DataProtector(s);

describe('DataProtector', () => {
  it('round-trips values and creates the key once', async () => {
    const s = new FakeSecrets();
    const p = make(s);
    const value = { siteUrl: 'https://x', password: 'Ab1!Ab1!Ab', n: 3, nested: [1, { a: null }] };
    const [t1, t2] = await Promise.all([p.encrypt(value), p.encrypt('text')]);
    expect(t1).toMatch(/^v1:v10{10}:/);
    expect(t1).not.toContain('Ab1!');
    expect(await p.decrypt(t1)).toEqual(value);
    expect(await p.decrypt(t2)).toBe('text');
    expect(s.sets).toBe(1);
    expect(s.versions.get(DATA_PROTECTION_KEY_SECRET)).toHaveLength(1);
  });

  it('uses a fresh IV each time', async () => {
    const p = make(new FakeSecrets());
    expect(await p.encrypt('same')).not.toBe(await p.encrypt('same'));
  });

  it('decrypts old data after the key is rotated, and in a new process', async () => {
    const s = new FakeSecrets();
    const old = await make(s).encrypt({ a: 1 });
    await s.set(DATA_PROTECTION_KEY_SECRET, Buffer.alloc(32, 7).toString('base64')); // rotation
    const fresh = make(s);
    const neu = await fresh.encrypt({ b: 2 });
    expect(neu.split(':')[1]).toBe('v2' + '0'.repeat(10));
    expect(await fresh.decrypt(old)).toEqual({ a: 1 });
    expect(await fresh.decrypt(neu)).toEqual({ b: 2 });
  });

  it('refuses tampered and malformed tokens', async () => {
    const p = make(new FakeSecrets());
    const t = await p.encrypt({ secret: 'x' });
    const parts = t.split(':');
    const ct = Buffer.from(parts[4], 'base64url');
    ct[0] ^= 1;
    parts[4] = ct.toString('base64url');
    await expect(p.decrypt(parts.join(':'))).rejects.toBeInstanceOf(DataProtectionError);
    await expect(p.decrypt('garbage')).rejects.toBeInstanceOf(DataProtectionError);
    await expect(p.decrypt(t.replace(/^v1:[^:]+/, 'v1:unknownversion'))).rejects.toThrow(/no longer exists/);
  });
  it('names the key version of a token, and tells whether that version still exists (a purged one: false; recovered: true again)', async () => {
    const s = new FakeSecrets();
    const t = await make(s).encrypt({ password: 'x' });
    const version = DataProtector.keyVersionOf(t);
    expect(version).toBe('v1' + '0'.repeat(10));
    expect(DataProtector.keyVersionOf(t.slice(0, 72))).toBe(version); // the prefix the pool sweep reads
    expect(DataProtector.keyVersionOf('plain text')).toBeNull();
    const fresh = make(s); // a new process: nothing cached
    const kept = s.versions.get(DATA_PROTECTION_KEY_SECRET)!;
    s.versions.delete(DATA_PROTECTION_KEY_SECRET);
    expect(await fresh.hasKeyVersion(version!)).toBe(false);
    await expect(fresh.decrypt(t)).rejects.toBeInstanceOf(DataProtectionError);
    s.versions.set(DATA_PROTECTION_KEY_SECRET, kept);
    expect(await fresh.hasKeyVersion(version!)).toBe(true);
    expect(await fresh.decrypt(t)).toEqual({ password: 'x' });
  });

  it('hasKeyVersion passes on a Key Vault that cannot answer (not a "no")', async () => {
    const s = new FakeSecrets();
    s.get = () => Promise.reject(Object.assign(new Error('throttled'), { statusCode: 429 }));
    await expect(make(s).hasKeyVersion('abc')).rejects.toThrow('throttled');
  });
});
