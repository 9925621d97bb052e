import * as os from 'node:os';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { LruMap } from '../common/lru-map';
import { Clock } from '../common/clock';
import { SingleFlight } from '../common/single-flight';
import { outboxBackoffMs } from '../persistence/outbox';
import { AppConfig, APP_CONFIG } from '../config/app-config';
import { AzureRuntime } from '../azure/azure-runtime';
import { SECRET_CACHE_ENTRIES, SecretStore } from '../azure/secret-store';
import { Caller } from '../auth/caller';
import { CapacityService } from '../capacity/capacity.service';
import { LeadsRepository } from '../leads/leads.repository';
import { OfferEntity } from '../offers/offer.entity';
import { RemoteHttp, trustedCas, urlForMessages } from '../remote/http';
import { assertOutboundUrlSyntax, guardedLookup, outboundPolicyFor, PUBLISHER_RECEIVER_ENDPOINTS } from '../security/outbound-url';
import { Metrics } from '../metrics/metrics';
import { AlertNotificationEntity, IncidentEntity } from './incident.entity';
import { AlertTarget, IncidentCondition, IncidentsRepository, openKeyOf } from './incidents.repository';
import { postSigned, StoredEscalationConfig } from './escalation-config';

/** A region pool is an incident after this many failed deployments in a row (issue 11). */
export const ESCALATION_FAILURES_IN_A_ROW = 3;
/** A lead waiting for delivery longer than this is an incident (ms): one hour (issue 11). */
export const LEAD_FAILING_AFTER_MS = 3_600_000;
/** Health warning codes that mean the client secret expires soon (within 30 days; issue 13 produces them). */
export const SECRET_EXPIRING_CODES = new Set(['ClientSecretExpiring', 'ClientSecretExpiresSoon']);
/** How long a replica holds a claimed notification (ms). */
const NOTIFICATION_CLAIM_MS = 60_000;
/** Notifications are retried with backoff (1 min doubling to 1 h) for this long, then given up (ms): 24 hours. */
export const NOTIFICATION_RETRY_HORIZON_MS = 24 * 3_600_000;
const BATCH = 50;

/**
 * Escalation (issue 11): level-triggered incidents and their notifications.
 *
 * `evaluate(now)` (the leader, every reconcile tick) reads the conditions that need a human from the
 * database — a region backing off after ESCALATION_FAILURES_IN_A_ROW failures (with the Azure error),
 * an offer whose health check found problems, a deprovisioning given up for good, a client secret
 * expiring within 30 days, leads undelivered for over an hour — opens an incident for each condition
 * without an open one and resolves every open incident whose condition is gone. Each incident opens
 * once and resolves once (unique open key; conditional resolve), so there is no storm, and two
 * replicas never notify twice.
 *
 * `deliverDue()` (every replica; claims keep a message to one) sends the queued e-mails (nodemailer,
 * SMTP_URL) and webhooks (JSON POST signed with HMAC-SHA256 over `<t>.<body>`: header
 * X-TestDrive-Signature `t=…,v1=…`; docs/operations.md "Escalation"), retrying with backoff for
 * NOTIFICATION_RETRY_HORIZON_MS.
 */
