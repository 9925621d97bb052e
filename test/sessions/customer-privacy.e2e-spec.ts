import { Role } from '../../src/auth/roles';
import { useLocalService } from '../support/harness';
import { describeEachDb } from '../support/postgres';

const EMBED = 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11';
const person = (email: string) => ({ email, firstName: 'Grace', lastName: 'Hopper', country: 'US', phone: '+1 555 0100' });

/**
 * docs/leads.md: without consent, and for an .edu address, no personal data leaves the service. The lead
 * carried none, but the session views showed the offer's publisher the customer's name, e-mail and phone
 * (found by trying the product). The client that started the session and operators still see them.
 */
describeEachDb("a customer's contact details reach the publisher only when the lead may carry them, on %s", (db) => {
  const local = useLocalService({ service: { db } });

  it('publisher views show customer null without consent or for .edu; the starter and operators see it', async () => {
    const svc = local.svc;
    const pub = await svc.as({ roles: [Role.Publisher] });
    const market = await svc.as({ roles: [Role.Marketplace] });
    const ops = await svc.as({ roles: [Role.Operator] });
    await pub.put('/api/v1/offers/pbi-privacy').send({ alias: 'Privacy', testDrive: { type: 'power-bi', embedUrl: EMBED } }).expect(201);
    await pub.post('/api/v1/offers/pbi-privacy/publish').expect(200);

    const start = async (body: Record<string, unknown>) => (await market.post('/api/v1/offers/pbi-privacy/sessions').send(body).expect(201)).body as { id: string };
    const declined = await start({ customer: person('no@example.com'), consentToShare: false });
    const student = await start({ customer: person('stud@uni.EDU') });
    const shared = await start({ customer: person('yes@example.com') });

    for (const [s, visible] of [[declined, false], [student, false], [shared, true]] as const) {
      const forPublisher = (await pub.get(`/api/v1/sessions/${s.id}`).expect(200)).body;
      expect(forPublisher.customer).toEqual(visible ? expect.objectContaining({ email: 'yes@example.com' }) : null);
      expect((await market.get(`/api/v1/sessions/${s.id}`).expect(200)).body.customer).toMatchObject({ firstName: 'Grace', phone: '+1 555 0100' });
      expect((await ops.get(`/api/v1/sessions/${s.id}`).expect(200)).body.customer).toMatchObject({ firstName: 'Grace' });
    }
    const list = (await pub.get('/api/v1/offers/pbi-privacy/sessions?limit=10').expect(200)).body.value as Array<{ id: string; customer: unknown }>;
    expect(Object.fromEntries(list.map((s) => [s.id, s.customer !== null]))).toEqual({ [declined.id]: false, [student.id]: false, [shared.id]: true });
    expect(JSON.stringify(list)).not.toMatch(/no@example\.com|stud@uni/);
    const opsList = (await ops.get('/api/v1/offers/pbi-privacy/sessions?limit=10').expect(200)).body.value as Array<{ customer: unknown }>;
    expect(opsList.every((s) => s.customer !== null)).toBe(true);
  });
});
