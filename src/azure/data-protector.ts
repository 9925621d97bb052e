import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretNotFoundError, SecretRef, SecretStore } from './secret-store';

/** Key Vault secret holding the data key (base64 of 32 random bytes). */
export const DATA_PROTECTION_KEY_SECRET = 'data-protection-key';
const FORMAT = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A data key version in a token (Key Vault version ids are 32 hex characters on Azure). */
const KEY_VERSION = '[0-9a-zA-Z-]{1,64}';
const KEY_VERSION_ONLY = new RegExp(`^${KEY_VERSION}$`);
const TOKEN_PREFIX = new RegExp(`^${FORMAT}:(${KEY_VERSION}):`);

/** A protected value could not be decrypted (malformed, tampered with, or its key version is gone). */
export class DataProtectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataProtectionError';
  }
}

/**
 * The failure of a session whose access information (or a secret it needs to give it, such as a Dynamics 365
 * user's password) can no longer be decrypted: a DataProtectionError, e.g. the key version was purged.
 * Set by SessionsService.failUnreadable and by a type's provisioning; the customer is told to start again.
 */
export const ACCESS_INFORMATION_LOST = {
  code: 'AccessInformationLost',
  message: "This test drive's access information can no longer be read (the key it was encrypted with is gone), so it was stopped and its resources deleted; please start a new one.",
} as const;

/** The subset of SecretStore DataProtector needs (so tests can pass a fake). */
export type DataKeyStore = Pick<SecretStore, 'set' | 'get' | 'getLatest'>;

/**
 * Encrypts values for storage in the database (deployment outputs carry the generated password), so
 * no secret reaches the database in plain text.
 *
 * AES-256-GCM with a 32-byte data key kept in Key Vault as secret `data-protection-key` (created on
 * first use; each version cached in memory). Output: `v1:<keyVersion>:<iv>:<tag>:<ciphertext>`
 * (base64url parts); the key version travels with the data, so after a rotation (a new secret
 * version) old values still decrypt. The format prefix and key version are authenticated (GCM AAD).
 */
@Injectable()
export class DataProtector {
  private current?: Promise<SecretRef & { key: Buffer }>;
  private readonly keys = new Map<string, Promise<Buffer>>();

  constructor(@Inject(SecretStore) private readonly secrets: DataKeyStore) {}

  /** JSON-serialises `value` and encrypts it. @returns a token `v1:...` safe to store. */
  async encrypt(value: unknown): Promise<string> {
    const { version, key } = await this.currentKey();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`${FORMAT}:${version}`));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value === undefined ? null : value), 'utf8'), cipher.final()]);
    return [FORMAT, version, b64(iv), b64(cipher.getAuthTag()), b64(ct)].join(':');
  }

  /**
   * Decrypts a token made by encrypt().
   * @throws DataProtectionError when the token is malformed, was tampered with, or its key version no longer exists.
   */
  async decrypt<T = unknown>(token: string): Promise<T> {
    const parts = typeof token === 'string' ? token.split(':') : [];
    if (parts.length !== 5 || parts[0] !== FORMAT || !KEY_VERSION_ONLY.test(parts[1])) {
      throw new DataProtectionError(`Not a protected value (expected '${FORMAT}:<keyVersion>:<iv>:<tag>:<data>').`);
    }
    const [, version, ivS, tagS, ctS] = parts;
    const key = await this.keyVersion(version);
    const iv = unb64(ivS);
    const tag = unb64(tagS);
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new DataProtectionError('Protected value is malformed (bad IV or tag length).');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(`${FORMAT}:${version}`));
      decipher.setAuthTag(tag);
      const pt = Buffer.concat([decipher.update(unb64(ctS)), decipher.final()]);
      return JSON.parse(pt.toString('utf8')) as T;
    } catch {
      throw new DataProtectionError('Protected value failed authentication (tampered with, or encrypted with another key).');
    }
  }

  /**
   * The data key version a token made by encrypt() names (`v1:<keyVersion>:...`), or null when the
   * value is not a protected value. Reads only the value's prefix: no Key Vault call.
   */
  static keyVersionOf(token: string): string | null {
    const m = TOKEN_PREFIX.exec(token);
    return m ? m[1] : null;
  }

  /**
   * Whether data key `version` still exists in Key Vault, i.e. values encrypted with it can be
   * decrypted. A version found once is cached (as for decrypt); a missing one is asked for again on the
   * next call (a soft-deleted secret can be recovered).
   * @throws the Key Vault error when Key Vault cannot answer (auth, throttling, 5xx): not an answer.
   */
  async hasKeyVersion(version: string): Promise<boolean> {
    try {
      await this.keyVersion(version);
      return true;
    } catch (err) {
      if (err instanceof DataProtectionError) return false;
      throw err;
    }
  }

  /** The key new values are encrypted with: the latest version, created on first use. */
  private currentKey(): Promise<SecretRef & { key: Buffer }> {
    this.current ??= (async () => {
      const latest = await this.secrets.getLatest(DATA_PROTECTION_KEY_SECRET);
      if (latest) return { name: latest.name, version: latest.version, key: parseKey(latest.value) };
      const key = randomBytes(KEY_BYTES);
      const ref = await this.secrets.set(DATA_PROTECTION_KEY_SECRET, key.toString('base64'), { purpose: 'data-protection' });
      return { ...ref, key };
    })();
    this.current.then(
      (c) => this.keys.set(c.version, Promise.resolve(c.key)),
      () => (this.current = undefined), // retry on the next call
    );
    return this.current;
  }

  private keyVersion(version: string): Promise<Buffer> {
    let p = this.keys.get(version);
    if (!p) {
      p = this.secrets.get(DATA_PROTECTION_KEY_SECRET, version).then(parseKey, (err: unknown) => {
        this.keys.delete(version);
        if (err instanceof SecretNotFoundError) throw new DataProtectionError(`Data protection key version '${version}' no longer exists.`);
        throw err;
      });
      this.keys.set(version, p);
    }
    return p;
  }
}

function parseKey(value: string): Buffer {
  const key = Buffer.from(value, 'base64');
  if (key.length !== KEY_BYTES) throw new DataProtectionError(`Key Vault secret '${DATA_PROTECTION_KEY_SECRET}' is not ${KEY_BYTES} bytes of base64.`);
  return key;
}

const b64 = (b: Buffer) => b.toString('base64url');
const unb64 = (s: string) => Buffer.from(s, 'base64url');
