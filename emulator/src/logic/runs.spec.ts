import type { Ctx } from '../http';
import type { EmulatorState, StoredResource } from '../state';
import { CallbackEndpoint } from './callback';
import { WorkflowError } from './engine/errors';
import { splitOnWithResponse } from './engine/split';
import { locateByName, type Located } from './model';
import { WorkflowRuns, type StoredRun } from './runs';
import { CallbackSigner } from './sas';
import { DEFAULT_LOGIC_SETTINGS, type LogicDeps } from './service';

const SUB = '00000000-0000-0000-0000-000000000001';

function workflow(name: string, definition: Record<string, unknown>): StoredResource {
  return { id: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Logic/workflows/${name}`, type: 'Microsoft.Logic/workflows', name, location: 'westeurope', resourceGroupName: 'rg', subscriptionId: SUB, properties: { definition, createdTime: '2024-01-01T00:00:00Z', version: '1' } };
}

function setup(workflows: StoredResource[]): { runs: WorkflowRuns; state: EmulatorState; deps: LogicDeps; signer: CallbackSigner; loc: (n: string) => Located } {
  const state = { subscriptions: { [SUB]: { id: SUB, resourceGroups: { rg: { name: 'rg', location: 'westeurope', resources: workflows, provisioningState: 'Succeeded' } } } } } as unknown as EmulatorState;
  const store = { changed: () => undefined } as unknown as LogicDeps['store'];
  const deps = { state, store, keys: {} as LogicDeps['keys'], caCertPem: '', selfUrl: () => 'https://localhost:8443', log: () => undefined } as LogicDeps;
  const signer = new CallbackSigner(state, store);
  const runs = new WorkflowRuns(deps, { ...DEFAULT_LOGIC_SETTINGS, syncResponseTimeoutSeconds: 5 }, signer);
  return { runs, state, deps, signer, loc: (n) => locateByName(state, SUB, 'rg', n)! };
}

const request = { manual: { type: 'Request', kind: 'Http' } };
const child = workflow('child', { triggers: request, actions: { Res: { type: 'Response', inputs: { statusCode: 201, headers: { 'x-child': 'yes' }, body: { got: "@triggerBody()?['n']", h: "@triggerOutputs()['headers']?['x-from']" } } } } });
const fireAndForget = workflow('async-child', { triggers: request, actions: { C: { type: 'Compose', inputs: 1 } } });
const batches = workflow('batches', { triggers: { manual: { type: 'Request', kind: 'Http', splitOn: "@triggerBody()?['value']" } }, actions: { C: { type: 'Compose', inputs: "@triggerBody()?['id']" } } });

function caller(id: string): StoredResource {
  return workflow('parent', { triggers: request, actions: { Call: { type: 'Workflow', inputs: { host: { workflow: { id }, triggerName: 'manual' }, body: { n: 7 }, headers: { 'x-from': 'parent' } } } } });
}

async function callFrom(id: string): Promise<StoredRun> {
  const { runs, loc } = setup([caller(id), child, fireAndForget, batches]);
  const s = runs.start(loc('parent'), 'manual', { headers: {}, body: null }, 'c1', 0);
  await s.run.done;
  return s;
}

describe('Workflow action (nested workflows)', () => {
  it('addresses a workflow of the same app by name (Standard form): waits for its Response, outputs like an Http action', async () => {
    const s = await callFrom('child');
    expect(s.run.status).toBe('Succeeded');
    const a = s.run.actions.get('Call')!;
    expect(a).toMatchObject({ status: 'Succeeded', code: 'Created' });
    expect(a.outputs).toMatchObject({ statusCode: 201, headers: { 'x-child': 'yes', 'x-ms-workflow-name': 'child' }, body: { got: 7, h: 'parent' } });
  });

  it('accepts the Consumption full resource id and the Standard site workflow id', async () => {
    expect((await callFrom(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Logic/workflows/child`)).run.actions.get('Call')!.outputs).toMatchObject({ statusCode: 201 });
    expect((await callFrom(`/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app/workflows/CHILD`)).run.actions.get('Call')!.outputs).toMatchObject({ statusCode: 201 });
  });

  it('answers 202 for a callee without Response', async () => {
    const s = await callFrom('async-child');
    expect(s.run.actions.get('Call')!.outputs).toMatchObject({ statusCode: 202, body: null });
  });

  it('a missing workflow fails the action with WorkflowNotFound', async () => {
    for (const id of ['nope', `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Logic/workflows/nope`, 'a/b']) {
      const s = await callFrom(id);
      expect(s.run.status).toBe('Failed');
      expect(s.run.actions.get('Call')).toMatchObject({ status: 'Failed', error: { code: 'WorkflowNotFound' } });
    }
  });

  it('a debatching callee (splitOn) answers 202 with the runs it started', async () => {
    const { runs, loc } = setup([workflow('parent', { triggers: request, actions: { Call: { type: 'Workflow', inputs: { host: { workflow: { id: 'batches' }, triggerName: 'manual' }, body: { value: [{ id: 1 }, { id: 2 }] } } } } }), batches]);
    const s = runs.start(loc('parent'), 'manual', { headers: {}, body: null }, 'c1', 0);
    await s.run.done;
    const out = s.run.actions.get('Call')!.outputs as { statusCode: number; body: { runs: Array<{ name: string }> } };
    expect(out.statusCode).toBe(202);
    expect(out.body.runs).toHaveLength(2);
    expect(runs.list(loc('batches').r)).toHaveLength(2);
  });
});

