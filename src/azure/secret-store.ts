import { Injectable, Logger } from '@nestjs/common';
import { SecretClient } from '@azure/keyvault-secrets';
import { AzureRuntime } from './azure-runtime';

/** Key Vault secret names: 1-127 characters from 0-9 a-z A-Z and '-'. */
export const SECRET_NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;

/**
 * Most secret versions a service keeps in memory once read from Key Vault (LruMap): signing secrets of
 * marketplace callbacks and escalation webhooks, a few per client or offer. Beyond it the least recently used
 * is read again from Key Vault when next needed.
 */
export const SECRET_CACHE_ENTRIES = 1_000;

/** The named secret (or version) does not exist in Key Vault. */
export class SecretNotFoundError extends Error {
  constructor(
    readonly secretName: string,
    readonly secretVersion?: string,
  ) {
    super(`Key Vault secret '${secretName}'${secretVersion ? ` version '${secretVersion}'` : ''} was not found.`);
    this.name = 'SecretNotFoundError';
  }
}

/** A reference to one stored secret version. */
export interface SecretRef {
  name: string;
  /** Key Vault version id (32 hex characters on Azure). */
  version: string;
}

/** Time between polls of a soft delete / recovery, ms. */
const POLL_INTERVAL_MS = 250;

/**
 * The service's secrets (publishers' client secrets, the data protection key) in its own Key Vault
 * (or the emulator's), through the official SDK. Values never reach the database or logs: callers
 * keep only {name, version}.
 *
 * Errors from Key Vault (auth, throttling, 5xx) propagate as the SDK's RestError, except a missing
 * secret on get(), which is SecretNotFoundError.
 */
@Injectable()
export class SecretStore {
  private readonly logger = new Logger(SecretStore.name);
  private readonly client: SecretClient;

  constructor(runtime: AzureRuntime) {
    this.client = new SecretClient(runtime.endpoints.keyVaultUrl, runtime.serviceCredential, {
      ...runtime.clientOptions,
      disableChallengeResourceVerification: runtime.endpoints.emulated,
    });
  }

  /**
   * Writes `value` as a new version of secret `name` (created if absent). If the name is soft-deleted
   * (409 ObjectIsDeletedButRecoverable) it is purged, or recovered when purging is not allowed, and
   * the write retried once.
   * @throws Error when `name` breaks the Key Vault naming rule.
   */
  async set(name: string, value: string, tags?: Record<string, string>): Promise<SecretRef> {
    assertSecretName(name);
    try {
      return toRef(await this.client.setSecret(name, value, { tags }));
    } catch (err) {
      if (!isDeletedButRecoverable(err)) throw err;
      this.logger.warn(`Secret '${name}' is soft-deleted; purging (or recovering) it before writing a new version.`);
      try {
        await this.client.purgeDeletedSecret(name);
      } catch (purgeErr) {
        if (statusOf(purgeErr) !== 403) throw purgeErr;
        const poller = await this.client.beginRecoverDeletedSecret(name, { intervalInMs: POLL_INTERVAL_MS });
        await poller.pollUntilDone();
      }
      return toRef(await this.client.setSecret(name, value, { tags }));
    }
  }

  /**
   * The value of secret `name` (the latest version unless `version` is given).
   * @throws SecretNotFoundError when the secret or version does not exist (404).
   */
  async get(name: string, version?: string): Promise<string> {
    assertSecretName(name);
    try {
      const s = await this.client.getSecret(name, version ? { version } : {});
      if (s.value === undefined) throw new SecretNotFoundError(name, version);
      return s.value;
    } catch (err) {
      if (statusOf(err) === 404) throw new SecretNotFoundError(name, version);
      throw err;
    }
  }

  /**
   * Latest version of secret `name` with its value, or undefined when it does not exist.
   */
  async getLatest(name: string): Promise<(SecretRef & { value: string }) | undefined> {
    assertSecretName(name);
    try {
      const s = await this.client.getSecret(name);
      if (s.value === undefined || !s.properties.version) return undefined;
      return { name, version: s.properties.version, value: s.value };
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /**
   * Deletes secret `name` (all versions): soft delete, then purge when the vault allows it (a vault
   * with purge protection keeps it soft-deleted until its retention ends). Idempotent: a missing
   * secret is not an error.
   */
  async delete(name: string): Promise<void> {
    assertSecretName(name);
    try {
      const poller = await this.client.beginDeleteSecret(name, { intervalInMs: POLL_INTERVAL_MS });
      await poller.pollUntilDone();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    try {
      await this.client.purgeDeletedSecret(name);
    } catch (err) {
      const status = statusOf(err);
      if (status === 403 || status === 404) return; // purge protection / soft delete disabled / already purged
      throw err;
    }
  }
}

/** @throws Error naming the rule when `name` is not a valid Key Vault secret name. */
export function assertSecretName(name: string): void {
  if (!SECRET_NAME_PATTERN.test(name)) throw new Error(`Invalid Key Vault secret name '${name}': 1-127 characters from 0-9, a-z, A-Z and '-'.`);
}

function toRef(s: { name: string; properties: { version?: string } }): SecretRef {
  if (!s.properties.version) throw new Error(`Key Vault returned no version for secret '${s.name}'.`);
  return { name: s.name, version: s.properties.version };
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number })?.statusCode;
}

function isDeletedButRecoverable(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string; message?: string; details?: { error?: { innererror?: { code?: string } } } };
  return (
    e?.statusCode === 409 &&
    (e.code === 'ObjectIsDeletedButRecoverable' ||
      e.details?.error?.innererror?.code === 'ObjectIsDeletedButRecoverable' ||
      /ObjectIsDeletedButRecoverable|deleted but recoverable/i.test(e.message ?? ''))
  );
}
