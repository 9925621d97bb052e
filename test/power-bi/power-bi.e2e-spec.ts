jest.setTimeout(120_000);
import { useLocalService } from '../support/harness';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };
const EMBED = 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11&autoAuth=true&ctid=72f988bf-86f1-41af-91ab-2d7cd011db47';

/** Acceptance of issue 5 (Power BI): ready at once with the embed link; non-Power-BI URLs refused; sessions end by expiry. */
describe('Power BI test drive', () => {
  const local = useLocalService();

  it('a session is ready at once with the embed link, has no capacity limit, and ends by expiry', async () => {
    const put = await local.svc.http.put('/api/v1/offers/contoso-bi').send({ alias: 'Contoso sales dashboard', testDrive: { type: 'power-bi', embedUrl: EMBED } });
    expect(put.status).toBe(201);
    expect(put.body.testDrive).toMatchObject({ type: 'power-bi', embedUrl: EMBED, durationHours: 1, accessInformation: expect.stringContaining('{{embedUrl}}') });
    expect(put.body.deployment.clientSecretSet).toBe(false);
    await local.svc.http.post('/api/v1/offers/contoso-bi/publish').expect(200);

    const sessions = [];
    for (let i = 0; i < 4; i++) sessions.push((await local.svc.http.post('/api/v1/offers/contoso-bi/sessions').send({ customer }).expect(201)).body);
    for (const s of sessions) {
      expect(s).toMatchObject({ state: 'ready', type: 'power-bi', region: null, outputs: { embedUrl: EMBED }, customer });
      // Issue 8: values are HTML-escaped (& -> &amp;) and target=_blank links get rel="noopener noreferrer".
      const html = EMBED.replace(/&/g, '&amp;');
      expect(s.accessInformation).toBe(`<p>Open the dashboard: <a href="${html}" target="_blank" rel="noopener noreferrer">${html}</a></p>`);
      expect(Date.parse(s.expiresAt) - Date.parse(s.readyAt)).toBe(3600 * 1000);
    }
    const cap = (await local.svc.http.get('/api/v1/capacity?offerId=contoso-bi').expect(200)).body.value[0];
    expect(cap).toMatchObject({ type: 'power-bi', region: null, assigned: 4, unlimited: true });

    // early end
    const ended = await local.svc.http.delete(`/api/v1/sessions/${sessions[0].id}`).expect(202);
    expect(ended.body).toMatchObject({ state: 'ended', endReason: 'ended' });
    // expiry
    local.svc.clock.advance(3600 * 1000 + 1);
    await local.svc.reconcile.reconcileOnce();
    for (const s of sessions.slice(1)) {
      const r = await local.svc.http.get(`/api/v1/sessions/${s.id}`).expect(200);
      expect(r.body).toMatchObject({ state: 'ended', endReason: 'expired', outputs: null, accessInformation: null });
    }
  });

  it('uses the publisher\'s access information and duration, and accepts sovereign-cloud hosts', async () => {
    const gov = 'https://app.high.powerbigov.us/view?r=eyJrIjoiYWJjIn0';
    await local.svc.http
      .put('/api/v1/offers/contoso-bi-gov')
      .send({ alias: 'Gov dashboard', testDrive: { type: 'power-bi', embedUrl: gov, durationHours: 3, accessInformation: '<iframe src="{{embedUrl}}"></iframe>' } })
      .expect(201);
    await local.svc.http.post('/api/v1/offers/contoso-bi-gov/publish').expect(200);
    const s = (await local.svc.http.post('/api/v1/offers/contoso-bi-gov/sessions').send({ customer }).expect(201)).body;
    expect(s.accessInformation).toBe(`<iframe src="${gov}"></iframe>`);
    expect(s.durationHours).toBe(3);
  });

  it.each([
    ['https://evil.example.com/reportEmbed?reportId=1', "host 'evil.example.com' is not a Power BI host"],
    ['http://app.powerbi.com/reportEmbed?reportId=1', 'must use https'],
    ['https://app.powerbi.com.evil.io/x', 'is not a Power BI host'],
    ['not a url', 'absolute https URL'],
  ])('refuses %s naming testDrive.embedUrl and the accepted hosts', async (url, why) => {
    const r = await local.svc.http.put('/api/v1/offers/bad-bi').send({ alias: 'x', testDrive: { type: 'power-bi', embedUrl: url } }).expect(400);
    expect(r.body.error.details).toEqual([expect.objectContaining({ target: 'testDrive.embedUrl', message: expect.stringContaining(why) })]);
    if (!url.startsWith('http://') && url.includes('://')) {
      for (const h of ['app.powerbi.com', 'app.powerbigov.us', 'app.high.powerbigov.us', 'app.mil.powerbigov.us', 'app.powerbi.cn']) expect(r.body.error.details[0].message).toContain(h);
    }
  });

  it('refuses deployment details, a region, and a fractional duration', async () => {
    const r = await local.svc.http.put('/api/v1/offers/bad-bi').send({ alias: 'x', testDrive: { type: 'power-bi', embedUrl: EMBED, durationHours: 1.5 }, deployment: { tenantId: 'x' } }).expect(400);
    expect(r.body.error.details.map((d: { target: string }) => d.target).sort()).toEqual(['deployment', 'testDrive.durationHours']);
    const s = await local.svc.http.post('/api/v1/offers/contoso-bi-gov/sessions').send({ customer, region: 'westeurope' }).expect(400);
    expect(s.body.error.details[0]).toMatchObject({ code: 'RegionNotOffered', target: 'region' });
  });
});
