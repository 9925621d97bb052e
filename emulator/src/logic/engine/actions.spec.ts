import { actionHandler, ACTION_HANDLERS } from './actions';
import { WorkflowRun, type RunServices } from './runner';

const services: RunServices = {
  http: async () => ({ statusCode: 200, headers: {}, body: null }),
  invokeWorkflow: async () => ({ statusCode: 202, headers: {}, body: null }),
  callbackUrl: (t) => `https://localhost/cb/${t}`,
  maxWaitMs: 1000,
};

async function run(actions: Record<string, unknown>): Promise<WorkflowRun> {
  const r = new WorkflowRun(
    {
      workflow: { id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Logic/workflows/wf', name: 'wf', type: 'Microsoft.Logic/workflows' },
      definition: { triggers: { manual: { type: 'Request' } }, actions },
      parameters: {},
      triggerName: 'manual',
      triggerOutputs: { headers: {}, body: {} },
      runName: 'run1',
      correlationId: 'c1',
    },
    services,
  );
  await r.done;
  return r;
}

describe('action handler table', () => {
  it('has a handler for every action type the README lists, looked up case-insensitively', () => {
    const documented = ['Compose', 'InitializeVariable', 'SetVariable', 'IncrementVariable', 'DecrementVariable', 'AppendToArrayVariable', 'AppendToStringVariable', 'If', 'Switch', 'Scope', 'Foreach', 'Until', 'Terminate', 'Response', 'Http', 'Workflow', 'Wait', 'ParseJson', 'Select', 'Query', 'Join'];
    for (const t of documented) expect(actionHandler(t)).toBe(ACTION_HANDLERS[t.toLowerCase()]);
    expect(Object.keys(ACTION_HANDLERS).sort()).toEqual(documented.map((t) => t.toLowerCase()).sort());
  });

  it.each(['ApiConnection', 'constructor', 'toString', ''])("fails the action and the run with UnsupportedByEmulator naming type '%s'", async (type) => {
    const r = await run({ A: { type, inputs: {} } });
    expect(r.status).toBe('Failed');
    expect(r.error).toEqual({ code: 'UnsupportedByEmulator', message: `Action type '${type || '(none)'}' is not supported by the local emulator (action 'A').` });
    expect(r.actions.get('A')).toMatchObject({ status: 'Failed', code: 'UnsupportedByEmulator' });
  });

  it('If and Switch skip the branches they do not take; a second Response fails', async () => {
    const r = await run({
      If: { type: 'if', expression: '@equals(1, 2)', actions: { Yes: { type: 'Compose', inputs: 1 } }, else: { actions: { No: { type: 'Compose', inputs: 2 } } } },
      Sw: { type: 'Switch', runAfter: { If: ['Succeeded'] }, expression: 'b', cases: { a: { case: 'a', actions: { A: { type: 'Compose', inputs: 'a' } } }, b: { case: 'b', actions: { B: { type: 'Compose', inputs: 'b' } } } }, default: { actions: { D: { type: 'Compose', inputs: 'd' } } } },
      R1: { type: 'Response', runAfter: { Sw: ['Succeeded'] }, inputs: { statusCode: 200 } },
      R2: { type: 'Response', runAfter: { R1: ['Succeeded'] }, inputs: { statusCode: 201 } },
    });
    expect(['Yes', 'No', 'A', 'B', 'D'].map((n) => r.actions.get(n)!.status)).toEqual(['Skipped', 'Succeeded', 'Skipped', 'Succeeded', 'Skipped']);
    expect(r.responseSent).toMatchObject({ statusCode: 200 });
    expect(r.actions.get('R2')!.error!.code).toBe('ActionResponseSkipped');
  });

  it('Terminate ends the run with its runError; the Terminate action itself Succeeded', async () => {
    const r = await run({ T: { type: 'Terminate', inputs: { runStatus: 'Failed', runError: { code: 'Mine', message: 'stop' } } }, Next: { type: 'Compose', runAfter: { T: ['Succeeded'] }, inputs: 1 } });
    expect(r.status).toBe('Failed');
    expect(r.error).toEqual({ code: 'Mine', message: 'stop' });
    expect(r.actions.get('T')).toMatchObject({ status: 'Succeeded', code: 'OK' });
    expect(r.actions.has('Next')).toBe(false);
  });
});
