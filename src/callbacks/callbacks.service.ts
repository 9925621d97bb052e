import * as os from 'node:os';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { LruMap } from '../common/lru-map';
import { Clock, iso } from '../common/clock';
import { SingleFlight } from '../common/single-flight';
import { ApiError, ErrorDetail } from '../common/api-error';
import { AzureRuntime } from '../azure/azure-runtime';
import { SECRET_CACHE_ENTRIES, SecretStore } from '../azure/secret-store';
import { Database, sql, TxBody } from '../persistence/database';
import { isUniqueViolation } from '../persistence/data-source';
import { claimDueStatement, freshOutbox, outboxBackoffMs, purgeDoneMessages } from '../persistence/outbox';
import { RemoteHttp, trustedCas } from '../remote/http';
import { checkOutboundUrls, guardedLookup, outboundPolicyFor, PUBLISHER_RECEIVER_ENDPOINTS, assertOutboundUrlSyntax } from '../security/outbound-url';
import { postSigned } from '../escalation/escalation-config';
import { SessionEntity } from '../sessions/session.entity';
import { QueueService } from '../sessions/queue.service';
import { CallbackEventEntity, CallbackEventType, CallbackSubscriptionEntity } from './callback.entity';

/** Events are retried with backoff (1 min doubling to 1 h) for this long, then given up (ms): 24 hours. */
export const CALLBACK_RETRY_HORIZON_MS = 24 * 3_600_000;
/** Each scan looks this far behind its cursor (ms), so a transition committed late is not missed (the dedupe key absorbs repeats). */
const SCAN_OVERLAP_MS = 60_000;
const CURSOR = 'callbacks.sessions';
const CLAIM_MS = 60_000;
const BATCH = 50;
/** Longest overlap a rotation may ask for (hours): the previous secret signs beside the new one at most this long. */
export const MAX_PREVIOUS_SECRET_HOURS = 72;
/** The overlap when a rotation does not say (hours). */
export const DEFAULT_PREVIOUS_SECRET_HOURS = 24;
const HOUR_MS = 3_600_000;
/** Tries of a registration change that met concurrent ones before it answers 409 ConcurrentChange. */
const CHANGE_TRIES = 5;

/** A registration as the API shows it (the secret only in the answer that created it, or rotated it). */
export interface CallbackRegistration {
  url: string;
  events: CallbackEventType[];
  createdAt: string;
  updatedAt: string;
  /** Until when the secret before the last rotation still signs (ISO time), or null. */
  previousSecretExpiresAt: string | null;
  secret?: string;
}

/**
 * Marketplace callbacks (issue 12): a marketplace client registers one HTTPS URL and the session events
 * it wants (`session.ready`, `session.ended`, `session.failed`, `session.queued.position`); the service
 * POSTs each event as JSON signed like escalation webhooks (X-TestDrive-Signature `t=…,v1=HMAC-SHA256`
 * over `<t>.<body>`; the secret is returned once, by the PUT that registers it, and kept in Key Vault; a PUT
 * that replaces the URL or the events keeps it; rotateSecret issues a new one, the old one signing too for
 * an overlap),
 * with the event id in `Idempotency-Key` and the body, at least once, retried with backoff for 24 hours.
 *
 * Events come from the database, not from the code paths that change sessions (they are many, in every
 * type): the leader scans sessions that became ready or ended since its persisted cursor (with an
 * overlap) and queued sessions whose position changed, and queues one outbox row per fact (unique
 * dedupe key). So a crash or a leader change loses no event; polling keeps working as before.
 */
