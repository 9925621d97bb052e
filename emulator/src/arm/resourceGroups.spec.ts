import type { EmulatorState } from '../state';
import { MAX_FINISHED_DELETIONS, pruneFinishedOperations } from './resourceGroups';

describe('pruneFinishedOperations', () => {
  it('keeps every deletion in progress and the newest MAX_FINISHED_DELETIONS finished ones', () => {
    const ops: EmulatorState['operations'] = {};
    for (let i = 0; i < MAX_FINISHED_DELETIONS + 300; i++) {
      ops[`OP${i}`] = { id: `OP${i}`, kind: 'resourceGroupDelete', subscriptionId: 's', resourceGroupName: `rg${i}`, status: i % 100 === 0 ? 'InProgress' : 'Succeeded', createdAt: '' };
    }
    pruneFinishedOperations(ops);
    const left = Object.values(ops);
    expect(left.filter((o) => o.status !== 'InProgress')).toHaveLength(MAX_FINISHED_DELETIONS);
    expect(left.filter((o) => o.status === 'InProgress')).toHaveLength(13);
    expect(ops.OP0).toBeDefined();
    expect(ops.OP1).toBeUndefined();
    expect(ops[`OP${MAX_FINISHED_DELETIONS + 299}`]).toBeDefined();
  });

  it('keeps everything up to the limit', () => {
    const ops: EmulatorState['operations'] = {};
    for (let i = 0; i < 10; i++) ops[`OP${i}`] = { id: `OP${i}`, kind: 'resourceGroupDelete', subscriptionId: 's', resourceGroupName: `rg${i}`, status: 'Succeeded', createdAt: '' };
    pruneFinishedOperations(ops);
    expect(Object.keys(ops)).toHaveLength(10);
  });
});
