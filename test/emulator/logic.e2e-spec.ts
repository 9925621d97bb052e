jest.setTimeout(60_000);
import { control, fastPoll } from './helpers';
import { callUrl, followLocation, localServer, waitForRun, latestRun, definition, useLogicEmulator } from './logic-helpers';

const RG = 'rg-logic';

function decodeJwt(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

describe('emulator: Logic Apps through the real LogicManagementClient', () => {
  const emu = useLogicEmulator(RG);

  async function putWorkflow(name: string, def: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<void> {
    await emu.logic.workflows.createOrUpdate(RG, name, { location: 'westeurope', definition: def, ...extra });
  }

  async function callbackUrl(wf: string, trigger = 'manual'): Promise<string> {
    const cb = await emu.logic.workflowTriggers.listCallbackUrl(RG, wf, trigger);
    return cb.value!;
  }

  it('deploys a workflow through DeploymentsClient and answers synchronously through the signed callback URL', async () => {
    const template = {
      $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
      contentVersion: '1.0.0.0',
      parameters: { greeting: { type: 'string', defaultValue: 'Hello' } },
      resources: [
        {
          type: 'Microsoft.Logic/workflows',
          apiVersion: '2019-05-01',
          name: 'wf-sync',
          location: "[resourceGroup().location]",
          properties: {
            state: 'Enabled',
            definition: definition(
              {
                Compose: { type: 'Compose', runAfter: {}, inputs: { greeting: "@{parameters('greeting')}, @{triggerBody()?['name']}!", upper: "@toUpper(triggerBody()?['name'])", count: "@length(triggerBody()?['items'])" } },
                Response: { type: 'Response', kind: 'Http', runAfter: { Compose: ['Succeeded'] }, inputs: { statusCode: 200, headers: { 'x-custom': "@{workflow().name}" }, body: "@outputs('Compose')" } },
              },
              undefined,
              { parameters: { greeting: { type: 'String', defaultValue: 'Hi' } }, outputs: { seen: { type: 'String', value: "@triggerBody()?['name']" } } },
            ),
            parameters: { greeting: { value: "[parameters('greeting')]" } },
          },
        },
      ],
    };
    await emu.dep.deployments.beginCreateOrUpdateAndWait(RG, 'd-logic-sync', { properties: { mode: 'Incremental', template } }, fastPoll);

    const wf = await emu.logic.workflows.get(RG, 'wf-sync');
    expect(wf).toMatchObject({ name: 'wf-sync', type: 'Microsoft.Logic/workflows', location: 'westeurope', state: 'Enabled', provisioningState: 'Succeeded' });
    expect((wf.definition).triggers.manual.type).toBe('Request');
    expect(wf.accessEndpoint).toMatch(new RegExp(`^${emu.h.url}/logicapps/workflows/[0-9a-f]{32}$`));
    expect(wf.version).toMatch(/^\d{20}$/);

    const cb = await emu.logic.workflowTriggers.listCallbackUrl(RG, 'wf-sync', 'manual');
    expect(cb).toMatchObject({ method: 'POST', queries: { apiVersion: '2016-10-01', sp: '/triggers/manual/run', sv: '1.0' } });
    expect(cb.queries!.sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cb.value).toBe(`${cb.basePath}?api-version=2016-10-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=${cb.queries!.sig}`);

    const r = await callUrl(emu.h, cb.value!, 'POST', { name: 'Ada', items: [1, 2, 3] });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ greeting: 'Hello, Ada!', upper: 'ADA', count: 3 });
    expect(r.headers['x-custom']).toBe('wf-sync');
    const runId = r.headers['x-ms-workflow-run-id'] as string;
    expect(runId).toMatch(/^08584\d+CU\d\d$/);
    expect(r.headers['x-ms-correlation-id']).toBeTruthy();
    expect(r.headers['x-ms-workflow-name']).toBe('wf-sync');
    expect(r.headers['x-ms-tracking-id']).toBeTruthy();

    const run = await waitForRun(emu.logic, RG, 'wf-sync', runId);
    expect(run).toMatchObject({ name: runId, status: 'Succeeded', outputs: { seen: { type: 'String', value: 'Ada' } } });
    expect(run.trigger).toMatchObject({ name: 'manual', status: 'Succeeded' });
    expect(run.startTime).toBeInstanceOf(Date);
    expect(run.endTime).toBeInstanceOf(Date);
    const names: string[] = [];
    for await (const x of emu.logic.workflowRuns.list(RG, 'wf-sync')) names.push(x.name!);
    expect(names).toContain(runId);
    const actions: any[] = [];
    for await (const a of emu.logic.workflowRunActions.list(RG, 'wf-sync', runId)) actions.push(a);
    expect(actions.map((a) => [a.name, a.status]).sort()).toEqual([['Compose', 'Succeeded'], ['Response', 'Succeeded']]);
    const compose = actions.find((a) => a.name === 'Compose');
    expect(compose.outputsLink.uri).toContain('/contents/ActionOutputs');
    expect((await callUrl(emu.h, compose.outputsLink.uri, 'GET')).json).toEqual({ greeting: 'Hello, Ada!', upper: 'ADA', count: 3 });
    const one = await emu.logic.workflowRunActions.get(RG, 'wf-sync', runId, 'Response');
    expect(one.status).toBe('Succeeded');

    const all: string[] = [];
    for await (const w of emu.logic.workflows.listBySubscription()) all.push(w.name!);
    for await (const w of emu.logic.workflows.listByResourceGroup(RG)) expect(all).toContain(w.name);
    expect(all).toContain('wf-sync');
    // trigger list/get
    const triggers: any[] = [];
    for await (const t of emu.logic.workflowTriggers.list(RG, 'wf-sync')) triggers.push(t);
    expect(triggers.map((t) => t.name)).toEqual(['manual']);

    // control API run history
    const hist = await control(emu.h, 'GET', `/_emulator/logic/runs?subscriptionId=${emu.pub.subscriptionId}&resourceGroup=${RG}&workflow=wf-sync`);
    expect(hist.status).toBe(200);
    expect(hist.body.value[0]).toMatchObject({ workflow: 'wf-sync', status: 'Succeeded', response: { statusCode: 200 } });
  });

  it('refuses a wrong or missing signature with 401 and never runs the workflow', async () => {
    const url = await callbackUrl('wf-sync');
    const bad = url.replace(/sig=[^&]+/, 'sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    const r1 = await callUrl(emu.h, bad, 'POST', { name: 'x' });
    expect(r1.status).toBe(401);
    expect(r1.json.error.code).toBe('DirectApiInvalidAuthorizationSignature');
    const r2 = await callUrl(emu.h, url.replace(/&sig=[^&]+/, ''), 'POST', { name: 'x' });
    expect(r2.status).toBe(401);
    expect(r2.json.error).toMatchObject({ code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated only by Shared Access scheme.' });
    expect(r1.headers['x-ms-workflow-run-id']).toBeUndefined();
  });

  it('answers 202 + Location for an asynchronous Response and the final answer once it ran', async () => {
    await putWorkflow(
      'wf-async',
      definition({
        Wait: { type: 'Wait', runAfter: {}, inputs: { interval: { count: 1, unit: 'Second' } } },
        Response: { type: 'Response', kind: 'Http', operationOptions: 'Asynchronous', runAfter: { Wait: ['Succeeded'] }, inputs: { statusCode: 201, body: { done: true, id: "@guid()" } } },
      }),
    );
    const first = await callUrl(emu.h, await callbackUrl('wf-async'), 'POST', {});
    expect(first.status).toBe(202);
    expect(first.headers.location).toContain('/logicapps/workflows/');
    expect(first.headers['x-ms-workflow-run-id']).toBeTruthy();
    const { final, polls } = await followLocation(emu.h, first);
    expect(polls).toBeGreaterThan(1);
    expect(final.status).toBe(201);
    expect(final.json.done).toBe(true);
    const run = await waitForRun(emu.logic, RG, 'wf-async', first.headers['x-ms-workflow-run-id'] as string);
    expect(run.status).toBe('Succeeded');
  });

  it('answers 202 at once when the workflow has no Response; the run completes', async () => {
    await putWorkflow('wf-noresp', definition({ Init: { type: 'InitializeVariable', runAfter: {}, inputs: { variables: [{ name: 'v', type: 'integer', value: 1 }] } } }));
    const r = await callUrl(emu.h, await callbackUrl('wf-noresp'), 'POST', {});
    expect(r.status).toBe(202);
    expect(r.text).toBe('');
    const run = await waitForRun(emu.logic, RG, 'wf-noresp', r.headers['x-ms-workflow-run-id'] as string);
    expect(run.status).toBe('Succeeded');
  });

  it('refuses calls to a disabled workflow (409) and accepts them again once enabled', async () => {
    const url = await callbackUrl('wf-sync');
    await emu.logic.workflows.disable(RG, 'wf-sync');
    expect((await emu.logic.workflows.get(RG, 'wf-sync')).state).toBe('Disabled');
    const r = await callUrl(emu.h, url, 'POST', { name: 'x', items: [] });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('WorkflowDisabled');
    await emu.logic.workflows.enable(RG, 'wf-sync');
    expect((await callUrl(emu.h, url, 'POST', { name: 'x', items: [] })).status).toBe(200);
  });

  it('runs Http actions against a local server (managed identity) and the emulator ARM API (ActiveDirectoryOAuth), with variables, Foreach, If and Scope', async () => {
    const srv = await localServer((req) => (req.url.startsWith('/items') ? { status: 200, body: [{ id: 1, price: 5 }, { id: 2, price: 7 }] } : { status: 200, body: { echo: req.body ? JSON.parse(req.body) : null } }));
    try {
      await putWorkflow(
        'wf-http',
        definition(
          {
            Init_total: { type: 'InitializeVariable', runAfter: {}, inputs: { variables: [{ name: 'total', type: 'integer', value: 0 }] } },
            Init_log: { type: 'InitializeVariable', runAfter: { Init_total: ['Succeeded'] }, inputs: { variables: [{ name: 'log', type: 'array' }] } },
            Get_items: { type: 'Http', runAfter: { Init_log: ['Succeeded'] }, inputs: { method: 'GET', uri: "@{parameters('serviceUrl')}/items", authentication: { type: 'ManagedServiceIdentity', audience: 'https://management.azure.com/' } } },
            For_each: {
              type: 'Foreach',
              foreach: "@body('Get_items')",
              runAfter: { Get_items: ['Succeeded'] },
              actions: {
                Add: { type: 'IncrementVariable', inputs: { name: 'total', value: "@items('For_each')['price']" } },
                Note: { type: 'AppendToArrayVariable', runAfter: { Add: ['Succeeded'] }, inputs: { name: 'log', value: "@concat('item-', string(item()['id']))" } },
              },
            },
            Check: {
              type: 'If',
              runAfter: { For_each: ['Succeeded'] },
              expression: { and: [{ greater: ["@variables('total')", 10] }] },
              actions: { Set_big: { type: 'Compose', inputs: 'big' } },
              else: { actions: { Set_small: { type: 'Compose', inputs: 'small' } } },
            },
            Call_arm: {
              type: 'Scope',
              runAfter: { Check: ['Succeeded'] },
              actions: {
                Get_rg: {
                  type: 'Http',
                  inputs: {
                    method: 'GET',
                    uri: "@{parameters('armUrl')}/subscriptions/@{parameters('sub')}/resourceGroups/@{parameters('rg')}",
                    queries: { 'api-version': '2021-04-01' },
                    authentication: { type: 'ActiveDirectoryOAuth', tenant: "@parameters('tenant')", audience: 'https://management.azure.com/', clientId: "@parameters('clientId')", secret: "@parameters('secret')" },
                  },
                },
              },
            },
            Post_back: { type: 'Http', runAfter: { Call_arm: ['Succeeded'] }, inputs: { method: 'POST', uri: "@{parameters('serviceUrl')}/result", body: { total: "@variables('total')", log: "@variables('log')", rgLocation: "@body('Get_rg')?['location']" } } },
            Response: { type: 'Response', runAfter: { Post_back: ['Succeeded'] }, inputs: { statusCode: 200, body: { total: "@variables('total')", size: "@if(equals(actions('Set_big')?['status'], 'Succeeded'), 'big', 'small')", rg: "@body('Get_rg')['name']", echo: "@body('Post_back')['echo']['log']" } } },
          },
          undefined,
          { parameters: { serviceUrl: { type: 'String' }, armUrl: { type: 'String' }, sub: { type: 'String' }, rg: { type: 'String' }, tenant: { type: 'String' }, clientId: { type: 'String' }, secret: { type: 'SecureString' } } },
        ),
        {
          identity: { type: 'SystemAssigned' },
          parameters: { serviceUrl: { value: srv.url }, armUrl: { value: emu.h.url }, sub: { value: emu.pub.subscriptionId }, rg: { value: RG }, tenant: { value: emu.pub.tenantId }, clientId: { value: emu.pub.clientId }, secret: { value: emu.pub.clientSecret } },
        },
      );
      const wf = await emu.logic.workflows.get(RG, 'wf-http');
      expect(wf.identity?.type).toBe('SystemAssigned');
      expect(wf.identity?.principalId).toBeTruthy();
      expect((wf.parameters as any).secret.value).toBeUndefined(); // secure parameter values are not returned
      const r = await callUrl(emu.h, await callbackUrl('wf-http'), 'POST', {});
      expect(r.status).toBe(200);
      expect(r.json).toEqual({ total: 12, size: 'big', rg: RG, echo: ['item-1', 'item-2'] });
      // the managed identity token the local service received
      const auth = String(srv.requests[0].headers.authorization);
      expect(auth).toMatch(/^Bearer /);
      expect(decodeJwt(auth.slice(7))).toMatchObject({ aud: 'https://management.azure.com/', oid: wf.identity!.principalId, tid: emu.pub.tenantId, idtyp: 'app' });
      expect(JSON.parse(srv.requests[1].body)).toEqual({ total: 12, log: ['item-1', 'item-2'], rgLocation: 'westeurope' });
      // secrets never appear in the run history
      const hist = await control(emu.h, 'GET', `/_emulator/logic/runs?workflow=wf-http`);
      expect(JSON.stringify(hist.body)).not.toContain(emu.pub.clientSecret);
      expect(JSON.stringify(hist.body)).not.toContain(auth.slice(7));
    } finally {
      await srv.close();
    }
  });

  it('Http actions reach the emulator Microsoft Graph with a token from the emulator token endpoint', async () => {
    await putWorkflow(
      'wf-graph',
      definition(
        {
          List_users: {
            type: 'Http',
            runAfter: {},
            inputs: { method: 'GET', uri: "@{parameters('base')}/graph/v1.0/users", queries: { $top: '5' }, authentication: { type: 'ActiveDirectoryOAuth', tenant: "@parameters('tenant')", audience: 'https://graph.microsoft.com', clientId: "@parameters('clientId')", secret: "@parameters('secret')" } },
          },
          Response: { type: 'Response', runAfter: { List_users: ['Succeeded', 'Failed'] }, inputs: { statusCode: 200, body: { status: "@outputs('List_users')['statusCode']", isArray: "@contains(string(body('List_users')), 'value')" } } },
        },
        undefined,
        { parameters: { base: { type: 'String' }, tenant: { type: 'String' }, clientId: { type: 'String' }, secret: { type: 'SecureString' } } },
      ),
      { parameters: { base: { value: emu.h.url }, tenant: { value: emu.pub.tenantId }, clientId: { value: emu.pub.clientId }, secret: { value: emu.pub.clientSecret } } },
    );
    const r = await callUrl(emu.h, await callbackUrl('wf-graph'), 'POST', {});
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 200, isArray: true });
  });

  it('Terminate ends the run Failed with its error', async () => {
    await putWorkflow(
      'wf-terminate',
      definition({
        Stop: { type: 'Terminate', runAfter: {}, inputs: { runStatus: 'Failed', runError: { code: 'BadInput', message: "Missing @{triggerBody()?['field']}" } } },
        Never: { type: 'Compose', runAfter: { Stop: ['Succeeded'] }, inputs: 'x' },
      }),
    );
    const r = await callUrl(emu.h, await callbackUrl('wf-terminate'), 'POST', { field: 'name' });
    expect(r.status).toBe(202);
    const run = await waitForRun(emu.logic, RG, 'wf-terminate', r.headers['x-ms-workflow-run-id'] as string);
    expect(run.status).toBe('Failed');
    expect(run.error).toEqual({ code: 'BadInput', message: 'Missing name' });
  });

  it('an unsupported action fails the run with UnsupportedByEmulator (sync caller gets 502 NoResponse)', async () => {
    await putWorkflow(
      'wf-unsupported',
      definition({
        Call_function: { type: 'Function', runAfter: {}, inputs: { function: { id: '/subscriptions/x/functions/y' } } },
        Response: { type: 'Response', runAfter: { Call_function: ['Succeeded'] }, inputs: { statusCode: 200 } },
      }),
    );
    const r = await callUrl(emu.h, await callbackUrl('wf-unsupported'), 'POST', {});
    expect(r.status).toBe(502);
    expect(r.json.error.code).toBe('NoResponse');
    const run = await waitForRun(emu.logic, RG, 'wf-unsupported', r.headers['x-ms-workflow-run-id'] as string);
    expect(run.status).toBe('Failed');
    expect(run.error.code).toBe('UnsupportedByEmulator');
    expect(run.error.message).toContain("Action type 'Function' is not supported by the local emulator");
  });

  it('runAfter Failed handles an error (catch scope) and the run succeeds; Until and Switch work', async () => {
    await putWorkflow(
      'wf-catch',
      definition({
        Init: { type: 'InitializeVariable', runAfter: {}, inputs: { variables: [{ name: 'n', type: 'integer', value: 0 }, { name: 's', type: 'string', value: '' }] } },
        Loop: { type: 'Until', runAfter: { Init: ['Succeeded'] }, expression: "@greaterOrEquals(variables('n'), 3)", limit: { count: 10, timeout: 'PT1M' }, actions: { Inc: { type: 'IncrementVariable', inputs: { name: 'n' } }, App: { type: 'AppendToStringVariable', runAfter: { Inc: ['Succeeded'] }, inputs: { name: 's', value: "@{variables('n')}" } } } },
        Try: { type: 'Scope', runAfter: { Loop: ['Succeeded'] }, actions: { Boom: { type: 'Compose', inputs: "@div(1, 0)" } } },
        Catch: { type: 'Scope', runAfter: { Try: ['Failed', 'TimedOut'] }, actions: { Err: { type: 'Compose', inputs: "@result('Try')[0]['status']" } } },
        Pick: { type: 'Switch', runAfter: { Catch: ['Succeeded'] }, expression: "@variables('s')", cases: { A: { case: '123', actions: { Matched: { type: 'Compose', inputs: 'yes' } } } }, default: { actions: { NotMatched: { type: 'Compose', inputs: 'no' } } } },
        Response: { type: 'Response', runAfter: { Pick: ['Succeeded'] }, inputs: { statusCode: 200, body: { s: "@variables('s')", err: "@outputs('Err')", matched: "@outputs('Matched')" } } },
      }),
    );
    const r = await callUrl(emu.h, await callbackUrl('wf-catch'), 'POST', {});
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ s: '123', err: 'Failed', matched: 'yes' });
    const run = await waitForRun(emu.logic, RG, 'wf-catch', r.headers['x-ms-workflow-run-id'] as string);
    expect(run.status).toBe('Succeeded');
    const boom = await emu.logic.workflowRunActions.get(RG, 'wf-catch', run.name, 'Boom');
    expect(boom.status).toBe('Failed');
    expect((boom.error).code).toBe('InvalidTemplate');
    const skipped = await emu.logic.workflowRunActions.get(RG, 'wf-catch', run.name, 'NotMatched');
    expect(skipped.status).toBe('Skipped');
  });

  it('workflowTriggers.run starts a run; cancel stops a running one; unknown workflow/run are 404', async () => {
    await putWorkflow('wf-wait', definition({ Wait: { type: 'Wait', runAfter: {}, inputs: { interval: { count: 30, unit: 'Second' } } } }));
    await emu.logic.workflowTriggers.run(RG, 'wf-wait', 'manual');
    const run = await latestRun(emu.logic, RG, 'wf-wait');
    expect(run.status).toBe('Running');
    await emu.logic.workflowRuns.cancel(RG, 'wf-wait', run.name);
    expect((await emu.logic.workflowRuns.get(RG, 'wf-wait', run.name)).status).toBe('Cancelled');
    await expect(emu.logic.workflows.get(RG, 'nope')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
    await expect(emu.logic.workflowRuns.get(RG, 'wf-wait', '0858000')).rejects.toMatchObject({ statusCode: 404, code: 'WorkflowRunNotFound' });
  });

  it('recreating a workflow invalidates old callback URLs; the sync timeout answers 504', async () => {
    await putWorkflow('wf-recreate', definition({ Response: { type: 'Response', runAfter: {}, inputs: { statusCode: 200, body: 'ok' } } }));
    const oldUrl = await callbackUrl('wf-recreate');
    expect((await callUrl(emu.h, oldUrl, 'POST', {})).text).toBe('ok');
    await emu.logic.workflows.delete(RG, 'wf-recreate');
    await putWorkflow('wf-recreate', definition({ Response: { type: 'Response', runAfter: {}, inputs: { statusCode: 200, body: 'ok' } } }));
    expect([401, 404]).toContain((await callUrl(emu.h, oldUrl, 'POST', {})).status);
    expect((await callUrl(emu.h, await callbackUrl('wf-recreate'), 'POST', {})).status).toBe(200);

    await control(emu.h, 'PUT', '/_emulator/logic/settings', { syncResponseTimeoutSeconds: 0.5 });
    try {
      await putWorkflow('wf-slow', definition({ Wait: { type: 'Wait', runAfter: {}, inputs: { interval: { count: 2, unit: 'Second' } } }, Response: { type: 'Response', runAfter: { Wait: ['Succeeded'] }, inputs: { statusCode: 200 } } }));
      const r = await callUrl(emu.h, await callbackUrl('wf-slow'), 'POST', {});
      expect(r.status).toBe(504);
      expect(r.json.error.code).toBe('GatewayTimeout');
    } finally {
      await control(emu.h, 'PUT', '/_emulator/logic/settings', { syncResponseTimeoutSeconds: 120 });
    }
  });
});
