/**
 * Helpers to make the real Graph / Dataverse client libraries trust the emulator's CA *inside one process*
 * (tests). In a deployed service prefer `NODE_EXTRA_CA_CERTS=<dataDir>/ca.crt`, set before Node starts: it
 * covers global fetch (Graph client) and node:https (dynamics-web-api) alike.
 *
 * Why helpers are needed at all:
 * - @microsoft/microsoft-graph-client 3 calls the global `fetch(url, fetchOptions)`. Node's fetch (undici) has
 *   no `ca` option, but accepts a `dispatcher`; the undici package is not installed, so the helper builds an
 *   Agent from the class of Node's own global dispatcher.
 * - dynamics-web-api 2 (Node build) sends with `https.request` through its own `new https.Agent({keepAlive})`
 *   and has no TLS option at all; the only per-process hook is to make new https Agents default `ca`.
 */
import * as tls from 'node:tls';
import httpsModule from 'node:https';
import { runInThisContext } from 'node:vm';

const DISPATCHER_SYMBOL = Symbol.for('undici.globalDispatcher.1');

/**
 * Returns an undici dispatcher (an Agent of Node's bundled undici) that trusts the public roots plus `caPem`,
 * for `fetch(url, { dispatcher })` and the Graph client's `fetchOptions: { dispatcher }`.
 * Works on Node 18-22 (uses the class of Node's global dispatcher). Throws if Node has no undici fetch.
 */
export async function fetchDispatcherTrusting(caPem: string): Promise<unknown> {
  // Under Jest the test runs in a vm context whose globalThis is not the one Node's fetch registers its
  // dispatcher on; vm.runInThisContext reaches the main context's global.
  const globals = [globalThis, runInThisContext('globalThis') as typeof globalThis] as unknown as Array<Record<symbol, unknown>>;
  const find = (): { constructor: new (opts: unknown) => unknown } | undefined => globals.map((g) => g[DISPATCHER_SYMBOL]).find(Boolean) as never;
  if (!find()) await fetch('data:text/plain,init'); // makes Node install its global dispatcher
  const current = find();
  if (!current) throw new Error('global fetch has no undici dispatcher; set NODE_EXTRA_CA_CERTS instead');
  return new current.constructor({ connect: { ca: [...tls.rootCertificates, caPem] } });
}

/**
 * Makes every `https.Agent` created from now on in this process trust the public roots plus `caPem`
 * (unless the caller passes its own `ca`). Needed for dynamics-web-api, which creates its agent lazily on its
 * first request, so call this before that. Returns a function that restores the original class.
 */
export function trustCaInNewHttpsAgents(caPem: string): () => void {
  const mod = httpsModule as unknown as { Agent: typeof httpsModule.Agent };
  const Original = mod.Agent;
  const ca = [...tls.rootCertificates, caPem];
  class TrustingAgent extends Original {
    constructor(opts?: httpsModule.AgentOptions) {
      super({ ca, ...(opts ?? {}) });
    }
  }
  mod.Agent = TrustingAgent;
  return () => {
    if (mod.Agent === TrustingAgent) mod.Agent = Original;
  };
}
