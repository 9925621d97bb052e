import { Role } from '../../src/auth/roles';
import { useLocalService } from '../support/harness';

/** Issue 3: rate limiting per client with 429 + Retry-After and the API's error body. */
describe('rate limit per client', () => {
  const local = useLocalService({ service: { env: { RATE_LIMIT_PER_MINUTE: '5' } } });

  beforeAll(async () => {
  });

  it('answers 429 with Retry-After past the limit, per client (tenant + client id), across routes', async () => {
    const a = await local.svc.as({ roles: [Role.Operator] });
    const b = await local.svc.as({ roles: [Role.Operator] });
    for (let i = 0; i < 3; i++) await a.get('/api/v1/offers').expect(200);
    await a.get('/api/v1/capacity').expect(200);
    await a.get('/api/v1/audit').expect(200);
    const r = await a.get('/api/v1/offers');
    expect(r.status).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(r.body).toEqual({ error: { code: 'TooManyRequests', message: expect.stringMatching(/at most 5 per minute.*Retry-After/) } });
    await b.get('/api/v1/offers').expect(200); // another client has its own budget
    await local.svc.anonymous.get('/health/live').expect(200); // health is not limited
  });

  it('limits unauthenticated callers per IP too (429 before 401)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await local.svc.anonymous.get('/api/v1/offers')).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
  });
});
