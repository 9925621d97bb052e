import { Role } from '../../src/auth/roles';
import { MetricsCollector } from '../../src/metrics/metrics.collector';
import { MetricsListener } from '../../src/metrics/metrics-listener';
import { startService, TestService } from '../support/harness';
import { describeEachDb } from '../support/postgres';
import { freePort } from '../support/net';
import { capacity, customer, publishOffer, useLocalServiceWith } from '../arm-resilience/helpers';

/** The value of one sample line `name{labels} value` of a Prometheus text (undefined when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+(\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return undefined;
}

/**
 * Issue 11, metrics: GET /metrics in the Prometheus text format for operators only, pool gauges from the
 * database (the same on every replica), start counters that match what the client saw, remote calls by
 * service / operation / outcome, time-to-ready, and the METRICS_PORT listener without auth.
 */
describeEachDb('metrics on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.1 }, { db });

  it('answers operators only: 401 without a token, 403 for a publisher, the text format with process metrics for an operator', async () => {
    const svc = local.svc;
    await svc.anonymous.get('/metrics').expect(401);
    await (await svc.as({ roles: [Role.Publisher] })).get('/metrics').expect(403);
    const r = await (await svc.as('operator')).get('/metrics').expect(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    expect(r.text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(r.text).toContain('# TYPE testdrive_session_starts_total counter');
    expect(r.text).toMatch(/# HELP testdrive_pool_instances /);
  });

  it('pool gauges follow the pool; a burst of starts counts hot and no_capacity as the client saw them; two replicas report the same pools', async () => {
    const svc = local.svc;
    const operator = await svc.as('operator');
    await publishOffer(svc, local.publisher, 'metered', [{ name: 'westeurope', hot: 2, cold: 0 }]);
    await svc.until(async () => (await capacity(svc, 'metered', 'westeurope')).hotReady === 2);
    const before = (await operator.get('/metrics').expect(200)).text;
    const pool = { offer: 'metered', region: 'westeurope' };
    expect(sample(before, 'testdrive_pool_hot_target', pool)).toBe(2);
    expect(sample(before, 'testdrive_pool_instances', { ...pool, kind: 'hot', state: 'ready' })).toBe(2);
    expect(sample(before, 'testdrive_pool_instances', { ...pool, kind: 'hot', state: 'assigned' })).toBe(0);
    expect(sample(before, 'testdrive_pool_cold_limit', pool)).toBe(0);
    expect(sample(before, 'testdrive_region_backoff_seconds', pool)).toBe(0);
    // The deployments went through the Azure SDK: counted by service, operation and outcome.
    expect(sample(before, 'testdrive_remote_requests_total', { service: 'arm', operation: 'PUT resourcegroups/deployments', outcome: 'success' })).toBeGreaterThanOrEqual(2);
    expect(sample(before, 'testdrive_remote_requests_total', { service: 'entra', outcome: 'success' })).toBeGreaterThanOrEqual(1);
    expect(before).toMatch(/testdrive_remote_request_duration_seconds_count\{service="arm",operation="PUT resourcegroups"\} \d+/);

    // The leader's observer starts counting from its first pass.
    const collector = svc.app.get(MetricsCollector);
    await collector.observeSessions(svc.clock.now());
    svc.clock.advance(1);

    const market = await svc.as('marketplace');
    const answers = await Promise.all(Array.from({ length: 5 }, () => market.post('/api/v1/offers/metered/sessions').send({ customer, region: 'westeurope' })));
    const hot = answers.filter((a) => a.status === 201 && a.body.instanceKind === 'hot').length;
    const refused = answers.filter((a) => a.status === 409 && a.body.error?.code === 'NoCapacity').length;
    expect(hot).toBe(2);
    expect(refused).toBe(3);

    svc.clock.advance(1);
    await collector.observeSessions(svc.clock.now());
    const after = (await operator.get('/metrics').expect(200)).text;
    const starts = { offer: 'metered', type: 'azure-resource-manager' };
    expect(sample(after, 'testdrive_session_starts_total', { ...starts, result: 'hot' })).toBe(hot);
    expect(sample(after, 'testdrive_session_starts_total', { ...starts, result: 'no_capacity' })).toBe(refused);
    expect(sample(after, 'testdrive_pool_instances', { ...pool, kind: 'hot', state: 'assigned' })).toBe(2);
    expect(sample(after, 'testdrive_sessions', { ...starts, state: 'ready' })).toBe(2);
    expect(sample(after, 'testdrive_session_time_to_ready_seconds_count', { type: 'azure-resource-manager', kind: 'hot' })).toBe(2);
    // Labels are bounded: never a session id, never an e-mail.
    for (const a of answers.filter((x) => x.status === 201)) expect(after).not.toContain(a.body.id);
    expect(after).not.toContain(customer.email);

    // A second replica on the same database reports the same pool gauges.
    const second: TestService = await startService(local.azure, { databaseUrl: svc.databaseUrl, clock: svc.clock });
    try {
      const other = (await (await second.as('operator')).get('/metrics').expect(200)).text;
      const pools = (t: string) => t.split('\n').filter((l) => /^testdrive_pool_\w+\{offer="metered"/.test(l)).sort();
      expect(pools(other)).toEqual(pools(after));
      expect(pools(other).length).toBeGreaterThan(10);
    } finally {
      await second.close();
    }
  });

  it('METRICS_PORT serves the same text without auth on a separate listener; other paths are 404', async () => {
    const port = await freePort();
    const svc = await startService(local.azure, { db: 'sqlite', env: { METRICS_PORT: String(port), HOST: '127.0.0.1' } });
    try {
      expect(svc.app.get(MetricsListener).port).toBe(port);
      const r = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(await r.text()).toContain('testdrive_session_starts_total');
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/offers`)).status).toBe(404);
    } finally {
      await svc.close();
    }
    // Closed with the app.
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });
});
