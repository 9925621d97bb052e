import { WorkflowRun, responseMode, type RunServices } from './runner';

const services: RunServices = {
  http: async () => ({ statusCode: 200, headers: {}, body: null }),
  invokeWorkflow: async () => ({ statusCode: 202, headers: {}, body: null }),
  callbackUrl: (t) => `https://localhost/cb/${t}`,
  maxWaitMs: 1000,
};

function run(actions: Record<string, unknown>, body: unknown = {}, extra: Record<string, unknown> = {}): WorkflowRun {
  return new WorkflowRun(
    {
      workflow: { id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Logic/workflows/wf', name: 'wf', type: 'Microsoft.Logic/workflows' },
      definition: { triggers: { manual: { type: 'Request' } }, actions, ...extra },
      parameters: {},
      triggerName: 'manual',
      triggerOutputs: { headers: {}, body },
      runName: 'run1',
      correlationId: 'c1',
    },
    services,
  );
}

describe('WorkflowRun', () => {
  it('Select, Query (Filter array), Join, ParseJson, trigger(), result()', async () => {
    const r = run(
      {
        Parse: { type: 'ParseJson', inputs: { content: "@triggerBody()?['raw']", schema: {} } },
        Sel: { type: 'Select', runAfter: { Parse: ['Succeeded'] }, inputs: { from: "@body('Parse')", select: { n: "@item()['name']", big: "@greater(item()['v'], 1)" } } },
        Filter: { type: 'Query', runAfter: { Sel: ['Succeeded'] }, inputs: { from: "@body('Sel')", where: "@item()['big']" } },
        Joined: { type: 'Join', runAfter: { Filter: ['Succeeded'] }, inputs: { from: "@createArray('a','b')", joinWith: '|' } },
        Scope: { type: 'Scope', runAfter: { Joined: ['Succeeded'] }, actions: { Inner: { type: 'Compose', inputs: "@trigger()['name']" } } },
        Res: { type: 'Response', runAfter: { Scope: ['Succeeded'] }, inputs: { statusCode: 200, body: { filtered: "@body('Filter')", joined: "@body('Joined')", inner: "@result('Scope')[0]['outputs']", url: '@listCallbackUrl()' } } },
      },
      { raw: JSON.stringify([{ name: 'x', v: 1 }, { name: 'y', v: 2 }]) },
    );
    const resp = await r.waitForResponse();
    await r.done;
    expect(r.status).toBe('Succeeded');
    expect(resp!.body).toEqual({ filtered: [{ n: 'y', big: true }], joined: 'a|b', inner: 'manual', url: 'https://localhost/cb/manual' });
    expect(responseMode({ actions: { Res: { type: 'Response' } } })).toBe('sync');
    expect(responseMode({ actions: { S: { type: 'Scope', actions: { Res: { type: 'Response', operationOptions: 'Asynchronous' } } } } })).toBe('async');
    expect(responseMode({ actions: {} })).toBe('none');
  });

  it('an unhandled failure fails the run with ActionFailed; skipped successors are Skipped', async () => {
    const r = run({ Bad: { type: 'Compose', inputs: "@int('x')" }, After: { type: 'Compose', runAfter: { Bad: ['Succeeded'] }, inputs: 1 } });
    await r.done;
    expect(r.status).toBe('Failed');
    expect(r.error).toEqual({ code: 'ActionFailed', message: 'An action failed. No dependent actions succeeded.' });
    expect(r.actions.get('Bad')!.error!.code).toBe('InvalidTemplate');
    expect(r.actions.get('After')!.status).toBe('Skipped');
  });

  it('Terminate Cancelled, variables type checks, unsupported functions, runAfter on unknown action', async () => {
    const t = run({ Stop: { type: 'Terminate', inputs: { runStatus: 'Cancelled' } } });
    await t.done;
    expect(t.status).toBe('Cancelled');
    const v = run({ Init: { type: 'InitializeVariable', inputs: { variables: [{ name: 'i', type: 'integer', value: 'text' }] } } });
    await v.done;
    expect(v.status).toBe('Failed');
    expect(v.actions.get('Init')!.error!.message).toContain("cannot be initialized or updated with a value of type 'String'");
    const u = run({ X: { type: 'Compose', inputs: "@xpath(triggerBody(), '/a')" } });
    await u.done;
    expect(u.error!.code).toBe('UnsupportedByEmulator');
    const bad = run({ A: { type: 'Compose', inputs: 1, runAfter: { Ghost: ['Succeeded'] } } });
    await bad.done;
    expect(bad.status).toBe('Failed');
    expect(bad.error!.code).toBe('InvalidTemplate');
  });

  it('Wait longer than the limit fails clearly; Foreach runs each item in order; iteration caps apply', async () => {
    const w = run({ W: { type: 'Wait', inputs: { interval: { count: 5, unit: 'Minute' } } } });
    await w.done;
    expect(w.error!.code).toBe('UnsupportedByEmulator');
    const f = run({
      Init: { type: 'InitializeVariable', inputs: { variables: [{ name: 'acc', type: 'array' }] } },
      Loop: { type: 'Foreach', runAfter: { Init: ['Succeeded'] }, foreach: '@range(0, 4)', actions: { Add: { type: 'AppendToArrayVariable', inputs: { name: 'acc', value: "@mul(item(), iterationIndexes('Loop'))" } } } },
      Big: { type: 'Foreach', runAfter: { Loop: ['Succeeded'] }, foreach: '@range(0, 6000)', actions: {} },
    });
    await f.done;
    expect(f.variables.get('acc')!.value).toEqual([0, 1, 4, 9]);
    expect(f.actions.get('Big')!.error!.code).toBe('IterationLimitExceeded');
  });
});
