import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Role } from '../../src/auth/roles';
import { ManualClock } from '../../src/common/clock';
import { AuditEventEntity } from '../../src/audit/audit-event.entity';
import { DashboardService, LIVE_TABLE_ROWS } from '../../src/dashboard/dashboard.service';
import { SessionCookies } from '../../src/dashboard/session-cookie';
import type { DashboardSession } from '../../src/dashboard/session-cookie';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';

const HOUR = 3_600_000;
const SESSION_SECRET = 'busy-offer-dashboard-session-secret-0123456789';
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/**
 * What operators see of a busy offer counts every row: the offer page's 24-hour chart every start and
 * refusal (defect: it read at most 5,000 sessions oldest first and 1,000 refusals newest first, so past
 * those the newest hours showed no starts at all and the oldest no refusals), GET /capacity every ready
 * Power BI session (defect: it counted the newest 500). Rows are written straight into the database:
 * thousands of starts through the API would only make the test slow.
 */
describeEachDb('a busy offer on %s', (db) => {
  let azure: LocalAzure;
  let svc: TestService;
  const clock = new ManualClock(Date.UTC(2026, 11, 4, 12, 30));

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure, { db, clock, env: { DASHBOARD_SESSION_SECRET: SESSION_SECRET } });
  });

  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  it('counts 5,100 starts an hour ago, 3 now, and 1,100 refusals ten hours ago', async () => {
    const pub = await svc.as({ roles: [Role.Publisher] });
    const market = await svc.as('marketplace');
    await pub.put('/api/v1/offers/busy').send({ alias: 'Busy', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=abc', durationHours: 1 } }).expect(201);
    await pub.post('/api/v1/offers/busy/publish').expect(200);
    const now = clock.now();
    const first = Math.floor(now / HOUR) * HOUR - 23 * HOUR; // the chart: this hour and the 23 before
    // Three starts now (slot 23), through the API.
    for (let i = 0; i < 3; i++) await market.post('/api/v1/offers/busy/sessions').send({ customer }).expect(201);

    // 5,100 earlier starts in the hour before (slot 22), ready after 2 s each, copied from one of them.
    const sessions = svc.app.get(SessionsRepository).repo;
    const model = (await sessions.findOneByOrFail({ offerId: 'busy' })) as unknown as Record<string, unknown>;
    const at = first + 22 * HOUR + 60_000;
    for (let chunk = 0; chunk < 5_100; chunk += 300) {
      const rows = Array.from({ length: 300 }, () => ({ ...model, id: randomUUID(), state: 'ended', requestedAt: at, readyAt: at + 2_000, expiresAt: at + HOUR, endedAt: at + HOUR, updatedAt: at + HOUR }));
      await sessions.insert(rows as never);
    }
    // 1,100 refusals in slot 13 (ten hours ago).
    const audit = svc.app.get(DataSource).getRepository(AuditEventEntity);
    const refusedAt = first + 13 * HOUR + 5_000;
    for (let chunk = 0; chunk < 1_100; chunk += 275) {
      const rows = Array.from({ length: 275 }, () => ({ id: randomUUID(), at: refusedAt, actorType: 'client', actorTenantId: null, actorClientId: null, actorRoles: null, action: 'session.refused', offerId: 'busy', targetType: 'offer', targetId: 'busy', details: { code: 'NoCapacity' } }));
      await audit.insert(rows as never);
    }

    const operator = { honouredRoles: [Role.Operator], csrf: 'x', exp: now / 1000 + 3_600 } as unknown as DashboardSession;
    const page = (await svc.app.get(DashboardService).offerPage(operator, 'busy'))!;
    expect(page.chart).toHaveLength(24);
    expect(page.chart[23]).toMatchObject({ hour: new Date(first + 23 * HOUR).toISOString(), other: 3, refused: 0, meanSecondsToReady: 0 });
    expect(page.chart[22]).toMatchObject({ other: 5_100, meanSecondsToReady: 2 });
    expect(page.chart[13]).toMatchObject({ refused: 1_100, other: 0 });
    const total = page.chart.reduce((a, h) => ({ started: a.started + h.hot + h.cold + h.other, refused: a.refused + h.refused }), { started: 0, refused: 0 });
    expect(total).toEqual({ started: 5_103, refused: 1_100 });
  });

  it('GET /capacity counts 603 ready Power BI sessions, not the newest 500', async () => {
    const sessions = svc.app.get(SessionsRepository).repo;
    const model = (await sessions.findOneByOrFail({ offerId: 'busy', state: 'ready' })) as unknown as Record<string, unknown>;
    const at = clock.now() - 60_000;
    for (let chunk = 0; chunk < 600; chunk += 300) {
      await sessions.insert(Array.from({ length: 300 }, () => ({ ...model, id: randomUUID(), requestedAt: at, readyAt: at, updatedAt: at })));
    }
    const ops = await svc.as({ roles: [Role.Operator] });
    const row = (await ops.get('/api/v1/capacity?offerId=busy').expect(200)).body.value[0];
    expect(row).toMatchObject({ offerId: 'busy', assigned: 603, unlimited: true });
  });

  it('the offer page says how many sessions are live (603) and that its table shows the newest 100 (defect: 500 of them, and no word of the rest)', async () => {
    const { cookie } = await new SessionCookies(SESSION_SECRET, false).issue(
      { oid: randomUUID(), tid: randomUUID(), name: 'Olga Operator', username: 'olga@example.com', roles: [Role.Operator] },
      [Role.Operator],
      Math.floor(clock.now() / 1000),
    );
    const html = (await svc.anonymous.get('/ui/offers/busy').set('cookie', cookie.split(';')[0]).expect(200)).text;
    expect(html).toContain('Live sessions (603)');
    expect((html.match(/<tr><td><code>/g) ?? []).length).toBe(LIVE_TABLE_ROWS);
    expect(html).toContain(`The newest ${LIVE_TABLE_ROWS} of 603.`);
    expect(html).toContain('GET /api/v1/offers/busy/sessions?state=ready');
  });
});
