import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { LogicManagementClient } from '@azure/arm-logic';
import type { DeploymentsClient } from '@azure/arm-resourcesdeployments';
import type { EmulatorHandle, PublisherInfo } from '../../emulator/src';
import { armClients, credential, start, tlsOptions } from './helpers';

/** An emulator with a publisher, its resource group and real Logic / Deployments clients as the publisher. */
export interface LogicEmulator {
  readonly h: EmulatorHandle;
  readonly pub: PublisherInfo;
  readonly logic: LogicManagementClient;
  readonly dep: DeploymentsClient;
}

/**
 * The hooks of a describe block working on Logic Apps: beforeAll starts an emulator, makes a publisher
 * and its resource group `rg` (westeurope); afterAll closes the emulator. Read the fields in tests and hooks.
 */
export function useLogicEmulator(rg: string): LogicEmulator {
  let ready: LogicEmulator | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const started = await start();
    cleanup = started.cleanup;
    const { h } = started;
    const pub = await h.createPublisher();
    const arm = armClients(h, pub, pub.subscriptionId);
    await arm.rm.resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    ready = { h, pub, dep: arm.dep, logic: logicClient(h, pub, pub.subscriptionId) };
  });
  afterAll(async () => cleanup?.());
  const get = (): LogicEmulator => {
    if (!ready) throw new Error('useLogicEmulator: not started (read it inside a test or a hook)');
    return ready;
  };
  return {
    get h() {
      return get().h;
    },
    get pub() {
      return get().pub;
    },
    get logic() {
      return get().logic;
    },
    get dep() {
      return get().dep;
    },
  };
}

/** A real LogicManagementClient against the emulator (exactly how the service builds it). */
export function logicClient(h: EmulatorHandle, c: { tenantId: string; clientId: string; clientSecret: string }, subscriptionId: string): LogicManagementClient {
  return new LogicManagementClient(credential(h, c), subscriptionId, { endpoint: h.url, credentialScopes: ['https://management.azure.com/.default'], tlsOptions: tlsOptions(h) });
}

export interface CallResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

/** Calls a callback URL with node:https trusting the emulator CA (what the service does). */
export function callUrl(h: EmulatorHandle, url: string, method = 'POST', body?: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = request(url, { method, ca: h.caCertPem, headers: { ...(data ? { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', 'content-length': String(data.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** Follows an async Response: polls Location while it answers 202. */
export async function followLocation(h: EmulatorHandle, first: CallResult, intervalMs = 100, maxMs = 20_000): Promise<{ final: CallResult; polls: number }> {
  let r = first;
  let polls = 0;
  const until = Date.now() + maxMs;
  while (r.status === 202 && typeof r.headers.location === 'string' && Date.now() < until) {
    await new Promise((x) => setTimeout(x, intervalMs));
    r = await callUrl(h, r.headers.location, 'GET');
    polls++;
  }
  return { final: r, polls };
}

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local HTTP server (127.0.0.1) whose answers come from `route`; records every request. */
export async function localServer(route: (r: Recorded) => { status: number; body?: unknown; headers?: Record<string, string> }): Promise<{ url: string; requests: Recorded[]; close: () => Promise<void> }> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      const a = route(rec);
      const text = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status, { 'content-type': typeof a.body === 'string' ? 'text/plain' : 'application/json', ...(a.headers ?? {}) });
      res.end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

/** Polls workflowRuns.get until the run is no longer Running/Waiting. */
export async function waitForRun(client: LogicManagementClient, rg: string, wf: string, runName: string, maxMs = 20_000): Promise<any> {
  const until = Date.now() + maxMs;
  for (;;) {
    const run = await client.workflowRuns.get(rg, wf, runName);
    if (run.status !== 'Running' && run.status !== 'Waiting') return run;
    if (Date.now() > until) throw new Error(`run ${runName} still ${run.status}`);
    await new Promise((x) => setTimeout(x, 100));
  }
}

/** Latest run of a workflow (workflowRuns.list with top 1). */
export async function latestRun(client: LogicManagementClient, rg: string, wf: string): Promise<any> {
  for await (const r of client.workflowRuns.list(rg, wf, { top: 1 })) return r;
  return undefined;
}

/** A Logic Apps workflow definition skeleton (schema 2016-06-01). */
export function definition(actions: Record<string, unknown>, triggers: Record<string, unknown> = { manual: { type: 'Request', kind: 'Http', inputs: { schema: {} } } }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    $schema: 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#',
    contentVersion: '1.0.0.0',
    parameters: {},
    triggers,
    actions,
    outputs: {},
    ...extra,
  };
}
