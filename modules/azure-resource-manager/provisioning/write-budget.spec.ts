import type { PipelineRequest, PipelineResponse, SendRequest } from '@azure/core-rest-pipeline';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
import { ARM_WRITE_BUCKET, ArmWriteBudget, REMAINING_WRITES_HEADER, WRITE_RESERVE } from './write-budget';

const SUB = '00000000-0000-0000-0000-000000000001';

function budgetAt(t0 = 0): { budget: ArmWriteBudget; advance(ms: number): void } {
  let t = t0;
  const budget = new ArmWriteBudget();
  budget.now = () => t;
  return { budget, advance: (ms) => (t += ms) };
}

const answer = (status: number, remaining?: number): SendRequest => async (request: PipelineRequest): Promise<PipelineResponse> => ({
  request,
  status,
  headers: createHttpHeaders(remaining === undefined ? {} : { [REMAINING_WRITES_HEADER]: String(remaining) }),
});
const req = (method: string) => ({ method, url: `https://management.azure.com/subscriptions/${SUB}/x`, headers: createHttpHeaders() }) as unknown as PipelineRequest;

describe('ArmWriteBudget', () => {
  it('starts at ARM\'s bucket, spends one per write, refills at 10 per second up to the bucket', () => {
    const { budget, advance } = budgetAt();
    expect(budget.available(SUB)).toBe(ARM_WRITE_BUCKET);
    expect(budget.submitsAllowed(SUB)).toBe((ARM_WRITE_BUCKET - WRITE_RESERVE) / 2);
    budget.spend(SUB, 190);
    expect(budget.available(SUB)).toBe(10);
    expect(budget.submitsAllowed(SUB)).toBe(0); // the reserve is for what a customer waits for
    advance(2_000);
    expect(budget.available(SUB)).toBe(30);
    expect(budget.submitsAllowed(SUB)).toBe(5);
    advance(3_600_000);
    expect(budget.available(SUB)).toBe(ARM_WRITE_BUCKET);
  });

  it('believes ARM: the remaining-writes header sets the estimate, a 429 empties it; reads and deletes are not writes', async () => {
    const { budget } = budgetAt();
    const policy = budget.policy(SUB);
    await policy.sendRequest(req('GET'), answer(200));
    await policy.sendRequest(req('DELETE'), answer(202));
    expect(budget.available(SUB)).toBe(ARM_WRITE_BUCKET);
    await policy.sendRequest(req('PUT'), answer(201, 37));
    expect(budget.available(SUB)).toBe(37);
    await policy.sendRequest(req('PATCH'), answer(429));
    expect(budget.available(SUB)).toBe(0);
    await expect(policy.sendRequest(req('POST'), () => Promise.reject(Object.assign(new Error('throttled'), { statusCode: 429 })))).rejects.toThrow('throttled');
    expect(budget.available(SUB)).toBe(0);
  });

  it('counts writes still in flight against what ARM answered for an earlier one', async () => {
    const { budget } = budgetAt();
    const policy = budget.policy(SUB);
    let release!: () => void;
    const slow = policy.sendRequest(req('PUT'), (r) => new Promise((ok) => (release = () => ok({ request: r, status: 201, headers: createHttpHeaders({ [REMAINING_WRITES_HEADER]: '50' }) }))));
    await policy.sendRequest(req('PUT'), answer(201, 100)); // the other write is still out: 99
    expect(budget.available(SUB)).toBe(99);
    release();
    await slow;
    expect(budget.available(SUB)).toBe(50);
  });

  it('takes a larger bucket from ARM\'s word (the emulator with throttling off answers 999999)', async () => {
    const { budget, advance } = budgetAt();
    await budget.policy(SUB).sendRequest(req('PUT'), answer(201, 999_999));
    expect(budget.submitsAllowed(SUB)).toBe(Math.floor((999_999 - WRITE_RESERVE) / 2));
    budget.spend(SUB, 999_999);
    advance(1_000_000_000);
    expect(budget.available(SUB)).toBe(999_999);
  });
});
