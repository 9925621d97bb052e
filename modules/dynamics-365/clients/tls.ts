/**
 * Trusting an extra CA (AzureRuntime.endpoints.extraCaPem: the local emulator's CA, or a private cloud's)
 * for the two HTTP stacks the Dynamics 365 clients use. In a deployed service NODE_EXTRA_CA_CERTS does the
 * same for both; these helpers make it work in-process (tests, the embedded default).
 * - fetch (Microsoft Graph client, F&O and Business Central calls): Node's fetch is undici, which has no
 *   `ca` option but takes a `dispatcher`; the undici package is not a dependency, so the Agent is built
 *   from the class of Node's own global dispatcher.
 * - node:https (dynamics-web-api 2): it creates its own `https.Agent` lazily and has no TLS option; the
 *   only hook is to make new https Agents default to the extra CA.
 */
import type { LookupFunction } from 'node:net';
import * as tls from 'node:tls';
import httpsModule from 'node:https';
import { runInThisContext } from 'node:vm';

const DISPATCHER_SYMBOL = Symbol.for('undici.globalDispatcher.1');

/**
 * An undici dispatcher trusting the public roots plus `caPem`, for `fetch(url, { dispatcher })`.
 * @throws Error when Node's fetch has no undici dispatcher (then set NODE_EXTRA_CA_CERTS instead).
 */
export async function fetchDispatcherTrusting(caPem: string): Promise<unknown> {
  return fetchDispatcherWith({ caPem });
}

/**
 * An undici dispatcher for `fetch(url, { dispatcher })` whose connections trust the public roots plus
 * `caPem` (when given) and resolve host names with `lookup` (when given; e.g. the outbound URL rule's
 * guardedLookup, which refuses to connect to non-public addresses: src/security/outbound-url.ts).
 * @throws Error when Node's fetch has no undici dispatcher.
 */
export async function fetchDispatcherWith(opts: { caPem?: string; lookup?: LookupFunction }): Promise<unknown> {
  // Under Jest code runs in a vm context whose globalThis is not the one Node's fetch registers on.
  const globals = [globalThis, runInThisContext('globalThis') as typeof globalThis] as unknown as Array<Record<symbol, unknown>>;
  const find = (): { constructor: new (opts: unknown) => unknown } | undefined => globals.map((g) => g[DISPATCHER_SYMBOL]).find(Boolean) as never;
  if (!find()) await fetch('data:text/plain,init');
  const current = find();
  if (!current) throw new Error('global fetch has no undici dispatcher; set NODE_EXTRA_CA_CERTS instead');
  return new current.constructor({ connect: { ...(opts.caPem ? { ca: [...tls.rootCertificates, opts.caPem] } : {}), ...(opts.lookup ? { lookup: opts.lookup } : {}) } });
}

const trusted = new Map<string, number>();
/**
 * The CA list every patched Agent uses, mutated in place: dynamics-web-api keeps the Agent it made for
 * the life of the process, and TLS reads `ca` on each new connection, so a CA registered later (a new
 * emulator in the same process) is trusted by that Agent too.
 */
const liveCa: string[] = [...tls.rootCertificates];
let original: typeof httpsModule.Agent | undefined;

function refreshLiveCa(): void {
  liveCa.length = 0;
  liveCa.push(...tls.rootCertificates, ...trusted.keys());
}

/**
 * Makes https Agents created from now on (that do not pass their own `ca`) trust the public roots plus
 * every CA registered here (also CAs registered after the Agent was made). Reference counted: the
 * returned function unregisters `caPem`, and the original Agent class is restored when none is left.
 * Call before dynamics-web-api's first request.
 */
export function trustCaInNewHttpsAgents(caPem: string): () => void {
  const mod = httpsModule as unknown as { Agent: typeof httpsModule.Agent };
  trusted.set(caPem, (trusted.get(caPem) ?? 0) + 1);
  refreshLiveCa();
  if (!original) {
    const Original = mod.Agent;
    original = Original;
    class TrustingAgent extends Original {
      constructor(opts?: httpsModule.AgentOptions) {
        super({ ca: liveCa, ...(opts ?? {}) });
      }
    }
    mod.Agent = TrustingAgent;
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (trusted.get(caPem) ?? 1) - 1;
    if (n > 0) trusted.set(caPem, n);
    else trusted.delete(caPem);
    refreshLiveCa();
    if (trusted.size === 0 && original) {
      mod.Agent = original;
      original = undefined;
    }
  };
}
