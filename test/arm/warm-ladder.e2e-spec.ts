import { ComputeManagementClient } from '@azure/arm-compute';
import { PoolInstanceRepository } from '../../modules/azure-resource-manager/pools/pool-instance.repository';
import { describeEachDb } from '../support/postgres';
import { vmPackageDir } from '../support/fixtures-dir';
import { capacity, customer, publishOffer, SAMPLE, useLocalServiceWith } from '../arm-resilience/helpers';
import { zipDirectory } from '../../src/common/zip-directory';

type View = { id: string; state: string; instanceKind: string | null; queuePosition: number | null; estimatedReadyAt: string | null };

/**
 * Issue 12, the whole ladder on one region with hot 1 / warm 1 / cold 1: hot (ready at once), warm (its
 * virtual machines started: ready after the emulated VM start), cold (ready after the deployment), then a
 * queued request (position 1, with an estimate) that starts on its own when the hot session ends. Warm
 * instances wait with their VMs deallocated; a template without VMs cannot have warm instances.
 */
describeEachDb('warm instances and the start ladder on %s', (db) => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.3, vmStartSeconds: 1, vmDeallocateSeconds: 0.2 }, { db });

  it('refuses warm instances for a template without virtual machines, naming the field', async () => {
    const svc = local.svc;
    await publishOffer(svc, local.publisher, 'warm-novm', [{ name: 'westeurope', hot: 0, cold: 1 }], { publish: false });
    const put = await svc.http.put('/api/v1/offers/warm-novm').send({
      alias: 'warm-novm',
      testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: [{ name: 'westeurope', hot: 0, warm: 1, cold: 0 }], accessInformation: '<p>{{siteUrl}}</p>' },
      deployment: { subscriptionId: local.publisher.subscriptionId, tenantId: local.publisher.tenantId, clientId: local.publisher.clientId },
    });
    expect(put.status).toBe(200);
    const pub = await svc.http.post('/api/v1/offers/warm-novm/publish').expect(409);
    expect(pub.body.error.details[0]).toMatchObject({ code: 'WarmNeedsVirtualMachines', target: 'testDrive.regions[0].warm' });
    // A new package without virtual machines is refused too while the offer asks for warm instances.
    const zip = await zipDirectory(SAMPLE, { exclude: ['README.md', 'access-information.html'] });
    const pkg = await svc.http.put('/api/v1/offers/warm-novm/package').set('content-type', 'application/zip').send(zip).expect(400);
    expect(pkg.body.error.details[0]).toMatchObject({ code: 'WarmNeedsVirtualMachines', target: 'testDrive.regions[0].warm' });
  });

  it('hot, then warm, then cold, then a queue: each ready in its own time; the queued one starts when the hot session ends', async () => {
    const svc = local.svc;
    const dir = vmPackageDir();
    await publishOffer(svc, local.publisher, 'ladder', [{ name: 'westeurope', hot: 1, warm: 1, cold: 1 }], { packageDir: dir, accessInformation: '<p>ssh {{adminUsername}}@{{hostname}}</p>' });
    // The warm instance waits deployed with its virtual machine deallocated.
    await svc.until(async () => {
      const c = (await capacity(svc, 'ladder', 'westeurope')) as unknown as Record<string, number>;
      return c.hotReady === 1 && c.warmReady === 1;
    }, 30_000);
    // The emulator's virtual machines, read with the Compute SDK as the publisher: the waiting warm one is deallocated.
    const rt = local.azure.runtime;
    const compute = new ComputeManagementClient(rt.credential(local.publisher.tenantId, local.publisher.clientId, local.publisher.clientSecret), local.publisher.subscriptionId, {
      ...rt.clientOptions,
      endpoint: rt.endpoints.resourceManagerEndpoint,
    });
    const powerOf = async (resourceGroup: string) => {
      const states: string[] = [];
      for await (const vm of compute.virtualMachines.list(resourceGroup)) {
        const iv = await compute.virtualMachines.instanceView(resourceGroup, vm.name!);
        states.push(iv.statuses?.find((x) => x.code?.startsWith('PowerState/'))?.code ?? '?');
      }
      return states;
    };
    const warmGroup = (await svc.app.get(PoolInstanceRepository).listLive('ladder')).find((i) => i.kind === 'warm')!.resourceGroupName;
    expect(await powerOf(warmGroup)).toEqual(['PowerState/deallocated']);
    const market = await svc.as('marketplace');
    const start = (extra: Record<string, unknown> = {}) => market.post('/api/v1/offers/ladder/sessions').send({ customer, region: 'westeurope', ...extra });
    const get = async (id: string) => (await market.get(`/api/v1/sessions/${id}`).expect(200)).body as View;

    const hot = await start().expect(201);
    expect(hot.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
    const warm = await start().expect(201);
    expect(warm.body).toMatchObject({ state: 'provisioning', instanceKind: 'warm' });
    expect(warm.body.estimatedReadyAt).not.toBeNull();
    const cold = await start().expect(201);
    expect(cold.body).toMatchObject({ state: 'provisioning', instanceKind: 'cold' });
    const queued = await start({ whenFull: 'queue' }).expect(202);
    expect(queued.body).toMatchObject({ state: 'queued', queuePosition: 1 });
    expect(queued.body.estimatedReadyAt).not.toBeNull();

    const warmReady = await svc.until(async () => {
      const v = await get(warm.body.id);
      return v.state === 'ready' ? v : null;
    }, 30_000);
    expect(warmReady.instanceKind).toBe('warm');
    expect(await powerOf(warmGroup)).toEqual(['PowerState/running']);
    await svc.until(async () => (await get(cold.body.id)).state === 'ready', 30_000);
    const c = (await capacity(svc, 'ladder', 'westeurope')) as unknown as Record<string, number>;
    expect(c.warmAssigned).toBe(1);

    await market.delete(`/api/v1/sessions/${hot.body.id}`).expect(202);
    const served = await svc.until(async () => {
      const v = await get(queued.body.id);
      return v.state === 'ready' || v.state === 'provisioning' ? v : null;
    }, 30_000);
    expect(['hot', 'warm', 'cold']).toContain(served.instanceKind);
    await svc.until(async () => (await get(queued.body.id)).state === 'ready', 30_000);
  });
});