@Injectable()
export class CallbacksService implements OnApplicationShutdown {
  private readonly logger = new Logger('CallbacksService');
  readonly owner = `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  readonly subscriptions: Repository<CallbackSubscriptionEntity>;
  readonly events: Repository<CallbackEventEntity>;
  private readonly sessions: Repository<SessionEntity>;
  private readonly http: RemoteHttp;
  private readonly delivery = new SingleFlight(() => this.deliverPass());
  /** Signing secrets by `<name>/<version>`: the versions in use stay, the rest are forgotten (SECRET_CACHE_ENTRIES). */
  private readonly secretCache = new LruMap<string, string>(SECRET_CACHE_ENTRIES);

  constructor(
    @InjectDataSource() ds: DataSource,
    private readonly db: Database,
    private readonly secrets: SecretStore,
    private readonly queue: QueueService,
    private readonly clock: Clock,
    private readonly runtime: AzureRuntime,
  ) {
    this.subscriptions = ds.getRepository(CallbackSubscriptionEntity);
    this.events = ds.getRepository(CallbackEventEntity);
    this.sessions = ds.getRepository(SessionEntity);
    this.http = new RemoteHttp({ service: 'marketplaceCallback', ca: trustedCas(runtime.endpoints), lookup: guardedLookup(outboundPolicyFor(runtime.endpoints)), headersTimeoutMs: 15_000, connections: 8 });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.delivery.inFlight?.catch(() => undefined);
    await this.http.close();
  }

  /** The URL must pass the outbound URL rule (public https host; the emulator's receivers when emulated). */
  checkUrl(url: string): Promise<ErrorDetail[]> {
    return checkOutboundUrls([{ target: 'url', url, kind: PUBLISHER_RECEIVER_ENDPOINTS }], outboundPolicyFor(this.runtime.endpoints));
  }

  /**
   * Registers the callback of a marketplace client, or replaces its URL and events. A registration gets a
   * new signing secret (32 random bytes, base64url), written to Key Vault and returned here only; a
   * replacement keeps the secret it has (rotateSecret changes it), so the receiver goes on verifying.
   * Two first registrations at once: one creates (and gets the secret), the other replaces.
   * @throws ApiError 409 ConcurrentChange when other changes of the registration kept winning (CHANGE_TRIES).
   */
  async register(client: { tenantId: string; clientId: string }, url: string, events: CallbackEventType[]): Promise<{ registration: CallbackRegistration; created: boolean }> {
    const key = { clientTenantId: client.tenantId, clientId: client.clientId };
    const wanted = { url, events: [...new Set(events)] };
    for (let tries = 0; tries < CHANGE_TRIES; tries++) {
      const now = this.clock.now();
      const existing = await this.subscriptions.findOneBy(key);
      if (existing) {
        const r = await this.subscriptions.update({ id: existing.id }, { ...wanted, updatedAt: now });
        if (!r.affected) continue; // removed meanwhile: register anew
        return { registration: view({ ...existing, ...wanted, updatedAt: now }, now), created: false };
      }
      const secret = newSecret();
      const ref = await this.secrets.set(callbackSecretName(client), secret, { purpose: 'marketplace-callback' });
      const row: CallbackSubscriptionEntity = { id: randomUUID(), ...key, ...wanted, secretName: ref.name, secretVersion: ref.version, previousSecretVersion: null, previousSecretExpiresAt: null, createdAt: now, updatedAt: now };
      try {
        await this.subscriptions.insert(row);
      } catch (err) {
        if (isUniqueViolation(err)) continue; // a concurrent registration made it: this one replaces URL and events
        throw err;
      }
      return { registration: { ...view(row, now), secret }, created: true };
    }
    throw concurrentChange();
  }

  /**
   * Issues a new signing secret for the client's callback (Key Vault, returned here only). The secret it
   * replaces goes on signing beside it for `previousSecretHours` (whole hours, 0 to
   * MAX_PREVIOUS_SECRET_HOURS; 0: it stops at once), so the receiver can switch without refusing a
   * delivery; a secret older than that stops now. Concurrent rotations apply one after the other.
   * @returns the registration with `secret`, or null when the client has none.
   * @throws ApiError 409 ConcurrentChange when other rotations kept winning (CHANGE_TRIES).
   */
  async rotateSecret(client: { tenantId: string; clientId: string }, previousSecretHours: number): Promise<CallbackRegistration | null> {
    for (let tries = 0; tries < CHANGE_TRIES; tries++) {
      const existing = await this.subscriptions.findOneBy({ clientTenantId: client.tenantId, clientId: client.clientId });
      if (!existing) return null;
      const secret = newSecret();
      const ref = await this.secrets.set(existing.secretName, secret, { purpose: 'marketplace-callback' });
      const now = this.clock.now();
      const previous =
        previousSecretHours > 0
          ? { previousSecretVersion: existing.secretVersion, previousSecretExpiresAt: now + previousSecretHours * HOUR_MS }
          : { previousSecretVersion: null, previousSecretExpiresAt: null };
      const change = { secretName: ref.name, secretVersion: ref.version, ...previous, updatedAt: now };
      // Compare and set on the version it replaces: a concurrent rotation in between makes this one start over.
      const r = await this.subscriptions.update({ id: existing.id, secretVersion: existing.secretVersion }, change);
      if (r.affected) return { ...view({ ...existing, ...change }, now), secret };
    }
    throw concurrentChange();
  }

  /** The client's registration, or null. */
  async find(client: { tenantId: string; clientId: string }): Promise<CallbackRegistration | null> {
    const row = await this.subscriptions.findOneBy({ clientTenantId: client.tenantId, clientId: client.clientId });
    return row ? view(row, this.clock.now()) : null;
  }

  /** Removes the client's registration (its pending events are dropped as they come due). False when none. */
  async remove(client: { tenantId: string; clientId: string }): Promise<boolean> {
    const r = await this.subscriptions.delete({ clientTenantId: client.tenantId, clientId: client.clientId });
    return (r.affected ?? 0) > 0;
  }

  /**
   * Leader pass: queues the events of sessions that became ready, ended or failed since the cursor (with
   * an overlap), and of queued sessions whose position changed, for the clients that subscribed to them.
   * @returns how many events it queued.
   */
  async collect(now = this.clock.now()): Promise<number> {
    const subs = await this.subscriptions.find();
    if (!subs.length) return 0;
    const byClient = new Map(subs.map((s) => [`${s.clientTenantId}|${s.clientId}`, s]));
    const subOf = (s: SessionEntity, event: CallbackEventType) => {
      const sub = s.clientTenantId && s.clientId ? byClient.get(`${s.clientTenantId}|${s.clientId}`) : undefined;
      return sub && sub.events.includes(event) ? sub : undefined;
    };
    const cursor = await this.readCursor();
    const from = (cursor ?? now - SCAN_OVERLAP_MS) - SCAN_OVERLAP_MS;
    const clients = subs.map((s) => s.clientId);
    let queued = 0;
    const ready = await this.sessions.createQueryBuilder('s').where('s.readyAt > :from AND s.readyAt <= :now', { from, now }).andWhere('s.clientId IN (:...clients)', { clients }).getMany();
    for (const s of ready) {
      const sub = subOf(s, 'session.ready');
      if (sub) queued += Number(await this.queueEvent(sub, s, 'session.ready', `${s.id}|session.ready`, now));
    }
    const ended = await this.sessions.createQueryBuilder('s').where('s.endedAt > :from AND s.endedAt <= :now', { from, now }).andWhere('s.clientId IN (:...clients)', { clients }).getMany();
    for (const s of ended) {
      const event: CallbackEventType = s.state === 'failed' ? 'session.failed' : 'session.ended';
      const sub = subOf(s, event);
      if (sub) queued += Number(await this.queueEvent(sub, s, event, `${s.id}|${event}`, now));
    }
    const waiting = await this.sessions.find({ where: { state: 'queued', clientId: In(clients) } });
    const byOffer = new Map<string, SessionEntity[]>();
    for (const s of waiting) {
      const sub = subOf(s, 'session.queued.position');
      if (!sub) continue;
      if (!byOffer.has(s.offerId)) byOffer.set(s.offerId, await this.queue.listQueued(s.offerId));
      const position = await this.queue.position(s, byOffer.get(s.offerId));
      if (position === null || position === s.queuePositionNotified) continue;
      if (await this.queueEvent(sub, s, 'session.queued.position', `${s.id}|position|${position}`, now, { queuePosition: position })) queued++;
      await this.sessions.update({ id: s.id, state: 'queued' }, { queuePositionNotified: position });
    }
    await this.writeCursor(now);
    return queued;
  }

  /** Queues one event (false when the same fact was queued before). */
  private async queueEvent(sub: CallbackSubscriptionEntity, s: SessionEntity, event: CallbackEventType, dedupeKey: string, now: number, extra: Record<string, unknown> = {}): Promise<boolean> {
    const id = randomUUID();
    const payload = {
      id,
      type: event,
      occurredAt: new Date(now).toISOString(),
      session: {
        id: s.id,
        offerId: s.offerId,
        state: s.state,
        region: s.region,
        instanceKind: s.instanceKind,
        readyAt: iso(s.readyAt),
        expiresAt: iso(s.expiresAt),
        endedAt: iso(s.endedAt),
        endReason: s.endReason,
        failure: s.failure,
        href: `/api/v1/sessions/${s.id}`,
        ...extra,
      },
    };
    try {
      await this.events.insert({ id, subscriptionId: sub.id, sessionId: s.id, event, dedupeKey: dedupeKey.slice(0, 120), payload: JSON.stringify(payload), state: 'pending', ...freshOutbox(now), sentAt: null, createdAt: now, updatedAt: now });
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Sends due events (every replica may call it; claims keep an event to one). Returns how many were sent. */
  deliverDue(): Promise<number> {
    return this.delivery.run();
  }

  private async deliverPass(): Promise<number> {
    const now = this.clock.now();
    const owner = this.owner;
    const postgres = this.db.postgres;
    const ids = await this.db.atomic(function* (): TxBody<string[]> {
      const r = yield claimDueStatement('callback_event', owner, now, CLAIM_MS, BATCH, postgres);
      return r.rows.map((row) => String(row.id));
    });
    if (!ids.length) return 0;
    const due = await this.events.find({ where: { id: In(ids) }, order: { createdAt: 'ASC' } });
    const subs = new Map((await this.subscriptions.findBy({ id: In([...new Set(due.map((e) => e.subscriptionId))]) })).map((s) => [s.id, s]));
    let sent = 0;
    for (const e of due) {
      const sub = subs.get(e.subscriptionId);
      let error: { code: string; message: string; permanent?: boolean } | null = null;
      try {
        error = sub ? await this.send(sub, e) : { code: 'SubscriptionRemoved', message: 'The callback was unregistered.', permanent: true };
      } catch (err) {
        error = { code: 'SendFailed', message: (err as Error).message.slice(0, 300) };
      }
      const at = this.clock.now();
      if (!error) {
        await this.events.update({ id: e.id, lockedBy: owner, state: 'pending' }, { state: 'sent', sentAt: at, lockedBy: null, lockedUntil: null, lastError: null, updatedAt: at });
        sent++;
        continue;
      }
      const giveUp = error.permanent || now - e.createdAt >= CALLBACK_RETRY_HORIZON_MS;
      await this.events.update(
        { id: e.id, lockedBy: owner, state: 'pending' },
        { ...(giveUp ? { state: 'failed' as const } : { nextAttemptAt: now + outboxBackoffMs(e.attempts) }), lastError: { code: error.code, message: error.message, at }, lockedBy: null, lockedUntil: null, updatedAt: at },
      );
      this.logger.warn({ eventId: e.id, sessionId: e.sessionId, event: e.event, code: error.code, attempts: e.attempts }, giveUp ? 'callback failed for good' : 'callback failed; will retry');
    }
    return sent;
  }

  private async send(sub: CallbackSubscriptionEntity, e: CallbackEventEntity): Promise<{ code: string; message: string; permanent?: boolean } | null> {
    assertOutboundUrlSyntax(sub.url, PUBLISHER_RECEIVER_ENDPOINTS, outboundPolicyFor(this.runtime.endpoints));
    const now = this.clock.now();
    // The current secret, and the one before it during a rotation's overlap (one signature each).
    const versions = [sub.secretVersion, ...(sub.previousSecretVersion && (sub.previousSecretExpiresAt ?? 0) > now ? [sub.previousSecretVersion] : [])];
    const secrets: string[] = [];
    for (const version of versions) {
      const key = `${sub.secretName}/${version}`;
      let secret = this.secretCache.get(key);
      if (secret === undefined) this.secretCache.set(key, (secret = await this.secrets.get(sub.secretName, version)));
      secrets.push(secret);
    }
    return postSigned(this.http, sub.url, secrets, e.payload, Math.floor(now / 1000), e.id, 'callback', { 'X-TestDrive-Event': e.event });
  }

  /**
   * Removes events sent or given up whose last attempt was due before `cutoff` (HISTORY_RETENTION_DAYS),
   * and never one the next scan could queue again: the cutoff is held two scan overlaps behind the scan's
   * cursor (a scan that has not run since would see those sessions again, and a removed dedupe key would
   * let it queue the fact a second time, under a new event id). No cursor yet: nothing is removed.
   * @returns how many events it removed.
   */
  async purgeDone(cutoff: number): Promise<number> {
    const cursor = await this.readCursor();
    if (cursor === null) return 0;
    return purgeDoneMessages(this.db, 'callback_event', Math.min(cutoff, cursor - 2 * SCAN_OVERLAP_MS));
  }

  private async readCursor(): Promise<number | null> {
    const rows = await this.db.atomic(function* (): TxBody<Record<string, unknown>[]> {
      return (yield sql('SELECT "value" FROM "cursor" WHERE "name" = ?', [CURSOR])).rows;
    });
    return rows.length ? Number(rows[0].value) : null;
  }

  private async writeCursor(value: number): Promise<void> {
    await this.db.atomic(function* (): TxBody<void> {
      yield sql('INSERT INTO "cursor" ("name", "value") VALUES (?, ?) ON CONFLICT ("name") DO UPDATE SET "value" = excluded."value"', [CURSOR, value]);
    });
  }
}

function view(row: CallbackSubscriptionEntity, now: number): CallbackRegistration {
  const overlap = row.previousSecretVersion && row.previousSecretExpiresAt && row.previousSecretExpiresAt > now ? row.previousSecretExpiresAt : null;
  return {
    url: row.url,
    events: row.events,
    createdAt: new Date(row.createdAt).toISOString(),
    updatedAt: new Date(row.updatedAt).toISOString(),
    previousSecretExpiresAt: overlap === null ? null : new Date(overlap).toISOString(),
  };
}

function concurrentChange(): ApiError {
  return new ApiError(409, 'ConcurrentChange', 'The callback registration kept changing under concurrent requests; try again.', undefined, undefined, { 'Retry-After': '1' });
}

/** A new signing secret: 32 random bytes, base64url. */
function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** Key Vault name of a marketplace client's callback secret (one per client; versions per rotation). */
function callbackSecretName(client: { tenantId: string; clientId: string }): string {
  return `callback-${createHash('sha256').update(`${client.tenantId}|${client.clientId}`).digest('hex').slice(0, 32)}`;
}
