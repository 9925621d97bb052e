jest.setTimeout(60_000);
import { ChangeWatch } from '../../src/scheduling/change-watch';
import { useLocalService } from '../support/harness';

/**
 * An API write wakes the reconcile loop (ChangeMarkMiddleware, docs/operations.md "something changed since the
 * task last ran"). The middleware's route is in path-to-regexp v8 syntax: `'*'` made Nest log a
 * LegacyRouteConverter warning on every start; this keeps the converted route doing its job.
 */
describe('the change mark of an API write', () => {
  const local = useLocalService();

  it('is set by a write and not by a read', async () => {
    const mark = jest.spyOn(local.svc.app.get(ChangeWatch), 'mark');
    await local.svc.http.get('/api/v1/offers').expect(200);
    await new Promise((r) => setTimeout(r, 20));
    expect(mark).not.toHaveBeenCalled();
    await local.svc.http.put('/api/v1/offers/bi-mark').send({ alias: 'Dashboard', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/reportEmbed?reportId=5b2a7c2e-6f1e-4b6a-9d43-2f0c8a1e9b11' } }).expect(201);
    await new Promise((r) => setTimeout(r, 20));
    expect(mark).toHaveBeenCalled();
  });
});
