import { createHmac, timingSafeEqual } from 'node:crypto';
import { Role } from '../../src/auth/roles';
import { EscalationService } from '../../src/escalation/escalation.service';
import { IncidentsRepository } from '../../src/escalation/incidents.repository';
import { startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { capacity, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

const SECRET = 'escalation-signing-key-0123456789';

type Hook = { body: { event: string; notificationId: string; incident: { id: string; offerId: string; kind: string; subject: string | null; summary: string; details: Record<string, unknown> } }; headers: Record<string, string> };

/** Checks `t=…,v1=…` (HMAC-SHA256 over "<t>.<body>") the way a receiver would. */
function signatureValid(header: string, body: string, secret: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const want = createHmac('sha256', secret).update(`${m[1]}.${body}`).digest();
  return timingSafeEqual(want, Buffer.from(m[2], 'hex'));
}

/**
 * Issue 11, escalation: a region pool backing off after 3 failed deployments in a row opens ONE
 * incident (with the Azure error) that reaches the offer's e-mails and its signed webhook once, also with
 * two replicas evaluating and delivering; when ARM recovers it resolves once, with one more message of each.
 */
describeEachDb('escalation on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.05, smtpPort: 0 }, { db });

  it('validates the escalation section naming the field; the webhook secret is never returned', async () => {
    const pub = local.svc.http;
    const base = { alias: 'x', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', durationHours: 1 } };
    const bad = await pub.put('/api/v1/offers/esc-bad').send({ ...base, escalation: { emails: ['not-an-email'], webhookUrl: 'http://example.com/hook' } }).expect(400);
    const targets = (bad.body.error.details as Array<{ target: string }>).map((d) => d.target);
    expect(targets).toEqual(expect.arrayContaining(['escalation.emails[0]', 'escalation.webhookUrl']));
    const noSecret = await pub.put('/api/v1/offers/esc-bad').send({ ...base, escalation: { webhookUrl: local.azure.emulator.receivers.create().url } }).expect(400);
    expect(noSecret.body.error.details[0].target).toBe('escalation.webhookSecret');
    const rx = local.azure.emulator.receivers.create();
    const ok = await pub.put('/api/v1/offers/esc-ok').send({ ...base, escalation: { emails: ['OnCall@Contoso.com'], webhookUrl: rx.url, webhookSecret: SECRET } }).expect(201);
    expect(ok.body.escalation).toEqual({ emails: ['oncall@contoso.com'], webhookUrl: rx.url, webhookSecretSet: true });
    expect(JSON.stringify(ok.body)).not.toContain(SECRET);
  });

  it('a region failing 3 times opens one incident, notified once by e-mail and signed webhook across two replicas; recovery resolves it once', async () => {
    const svc = local.svc;
    const rx = local.azure.emulator.receivers.create();
    const hooks = () => (local.azure.emulator.receivers.get(rx.id)?.received ?? []) as unknown as Hook[];
    local.azure.emulator.setFaults([{ operation: 'deployments.execute', failureRate: 1, errorCode: 'SkuNotAvailable' }]);
    await publishOffer(svc, local.publisher, 'esc-arm', [{ name: 'westeurope', hot: 1, cold: 0 }], { publish: false });
    await svc.http.put('/api/v1/offers/esc-arm').send({
      alias: 'esc-arm',
      testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 1, cold: 0 }], accessInformation: '<p>{{siteUrl}}</p>' },
      deployment: { subscriptionId: local.publisher.subscriptionId, tenantId: local.publisher.tenantId, clientId: local.publisher.clientId },
      escalation: { emails: ['oncall@contoso.com'], webhookUrl: rx.url, webhookSecret: SECRET },
    }).expect(200);
    await svc.http.post('/api/v1/offers/esc-arm/publish').expect(200);

    // E-mail goes to the emulator's SMTP sink (the SMTP_URL the embedded default sets), on both replicas.
    svc.config.alerts.smtpUrl = local.azure.emulator.smtpUrl;
    const mails = () => local.azure.emulator.mail.list({ to: 'oncall@contoso.com' });
    const escalation = svc.app.get(EscalationService);
    // Failures pile up; the clock jumps past each backoff so the region tries again.
    await svc.until(async () => {
      const c = await capacity(svc, 'esc-arm', 'westeurope');
      if (c.backoffUntil) svc.clock.advance(Math.max(0, Date.parse(c.backoffUntil) - svc.clock.now()) + 1000);
      return c.consecutiveFailures >= 3;
    }, 30_000);

    const second: TestService = await startService(local.azure, { databaseUrl: svc.databaseUrl, clock: svc.clock, env: { SMTP_URL: local.azure.emulator.smtpUrl! } });
    try {
      const other = second.app.get(EscalationService);
      // Both replicas evaluate at once, and again: one incident.
      const results = await Promise.all([escalation.evaluate(), other.evaluate(), escalation.evaluate()]);
      expect(results.reduce((n, r) => n + r.opened, 0)).toBe(1);
      await Promise.all([escalation.deliverDue(), other.deliverDue()]);
      await Promise.all([escalation.deliverDue(), other.deliverDue()]);

      const opened = hooks();
      expect(opened).toHaveLength(1);
      const hook = opened[0];
      expect(hook.body).toMatchObject({ event: 'opened', incident: { offerId: 'esc-arm', kind: 'pool_backoff', subject: 'westeurope' } });
      expect(hook.body.incident.summary).toContain('SkuNotAvailable');
      expect(signatureValid(hook.headers['x-testdrive-signature'], JSON.stringify(hook.body), SECRET)).toBe(true);
      expect(signatureValid(hook.headers['x-testdrive-signature'], JSON.stringify(hook.body), 'another-secret-0123456789')).toBe(false);

      const opening = mails();
      expect(opening).toHaveLength(1);
      expect(opening[0].subject).toMatch(/^\[test drive\] Incident: Region westeurope of offer esc-arm/);
      expect(opening[0].text).toContain('SkuNotAvailable');

      // Operators and the owning publisher see it open; another publisher does not; metrics count it.
      const list = await svc.http.get('/api/v1/incidents?offerId=esc-arm').expect(200);
      expect(list.body.value).toHaveLength(1);
      expect(list.body.value[0]).toMatchObject({ state: 'open', kind: 'pool_backoff', subject: 'westeurope' });
      const stranger = await svc.as({ roles: [Role.Publisher] });
      expect((await stranger.get('/api/v1/incidents').expect(200)).body.value).toHaveLength(0);
      await stranger.get('/api/v1/incidents?offerId=esc-arm').expect(404);
      const metrics = (await (await svc.as('operator')).get('/metrics').expect(200)).text;
      expect(metrics).toContain('testdrive_incidents_open{offer="esc-arm",kind="pool_backoff"} 1');

      // ARM recovers: the pool refills, the incident resolves once, one more message each.
      local.azure.emulator.setFaults([]);
      await svc.until(async () => {
        const c = await capacity(svc, 'esc-arm', 'westeurope');
        if (c.backoffUntil) svc.clock.advance(Math.max(0, Date.parse(c.backoffUntil) - svc.clock.now()) + 1000);
        return c.hotReady === 1 && c.consecutiveFailures === 0;
      }, 30_000);
      const resolved = await Promise.all([escalation.evaluate(), other.evaluate()]);
      expect(resolved.reduce((n, r) => n + r.resolved, 0)).toBe(1);
      expect(resolved.reduce((n, r) => n + r.opened, 0)).toBe(0);
      await Promise.all([escalation.deliverDue(), other.deliverDue()]);
      expect(hooks().map((h) => h.body.event)).toEqual(['opened', 'resolved']);
      expect(mails().map((m) => m.subject.split(':')[0]).sort()).toEqual(['[test drive] Incident', '[test drive] Resolved']);
      const incident = (await svc.app.get(IncidentsRepository).list({ offerIds: ['esc-arm'], limit: 10 }))[0];
      expect(incident.state).toBe('resolved');
      const notes = await svc.app.get(IncidentsRepository).notificationsOf(incident.id);
      expect(notes.map((n) => `${n.event}/${n.channel}`).sort()).toEqual(['opened/email', 'opened/webhook', 'resolved/email', 'resolved/webhook']);
    } finally {
      await second.close();
    }
  });
});
