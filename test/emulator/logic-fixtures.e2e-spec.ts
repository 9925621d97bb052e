jest.setTimeout(90_000);
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { control, fastPoll } from './helpers';
import { callUrl, localServer, waitForRun, latestRun, useLogicEmulator } from './logic-helpers';
import { ARM_FIXTURES, LOGIC_FIXTURES } from '../support/fixtures-dir';

const LOGIC = LOGIC_FIXTURES;
const ARM = ARM_FIXTURES;
const RG = 'rg-logic-fixtures';

/** Reads a fixture as JSON (tolerating a UTF-8 BOM, as ARM does). */
function fixture(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, ''));
}

/**
 * Logic Apps Standard workflow.json -> Consumption definition: declares the app-level parameters
 * used by the workflow as workflow parameters (values supplied by the test instead of app settings).
 */
function standardToConsumption(file: string, values: Record<string, string>): { definition: any; parameters: Record<string, { value: unknown }> } {
  const wf = fixture(file);
  const params = fixture(join(file, '..', 'parameters.json')) as Record<string, { type: string }>;
  const definition = { ...wf.definition, parameters: {} as Record<string, unknown> };
  const parameters: Record<string, { value: unknown }> = {};
  for (const [name, p] of Object.entries(params)) {
    definition.parameters[name] = { type: p.type };
    parameters[name] = { value: values[name] ?? `unset-${name}` };
  }
  definition.parameters.appsettings = { type: 'Object', defaultValue: {} };
  parameters.appsettings = { value: { 'ServiceTwo-DefaultAddressType': 'home' } };
  return { definition, parameters };
}

