import * as os from 'node:os';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import { Clock, iso } from '../common/clock';
import { SingleFlight } from '../common/single-flight';
import { ErrorDetail } from '../common/api-error';
import { AzureRuntime } from '../azure/azure-runtime';
import { SecretStore } from '../azure/secret-store';
import { Database, sql, TxBody } from '../persistence/database';
import { isUniqueViolation } from '../persistence/data-source';
import { claimDueStatement, freshOutbox, outboxBackoffMs } from '../persistence/outbox';
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

/** A registration as the API shows it (the secret only in the answer that created it). */
export interface CallbackRegistration {
  url: string;
  events: CallbackEventType[];
  createdAt: string;
  updatedAt: string;
  secret?: string;
}

/**
 * Marketplace callbacks (issue 12): a marketplace client registers one HTTPS URL and the session events
 * it wants (`session.ready`, `session.ended`, `session.failed`, `session.queued.position`); the service
 * POSTs each event as JSON signed like escalation webhooks (X-TestDrive-Signature `t=…,v1=HMAC-SHA256`
 * over `<t>.<body>`; the secret is returned once, by the PUT that registers it, and kept in Key Vault),
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
  private readonly secretCache = new Map<string, string>();

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

  /** Registers (or replaces) the callback of a marketplace client; a new signing secret each time, returned here only. */
  async register(client: { tenantId: string; clientId: string }, url: string, events: CallbackEventType[]): Promise<{ registration: CallbackRegistration; created: boolean }> {
    const now = this.clock.now();
    const secret = randomBytes(32).toString('base64url');
    const name = `callback-${createHash('sha256').update(`${client.tenantId}|${client.clientId}`).digest('hex').slice(0, 32)}`;
    const ref = await this.secrets.set(name, secret, { purpose: 'marketplace-callback' });
    const existing = await this.subscriptions.findOneBy({ clientTenantId: client.tenantId, clientId: client.clientId });
    const row: CallbackSubscriptionEntity = { id: existing?.id ?? randomUUID(), clientTenantId: client.tenantId, clientId: client.clientId, url, events: [...new Set(events)], secretName: ref.name, secretVersion: ref.version, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await this.subscriptions.save(row);
    return { registration: { ...view(row), secret }, created: !existing };
  }

  /** The client's registration, or null. */
  async find(client: { tenantId: string; clientId: string }): Promise<CallbackRegistration | null> {
    const row = await this.subscriptions.findOneBy({ clientTenantId: client.tenantId, clientId: client.clientId });
    return row ? view(row) : null;
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
    const key = `${sub.secretName}/${sub.secretVersion}`;
    let secret = this.secretCache.get(key);
    if (secret === undefined) this.secretCache.set(key, (secret = await this.secrets.get(sub.secretName, sub.secretVersion)));
    return postSigned(this.http, sub.url, secret, e.payload, Math.floor(this.clock.now() / 1000), e.id, 'callback', { 'X-TestDrive-Event': e.event });
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

function view(row: CallbackSubscriptionEntity): CallbackRegistration {
  return { url: row.url, events: row.events, createdAt: new Date(row.createdAt).toISOString(), updatedAt: new Date(row.updatedAt).toISOString() };
}