describe('splitOn (debatching)', () => {
  it('starts one run per array item, each with the item as triggerBody(); an empty array starts none', async () => {
    const { runs, loc } = setup([batches]);
    const fired = runs.fire(loc('batches'), 'manual', { headers: { 'x-a': '1' }, body: { value: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] } }, 'c1', 0);
    expect(fired.split).toBe(true);
    await Promise.all(fired.runs.map((r) => r.run.done));
    expect(fired.runs.map((r) => r.run.actions.get('C')!.outputs)).toEqual(['a', 'b', 'c']);
    expect(fired.runs[0].run.trigger.outputs).toEqual({ headers: { 'x-a': '1' }, body: { id: 'a' } });
    expect(runs.fire(loc('batches'), 'manual', { headers: {}, body: { value: [] } }, 'c2', 0)).toEqual({ runs: [], split: true });
  });

  it('fails with InvalidTemplate (and starts nothing) when splitOn does not yield an array', () => {
    const { runs, loc } = setup([batches]);
    for (const body of [{ value: 'x' }, {}]) {
      const err = (() => {
        try {
          runs.fire(loc('batches'), 'manual', { headers: {}, body }, 'c1', 0);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(WorkflowError);
      expect((err as WorkflowError).code).toBe('InvalidTemplate');
    }
    expect(runs.list(loc('batches').r)).toHaveLength(0);
  });

  it('without splitOn a trigger starts exactly one run', () => {
    const { runs, loc } = setup([fireAndForget]);
    expect(runs.fire(loc('async-child'), 'manual', { headers: {}, body: [1, 2] }, 'c1', 0)).toMatchObject({ split: false, runs: [expect.anything()] });
  });

  it('a workflow with a splitOn trigger and a Response action is refused at save time', () => {
    expect(splitOnWithResponse({ triggers: { t: { type: 'Request', splitOn: '@triggerBody()' } }, actions: { S: { type: 'Scope', actions: { R: { type: 'Response', inputs: {} } } } } })).toEqual({ trigger: 't', action: 'R' });
    expect(splitOnWithResponse({ triggers: { t: { type: 'Request' } }, actions: { R: { type: 'Response' } } })).toBeUndefined();
  });

  it('the Request trigger callback answers 202 with the list of run ids', async () => {
    const { runs, deps, signer, loc } = setup([batches]);
    const endpoint = new CallbackEndpoint(deps, DEFAULT_LOGIC_SETTINGS, signer, runs);
    const r = loc('batches').r;
    const url = new URL(String(signer.callbackInfo('https://localhost:8443', r, 'manual', { type: 'Request' }).value));
    const sent: { status?: number; headers: Record<string, string>; body?: string } = { headers: {} };
    const res = {
      headersSent: false,
      writableEnded: false,
      statusCode: 0,
      setHeader: (k: string, v: string) => (sent.headers[k.toLowerCase()] = v),
      end(b?: Buffer) {
        sent.status = this.statusCode;
        sent.body = b?.toString('utf8');
      },
    };
    const ctx = {
      req: { headers: { 'content-type': 'application/json' } },
      res,
      method: 'POST',
      path: url.pathname,
      segments: url.pathname.split('/').filter(Boolean).map(decodeURIComponent),
      query: url.searchParams,
      body: Buffer.from(JSON.stringify({ value: [{ id: 1 }, { id: 2 }] })),
      requestId: 'req1',
      correlationId: 'corr1',
      baseUrl: 'https://localhost:8443',
    } as unknown as Ctx;
    await endpoint.handle(ctx);
    expect(sent.status).toBe(202);
    const body = JSON.parse(sent.body!) as { runs: Array<{ id: string; name: string }> };
    const started = runs.list(r).map((s) => s.run.name);
    expect(body.runs.map((x) => x.name).sort()).toEqual([...started].sort());
    expect(body.runs).toHaveLength(2);
    expect(body.runs[0].id).toBe(`${r.id}/runs/${body.runs[0].name}`);
  });
});
