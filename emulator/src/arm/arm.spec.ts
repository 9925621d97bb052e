import { emptyState, type EmulatorState, type ResourceGroup, type StateStore, type Subscription } from '../state';
import { ArmService, type ArmDeps } from './arm';

/** An ARM engine over `state` with only what refresh() and resource group deletions use. */
function engine(state: EmulatorState): ArmService {
  const store = { changed: jest.fn() } as unknown as StateStore;
  return new ArmService({ state, store, log: () => undefined } as unknown as ArmDeps);
}

function rg(name: string, deletionAtMs?: number): ResourceGroup {
  return {
    name,
    location: 'westus',
    tags: {},
    provisioningState: deletionAtMs === undefined ? 'Succeeded' : 'Deleting',
    createdAt: new Date(0).toISOString(),
    deployments: {},
    resources: [],
    ...(deletionAtMs === undefined ? {} : { deletion: { operationId: `op-${name}`, completesAtMs: deletionAtMs } }),
  };
}

describe('ArmService.refresh: a subscription is scanned only when something in it is due', () => {
  const T0 = 1_800_000_000_000;
  let state: EmulatorState;
  let sub: Subscription;
  let arm: ArmService;

  beforeEach(() => {
    jest.useFakeTimers({ now: T0 });
    state = emptyState(1);
    sub = { id: 'SUB-1', tenantId: 't', displayName: 's', roleAssignments: [], resourceGroups: {} };
    for (let i = 0; i < 50; i++) sub.resourceGroups[`rg${i}`] = rg(`rg${i}`);
    state.subscriptions[sub.id.toLowerCase()] = sub;
    arm = engine(state);
  });

  afterEach(() => {
    arm.close();
    jest.useRealTimers();
  });

  it('does not walk the resource groups again while nothing is due', () => {
    const advance = jest.spyOn(arm, 'advanceRg');
    arm.refresh(sub);
    expect(advance).toHaveBeenCalledTimes(50);
    arm.refresh(sub);
    jest.setSystemTime(T0 + 60_000);
    arm.refresh(sub);
    expect(advance).toHaveBeenCalledTimes(50);
  });

  it('finishes work scheduled for the subscription once it is due, even when its timer has not fired', () => {
    arm.refresh(sub);
    // A deletion begun after the scan (as resourceGroups.ts does it): the timer is late (fake timers never run here).
    sub.resourceGroups.rg7 = rg('rg7', T0 + 500);
    state.operations['op-rg7'] = { id: 'op-rg7', kind: 'resourceGroupDelete', subscriptionId: sub.id, resourceGroupName: 'rg7', status: 'InProgress', createdAt: new Date(T0).toISOString() };
    arm.schedule(T0 + 500, () => arm.advanceRg(sub, sub.resourceGroups.rg7), sub);
    jest.setSystemTime(T0 + 499);
    arm.refresh(sub);
    expect(sub.resourceGroups.rg7).toBeDefined();
    jest.setSystemTime(T0 + 500);
    arm.refresh(sub);
    expect(sub.resourceGroups.rg7).toBeUndefined();
    expect(state.operations['op-rg7'].status).toBe('Succeeded');
  });

  it('scans a subscription it has not seen, and keeps the earliest due time of what it found', () => {
    sub.resourceGroups.rg3 = rg('rg3', T0 + 2_000);
    sub.resourceGroups.rg4 = rg('rg4', T0 + 1_000);
    arm.refresh(sub);
    const advance = jest.spyOn(arm, 'advanceRg');
    jest.setSystemTime(T0 + 999);
    arm.refresh(sub);
    expect(advance).not.toHaveBeenCalled();
    jest.setSystemTime(T0 + 1_000);
    arm.refresh(sub);
    expect(sub.resourceGroups.rg4).toBeUndefined();
    expect(sub.resourceGroups.rg3).toBeDefined();
    advance.mockClear();
    jest.setSystemTime(T0 + 1_500);
    arm.refresh(sub);
    expect(advance).not.toHaveBeenCalled();
    jest.setSystemTime(T0 + 2_000);
    arm.refresh(sub);
    expect(sub.resourceGroups.rg3).toBeUndefined();
  });
});