@Injectable()
export class EscalationService implements OnApplicationShutdown {
  private readonly logger = new Logger('EscalationService');
  readonly owner = `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private readonly http: RemoteHttp;
  private mailer: Transporter | null = null;
  private readonly delivery = new SingleFlight(() => this.deliverPass());
  /** Signing secrets by `<name>/<version>`: the versions in use stay, the rest are forgotten (SECRET_CACHE_ENTRIES). */
  private readonly secretCache = new LruMap<string, string>(SECRET_CACHE_ENTRIES);

  constructor(
    readonly incidents: IncidentsRepository,
    private readonly capacity: CapacityService,
    private readonly leads: LeadsRepository,
    private readonly secrets: SecretStore,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly runtime: AzureRuntime,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.http = new RemoteHttp({ service: 'alertWebhook', ca: trustedCas(runtime.endpoints), lookup: guardedLookup(outboundPolicyFor(runtime.endpoints)), headersTimeoutMs: 15_000, connections: 4 });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.delivery.inFlight?.catch(() => undefined);
    this.mailer?.close();
    await this.http.close();
  }

  /** The conditions that hold now, one per (offer, kind, subject). */
  async conditions(now = this.clock.now()): Promise<{ conditions: IncidentCondition[]; offers: Map<string, OfferEntity> }> {
    const offers = await this.capacity.readableOffers(Caller.system);
    const byId = new Map(offers.map((o) => [o.id, o]));
    const rows = await this.capacity.rows(offers.filter((o) => o.state === 'published'));
    const out: IncidentCondition[] = [];
    for (const r of rows) {
      const failures = Number(r.consecutiveFailures ?? 0);
      if (r.region && failures >= ESCALATION_FAILURES_IN_A_ROW) {
        const last = r.lastFailure as { code: string; message: string; at: string } | null | undefined;
        out.push({
          offerId: r.offerId,
          kind: 'pool_backoff',
          subject: r.region,
          summary: `Region ${r.region} of offer ${r.offerId}: ${failures} deployments failed in a row; new hot instances back off${last ? `. Azure error ${last.code}: ${last.message}` : ''}`,
          details: { region: r.region, consecutiveFailures: failures, backoffUntil: r.backoffUntil ?? null, azureError: last ?? null },
        });
      }
      const gaveUp = Number(r.deprovisionFailures ?? 0);
      if (gaveUp > 0) {
        const sessionIds = Array.isArray(r.deprovisionFailedSessions) ? (r.deprovisionFailedSessions as string[]) : [];
        out.push({
          offerId: r.offerId,
          kind: 'deprovisioning_failed',
          subject: '',
          summary: `Offer ${r.offerId}: ${gaveUp} session(s) could not be deprovisioned after every attempt; resources may be left behind. Clean up, then acknowledge each session (POST /api/v1/sessions/{id}/acknowledge-deprovisioning).`,
          details: { sessions: gaveUp, sessionIds },
        });
      }
    }
    for (const o of offers) {
      if (o.state !== 'published') continue;
      const h = o.health;
      if (h?.status === 'degraded') {
        const first = h.problems[0];
        out.push({ offerId: o.id, kind: 'offer_degraded', subject: '', summary: `Offer ${o.id} is degraded: ${first ? `${first.code}: ${first.message}` : 'its health check failed'}`, details: { problems: h.problems.slice(0, 10), checkedAt: h.checkedAt } });
      }
      const expiring = [...(h?.warnings ?? []), ...(h?.problems ?? [])].find((w) => SECRET_EXPIRING_CODES.has(w.code));
      if (expiring) out.push({ offerId: o.id, kind: 'client_secret_expiring', subject: '', summary: `Offer ${o.id}: ${expiring.message}`, details: { code: expiring.code } });
    }
    const leadCounts = await this.leads.counts();
    for (const [offerId, c] of leadCounts) {
      const o = byId.get(offerId);
      if (!o) continue;
      const waiting = c.oldestPendingAt !== undefined && now - c.oldestPendingAt > LEAD_FAILING_AFTER_MS && !!o.leads?.destination;
      if (waiting || c.failed > 0) {
        out.push({
          offerId,
          kind: 'lead_delivery_failing',
          subject: '',
          summary: `Offer ${offerId}: lead delivery is failing (${c.pending} pending${waiting ? `, the oldest for ${Math.round((now - c.oldestPendingAt!) / 60_000)} minutes` : ''}; ${c.failed} given up).`,
          details: { pending: c.pending, failed: c.failed },
        });
      }
    }
    return { conditions: out, offers: byId };
  }

  /**
   * One level-triggered pass (leader): open what holds and is not open, resolve what is open and no
   * longer holds. Idempotent; safe to run on several replicas at once (the database decides).
   * @returns how many incidents it opened and resolved.
   */
  async evaluate(now = this.clock.now()): Promise<{ opened: number; resolved: number }> {
    const { conditions, offers } = await this.conditions(now);
    const open = await this.incidents.listOpen();
    const openKeys = new Set(open.map((i) => i.openKey));
    const holding = new Set(conditions.map(openKeyOf));
    let opened = 0;
    let resolved = 0;
    for (const c of conditions) {
      if (openKeys.has(openKeyOf(c))) continue;
      const incident = await this.incidents.open(c, targetsOf(offers.get(c.offerId)), now);
      if (incident) {
        opened++;
        this.logger.warn({ incidentId: incident.id, offerId: c.offerId, kind: c.kind, subject: c.subject }, `incident opened: ${incident.summary}`);
      }
    }
    for (const i of open) {
      if (holding.has(i.openKey!)) continue;
      if (await this.incidents.resolve(i, targetsOf(offers.get(i.offerId)), now)) {
        resolved++;
        this.logger.log({ incidentId: i.id, offerId: i.offerId, kind: i.kind, subject: i.subject }, 'incident resolved');
      }
    }
    return { opened, resolved };
  }

  /** One delivery pass (shared by concurrent callers): sends due notifications. Returns how many were sent. */
  deliverDue(): Promise<number> {
    return this.delivery.run();
  }

  private async deliverPass(): Promise<number> {
    const now = this.clock.now();
    const due = await this.incidents.claimDue(this.owner, now, NOTIFICATION_CLAIM_MS, BATCH);
    let sent = 0;
    for (const n of due) {
      const incident = await this.incidents.findById(n.incidentId);
      const offer = incident ? (await this.capacity.readableOffers(Caller.system)).find((o) => o.id === n.offerId) : undefined;
      let error: { code: string; message: string; permanent?: boolean } | null;
      try {
        error = incident ? await this.send(n, incident, offer) : { code: 'IncidentGone', message: 'The incident no longer exists.', permanent: true };
      } catch (err) {
        error = { code: 'SendFailed', message: (err as Error).message.slice(0, 300) };
      }
      if (!error) {
        await this.incidents.sent(n.id, this.owner, this.clock.now());
        this.metrics.alertNotifications.inc({ channel: n.channel, event: n.event, outcome: 'sent' });
        sent++;
        continue;
      }
      const giveUp = error.permanent || now - n.createdAt >= NOTIFICATION_RETRY_HORIZON_MS;
      const next = giveUp ? null : now + outboxBackoffMs(n.attempts);
      await this.incidents.notSent(n.id, this.owner, { code: error.code, message: error.message }, next === null ? null : Math.round(next), this.clock.now());
      this.metrics.alertNotifications.inc({ channel: n.channel, event: n.event, outcome: giveUp ? 'failed' : 'retry' });
      this.logger.warn({ notificationId: n.id, incidentId: n.incidentId, channel: n.channel, code: error.code, attempts: n.attempts }, giveUp ? 'alert notification failed for good' : 'alert notification failed; will retry');
    }
    return sent;
  }

  /** Sends one notification; null when sent, else the error (permanent: retrying will not help). */
  private async send(n: AlertNotificationEntity, incident: IncidentEntity, offer: OfferEntity | undefined): Promise<{ code: string; message: string; permanent?: boolean } | null> {
    const payload = alertPayload(n, incident);
    if (n.channel === 'email') {
      if (!this.config.alerts.smtpUrl) return { code: 'SmtpNotConfigured', message: 'SMTP_URL is not set: e-mails wait until it is.' };
      this.mailer ??= createTransport(this.config.alerts.smtpUrl);
      const verb = n.event === 'opened' ? 'Incident' : 'Resolved';
      await this.mailer.sendMail({
        from: this.config.alerts.from,
        to: n.target,
        subject: `[test drive] ${verb}: ${incident.summary}`.slice(0, 200),
        text: emailText(payload),
        headers: { 'X-TestDrive-Incident': incident.id, 'X-TestDrive-Event': n.event },
      });
      return null;
    }
    const cfg = offer?.escalation;
    if (!cfg?.webhookUrl || !cfg.secretName || !cfg.secretVersion || urlForMessages(cfg.webhookUrl) !== n.target) {
      return { code: 'WebhookRemoved', message: 'The offer no longer has this webhook.', permanent: true };
    }
    assertOutboundUrlSyntax(cfg.webhookUrl, PUBLISHER_RECEIVER_ENDPOINTS, outboundPolicyFor(this.runtime.endpoints));
    const secret = await this.secretFor(cfg.secretName, cfg.secretVersion);
    return postSigned(this.http, cfg.webhookUrl, secret, JSON.stringify(payload), Math.floor(this.clock.now() / 1000), n.id, 'webhook');
  }

  private async secretFor(name: string, version: string): Promise<string> {
    const key = `${name}/${version}`;
    let v = this.secretCache.get(key);
    if (v === undefined) {
      v = await this.secrets.get(name, version);
      this.secretCache.set(key, v);
    }
    return v;
  }
}

/** Where an offer's notifications go: each e-mail address and its webhook (origin + path). */
export function targetsOf(offer: OfferEntity | undefined): AlertTarget[] {
  const cfg: StoredEscalationConfig | null | undefined = offer?.escalation;
  if (!cfg) return [];
  const out: AlertTarget[] = cfg.emails.map((e) => ({ channel: 'email', target: e.toLowerCase() }));
  if (cfg.webhookUrl && cfg.secretVersion) out.push({ channel: 'webhook', target: urlForMessages(cfg.webhookUrl) });
  return out;
}

/** The JSON body of a webhook (and the facts of an e-mail). */
export function alertPayload(n: Pick<AlertNotificationEntity, 'id' | 'event'>, i: IncidentEntity): Record<string, unknown> {
  return {
    notificationId: n.id,
    event: n.event,
    incident: {
      id: i.id,
      offerId: i.offerId,
      kind: i.kind,
      subject: i.subject || null,
      state: n.event === 'opened' ? 'open' : 'resolved',
      summary: i.summary,
      details: i.details,
      openedAt: new Date(i.openedAt).toISOString(),
      resolvedAt: i.resolvedAt !== null ? new Date(i.resolvedAt).toISOString() : null,
    },
  };
}

function emailText(p: Record<string, unknown>): string {
  const i = p.incident as { offerId: string; kind: string; subject: string | null; summary: string; openedAt: string; resolvedAt: string | null; details: unknown; id: string };
  return [
    p.event === 'opened' ? 'An incident opened on your test drive offer.' : 'An incident on your test drive offer is resolved.',
    '',
    `Offer:    ${i.offerId}`,
    `Kind:     ${i.kind}${i.subject ? ` (${i.subject})` : ''}`,
    `Summary:  ${i.summary}`,
    `Opened:   ${i.openedAt}`,
    ...(i.resolvedAt ? [`Resolved: ${i.resolvedAt}`] : []),
    '',
    `Details:  ${JSON.stringify(i.details)}`,
    `Incident: ${i.id}`,
  ].join('\n');
}
