import { performance } from 'node:perf_hooks';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

/**
 * How one remote call ended (the `outcome` label of testdrive_remote_requests_total):
 * `success` 1xx-3xx, `throttled` 429, `client_error` other 4xx, `server_error` 5xx, `error` no answer
 * (connection, TLS, timeout).
 */
export type RemoteOutcome = 'success' | 'throttled' | 'client_error' | 'server_error' | 'error';

/** One finished remote call (issue 11: Azure calls by service, operation and outcome, with duration). */
export interface RemoteCallEvent {
  /** Remote, e.g. arm, keyvault, entra, logicApp, graph, dataverse, leadEndpoint. */
  service: string;
  /** Bounded operation name: method and resource types, never names or ids ("PUT resourcegroups"). */
  operation: string;
  outcome: RemoteOutcome;
  /** HTTP status, when there was an answer. */
  status?: number;
  /** Wall-clock duration of the call in seconds. */
  seconds: number;
}

/** A listener of remote calls. */
export type RemoteCallListener = (event: RemoteCallEvent) => void;

const listeners = new Set<RemoteCallListener>();

/**
 * Subscribes to every remote call this process makes (RemoteHttp and every Azure SDK client built from
 * AzureRuntime.clientOptions). Process-wide: the metrics of each app in the process subscribe at init
 * and unsubscribe (the returned function) at shutdown. A listener that throws is ignored.
 */
export function onRemoteCall(listener: RemoteCallListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Tells every listener about one finished call (no listener: nothing). */
export function emitRemoteCall(event: RemoteCallEvent): void {
  for (const l of listeners) {
    try {
      l(event);
    } catch {
      /* a metrics listener never breaks a call */
    }
  }
}

/** The outcome label of an HTTP status (undefined: no answer). */
export function outcomeOf(status: number | undefined): RemoteOutcome {
  if (status === undefined || status === 0) return 'error';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'success';
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A bounded operation name for a request: the method and the resource-type segments of its path, with
 * every name, id and GUID left out. ARM paths alternate type / name after `subscriptions/{id}`:
 * `PUT /subscriptions/{s}/resourcegroups/{rg}/providers/Microsoft.Resources/deployments/{d}` →
 * `PUT resourcegroups/deployments`; other paths keep segments that are not GUIDs or long tokens, at
 * most 3 (`POST oauth2/v2.0/token`, `GET secrets`). Never holds a query string.
 */
export function operationOf(method: string, url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return `${method.toUpperCase()} ?`;
  }
  const segs = path.split('/').filter(Boolean).map((s) => s.toLowerCase());
  const out: string[] = [];
  const sub = segs.indexOf('subscriptions');
  if (sub >= 0) {
    // ARM: subscriptions/{id}/[resourcegroups/{rg}/][providers/{ns}/]type/name/type/name...
    let i = sub + 2;
    while (i < segs.length) {
      if (segs[i] === 'providers') {
        i += 2;
        continue;
      }
      out.push(segs[i]);
      i += 2;
    }
    if (!out.length) out.push('subscriptions');
  } else {
    for (const s of segs) {
      if (GUID.test(s) || s.length > 40 || /\d{3,}/.test(s) || /[^a-z0-9._$-]/.test(s)) continue;
      out.push(s);
      if (out.length === 3) break;
    }
  }
  return `${method.toUpperCase()} ${out.slice(0, 4).join('/') || '/'}`;
}

/**
 * An Azure SDK pipeline policy (core-rest-pipeline, placed perRetry so each attempt counts) that
 * reports every request as a RemoteCallEvent; `serviceOf` names the remote from the request URL.
 */
export function remoteCallPolicy(serviceOf: (url: string) => string): PipelinePolicy {
  return {
    name: 'testDriveRemoteCallMetrics',
    async sendRequest(request, next) {
      const started = performance.now();
      const base = { service: serviceOf(request.url), operation: operationOf(request.method, request.url) };
      try {
        const res = await next(request);
        emitRemoteCall({ ...base, outcome: outcomeOf(res.status), status: res.status, seconds: (performance.now() - started) / 1000 });
        return res;
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        emitRemoteCall({ ...base, outcome: outcomeOf(status), status, seconds: (performance.now() - started) / 1000 });
        throw err;
      }
    },
  };
}