describe('emulator: Logic Apps fixtures (test/fixtures/logicapp and arm/logic-app-create)', () => {
  const emu = useLogicEmulator(RG);

  it('arm/logic-app-create deploys through DeploymentsClient and its Recurrence workflow runs (workflowTriggers.run) calling testUri', async () => {
    const srv = await localServer(() => ({ status: 200, body: 'status page' }));
    try {
      const template = fixture(join(ARM, 'logic-app-create/azuredeploy.json'));
      const d = await emu.dep.deployments.beginCreateOrUpdateAndWait(RG, 'logic-app-create', { properties: { mode: 'Incremental', template, parameters: { logicAppName: { value: 'la-create' }, testUri: { value: `${srv.url}/status/` } } } }, fastPoll);
      expect(d.properties?.provisioningState).toBe('Succeeded');
      const wf = await emu.logic.workflows.get(RG, 'la-create');
      expect(wf).toMatchObject({ state: 'Enabled', tags: { displayName: 'la-create' } });
      expect((wf.definition).triggers.recurrence).toMatchObject({ type: 'recurrence', recurrence: { frequency: 'Hour', interval: '1' } });
      // listCallbackUrl is for Request triggers only (like Azure)
      await expect(emu.logic.workflowTriggers.listCallbackUrl(RG, 'la-create', 'recurrence')).rejects.toMatchObject({ statusCode: 400 });
      await emu.logic.workflowTriggers.run(RG, 'la-create', 'recurrence');
      const run = await waitForRun(emu.logic, RG, 'la-create', (await latestRun(emu.logic, RG, 'la-create')).name);
      expect(run.status).toBe('Succeeded');
      expect(srv.requests.map((r) => [r.method, r.url])).toEqual([['GET', '/status/']]);
      const action = await emu.logic.workflowRunActions.get(RG, 'la-create', run.name, 'actionType');
      expect(action).toMatchObject({ status: 'Succeeded', code: 'OK' });
    } finally {
      await srv.close();
    }
  });

  it('mslearn-calculate-area deploys (listCallbackURL output) and answers the GET with relative path parameters', async () => {
    const template = fixture(join(LOGIC, 'mslearn-calculate-area/azuredeploy.json'));
    const bare = fixture(join(LOGIC, 'mslearn-calculate-area/azuredeploy.parameters.json')); // bare { name: { value } } form
    const d = await emu.dep.deployments.beginCreateOrUpdateAndWait(RG, 'calc-area', { properties: { mode: 'Incremental', template, parameters: bare } }, fastPoll);
    expect(d.properties?.provisioningState).toBe('Succeeded');
    const url = (d.properties?.outputs).logicAppUrl.value as string;
    expect(url).toContain('/triggers/manual/paths/invoke/{width}/{height}?');
    const cb = await emu.logic.workflowTriggers.listCallbackUrl(RG, 'myLogicApp', 'manual');
    expect(cb).toMatchObject({ method: 'GET', relativePath: '{width}/{height}', relativePathParameters: ['width', 'height'] });
    expect(cb.value).toBe(url); // the URL the deployment output gave still works after the workflow was stored
    const r = await callUrl(emu.h, url.replace('{width}', '3').replace('{height}', '4'), 'GET');
    expect(r.status).toBe(200);
    expect(r.text).toBe('Response from myLogicApp  Total area = 12');
    // wrong method for a GET trigger
    expect((await callUrl(emu.h, url.replace('{width}', '3').replace('{height}', '4'), 'POST', {})).status).toBe(405);
  });

  it('quickstart-logicapps-jobscheduler deploys (nested deployment redeploys TimerJob) and the timer jobs run until the count is reached', async () => {
    const template = fixture(join(LOGIC, 'quickstart-logicapps-jobscheduler/azuredeploy.json'));
    const d = await emu.dep.deployments.beginCreateOrUpdateAndWait(RG, 'jobscheduler', { properties: { mode: 'Incremental', template } }, fastPoll);
    expect(d.properties?.provisioningState).toBe('Succeeded');
    const timer = await emu.logic.workflows.get(RG, 'TimerJob');
    expect(Object.keys((timer.definition).actions)).toContain('Delay_until_nextExecutionTime'); // the nested redeploy won
    const url = (await emu.logic.workflowTriggers.listCallbackUrl(RG, 'CreateTimerJob', 'manual')).value!;
    const r = await callUrl(emu.h, url, 'POST', { jobRecurrence: { frequency: 'second', interval: 1, count: 2 }, timerjobid: 'job-1' });
    expect(r.status).toBe(201);
    expect(r.text).toMatch(/^Next execution time will be at \d{4}-\d\d-\d\dT/);
    expect(r.headers['x-ms-client-tracking-id']).toBe('job-1');
    // TimerJob waits 1 s, its Http job to an external host fails (loopback only), the catch path calls
    // CreateTimerJob again; the third CreateTimerJob run meets the count and ends Cancelled (409).
    const deadline = Date.now() + 30_000;
    let cancelled: any;
    while (!cancelled && Date.now() < deadline) {
      for await (const run of emu.logic.workflowRuns.list(RG, 'CreateTimerJob')) if (run.status === 'Cancelled') cancelled = run;
      if (!cancelled) await new Promise((x) => setTimeout(x, 200));
    }
    expect(cancelled).toBeDefined();
    const timerRuns: any[] = [];
    for await (const run of emu.logic.workflowRuns.list(RG, 'TimerJob')) timerRuns.push(run);
    expect(timerRuns.length).toBe(2);
    for (const t of timerRuns) expect((await waitForRun(emu.logic, RG, 'TimerJob', t.name)).status).toBe('Succeeded');
    const job = await emu.logic.workflowRunActions.get(RG, 'TimerJob', timerRuns[0].name, 'Job');
    expect(job.status).toBe('Failed');
    const hist = await control(emu.h, 'GET', `/_emulator/logic/runs?workflow=TimerJob`);
    const http = hist.body.value[0].actions.find((a: any) => a.name === 'HTTP');
    expect(http.error.code).toBe('UnsupportedByEmulator');
  });

  it('logicappunit-http-workflow (Standard) runs as a Consumption workflow: API key check, Http GET/PUT, ParseJson, nested If', async () => {
    const srv = await localServer((req) => {
      if (req.method === 'GET' && req.url === '/customers/54617') return { status: 200, body: { id: 54617, title: 'Mr', firstName: 'Peter', lastName: 'Smith', dateOfBirth: '1970-04-25', address: { line1: '8 High St', line2: null, line3: null, town: 'Bath', county: 'Somerset', postcode: 'BA1 5AQ', countryCode: 'UK', countryName: 'United Kingdom' } } };
      if (req.method === 'PUT' && req.url === '/membership/customers/54617') return { status: 200, body: {} };
      return { status: 404, body: { error: 'not found' } };
    });
    try {
      const { definition, parameters } = standardToConsumption(join(LOGIC, 'logicappunit-http-workflow/workflow.json'), {
        'ServiceOne-Url': srv.url,
        'ServiceTwo-Url': srv.url,
        'ServiceOne-Authentication-WebHook-APIKey': 'hook-key',
        'ServiceOne-Authentication-APIKey': 'one-key',
        'ServiceTwo-Authentication-APIKey': 'two-key',
      });
      await emu.logic.workflows.createOrUpdate(RG, 'http-workflow', { location: 'westeurope', definition, parameters });
      const url = (await emu.logic.workflowTriggers.listCallbackUrl(RG, 'http-workflow', 'manual')).value!;
      const body = { id: 'evt-1', correlationId: 'c-1', customerId: 54617, timestamp: '2024-01-01T10:00:00Z' };
      const ok = await callUrl(emu.h, url, 'POST', body, { 'x-api-key': 'hook-key' });
      expect(ok.status).toBe(200);
      expect(ok.text).toBe('Webhook processed successfully');
      const put = srv.requests.find((x) => x.method === 'PUT')!;
      expect(put.headers['x-api-key']).toBe('ApiKey two-key');
      expect(JSON.parse(put.body)).toMatchObject({ header: { correlationId: 'evt-1', dateUpdated: '2024-01-01T10:00:00Z' }, title: 'Mr', name: 'Peter Smith', addresses: [{ addressType: 'home', addressLine1: '8 High St', town: 'Bath', postalCode: 'BA1 5AQ' }] });
      const denied = await callUrl(emu.h, url, 'POST', body, { 'x-api-key': 'wrong' });
      expect(denied.status).toBe(401);
      expect(denied.text).toBe('Invalid/No authorization header passed');
      const missing = await callUrl(emu.h, url, 'POST', { ...body, customerId: 1 }, { 'x-api-key': 'hook-key' });
      expect(missing.status).toBe(404);
      expect(missing.text).toBe('Unable to get customer details: {"error":"not found"}');
    } finally {
      await srv.close();
    }
  });

  it('logicappunit-loop-workflow (Standard) runs: Until with Http inside, Foreach over the responses, array variables', async () => {
    let n = 0;
    const srv = await localServer((req) => ({ status: 200, body: { call: ++n, path: req.url } }));
    try {
      const { definition, parameters } = standardToConsumption(join(LOGIC, 'logicappunit-loop-workflow/workflow.json'), { 'ServiceOne-Url': srv.url, 'ServiceTwo-Url': srv.url });
      await emu.logic.workflows.createOrUpdate(RG, 'loop-workflow', { location: 'westeurope', definition, parameters });
      const url = (await emu.logic.workflowTriggers.listCallbackUrl(RG, 'loop-workflow', 'manual')).value!;
      const r = await callUrl(emu.h, url, 'POST', { numberOfIterations: 3 });
      expect(r.status).toBe(200);
      expect(r.json.loopCounter).toBe(3);
      expect(r.json.serviceOneResponses).toEqual([1, 2, 3].map((i) => ({ call: i, path: '/doSomethingInsideUntilLoop' })));
      expect(r.json.serviceTwoResponses.map((x: any) => x.path)).toEqual(['/doSomethingInsideForEachLoop', '/doSomethingInsideForEachLoop', '/doSomethingInsideForEachLoop']);
      expect(srv.requests.slice(0, 3).map((x) => JSON.parse(x.body))).toEqual([{ iterationNumber: 1 }, { iterationNumber: 2 }, { iterationNumber: 3 }]);
      expect(JSON.parse(srv.requests[3].body)).toEqual({ call: 1, path: '/doSomethingInsideUntilLoop' });
    } finally {
      await srv.close();
    }
  });

  it('templatecreator-complex-switch (ARM GET shape, BOM) runs: empty array succeeds; ApiManagement fails with UnsupportedByEmulator', async () => {
    const res = fixture(join(LOGIC, 'templatecreator-complex-switch/workflow.json'));
    await emu.logic.workflows.createOrUpdate(RG, res.name, { location: res.location, tags: res.tags, definition: res.properties.definition, parameters: res.properties.parameters });
    const url = (await emu.logic.workflowTriggers.listCallbackUrl(RG, res.name, 'request')).value!;
    const ok = await callUrl(emu.h, url, 'POST', { workorderno: 'W1', Report_actionCode: [] });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual([]);
    const bad = await callUrl(emu.h, url, 'POST', { workorderno: 'W1', Report_actionCode: ['A1'] });
    expect(bad.status).toBe(502);
    const run = await waitForRun(emu.logic, RG, res.name, bad.headers['x-ms-workflow-run-id'] as string);
    expect(run.status).toBe('Failed');
    expect(run.error).toMatchObject({ code: 'UnsupportedByEmulator', message: expect.stringContaining("Action type 'ApiManagement'") });
  });
});
