import { ManualClock } from '../../../src/common/clock';
import type { AppConfig } from '../../../src/config/app-config';
import type { DataProtector } from '../../../src/azure/data-protector';
import type { OfferEntity } from '../../../src/offers/offer.entity';
import type { OfferCredentials } from '../../../src/offers/offer-credentials';
import type { SessionsRepository } from '../../../src/sessions/sessions.repository';
import type { ArmGateway, DeploymentStatus } from '../arm-gateway';
import type { PackageService } from '../packages/package.service';
import type { PoolInstanceEntity } from '../pools/pool-instance.entity';
import type { PoolInstanceRepository } from '../pools/pool-instance.repository';
import { ArmInstanceDriver } from './arm-instance.driver';

/**
 * The warm start's last step (state `starting`, every VM running): which outputs the session gets. The
 * Azure side is a stand-in here on purpose: ARM may answer a template without outputs with no
 * `properties.outputs` at all, which the emulator (always `{}`) does not reproduce.
 */
describe('ArmInstanceDriver: a claimed warm instance whose virtual machines run', () => {
  const STORED = 'v1:lost-key-version:unreadable';
  const offer = { id: 'o1' } as OfferEntity;
  const inst = { id: 'i1', state: 'starting', kind: 'warm', offerId: 'o1', region: 'westeurope', subscriptionId: 'sub', resourceGroupName: 'CloudTry_x', deploymentName: 'd', sessionId: 's1', outputsEnc: STORED, nextActionAt: null } as unknown as PoolInstanceEntity;

  function driver(deployment: DeploymentStatus | null) {
    const marked: string[] = [];
    const pool = { markAssignedAndSessionReady: async (_i: PoolInstanceEntity, outputsEnc: string) => (marked.push(outputsEnc), true), transition: async () => true } as unknown as PoolInstanceRepository;
    const client = { listVirtualMachines: async () => [{ name: 'vm1', power: 'running' }], getDeployment: async () => deployment };
    const arm = { forSubscription: () => client } as unknown as ArmGateway;
    const credentials = { credentialFor: async () => ({}) } as unknown as OfferCredentials;
    const protector = { encrypt: async (v: unknown) => `enc:${JSON.stringify(v)}` } as unknown as DataProtector;
    const config = { testDriveHourSeconds: 3600 } as AppConfig;
    const d = new ArmInstanceDriver(pool, {} as SessionsRepository, credentials, arm, {} as PackageService, protector, new ManualClock(1_000_000), config);
    return { d, marked };
  }

  it("gives the session the deployment's outputs, encrypted with the current key", async () => {
    const { d, marked } = driver({ provisioningState: 'Succeeded', outputs: { hostname: { type: 'String', value: 'vm.example' } } });
    await d.step(offer, inst);
    expect(marked).toEqual(['enc:{"hostname":{"type":"String","value":"vm.example"}}']);
  });

  it('a deployment without outputs gives {} under the current key, not the stored copy (which a lost data key leaves unreadable)', async () => {
    const { d, marked } = driver({ provisioningState: 'Succeeded' });
    await d.step(offer, inst);
    expect(marked).toEqual(['enc:{}']);
  });

  it('only a deployment that is gone falls back to the stored outputs', async () => {
    const { d, marked } = driver(null);
    await d.step(offer, inst);
    expect(marked).toEqual([STORED]);
  });
});
