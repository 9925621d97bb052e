import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { LogicManagementClient, WorkflowRun } from '@azure/arm-logic';
import { AzureRuntime } from '../../src/azure/azure-runtime';
import { redactUrl } from '../../src/common/logging';
import { OfferEntity } from '../../src/offers/offer.entity';
import { OfferCredentials } from '../../src/offers/offer-credentials';
import { LOGIC_APP_SETTINGS, LogicAppSettings } from './logic-app-settings';
import { RemoteHttp, trustedCas } from '../../src/remote/http';
import { callRemote, classifyRemoteError, RemoteError } from '../../src/remote/remote-error';
import { guardedLookup, LOGIC_APPS_CALLBACK_ENDPOINTS, OUTBOUND_URL_REFUSED, OutboundUrlPolicy, outboundPolicyFor, outboundUrlProblem } from '../../src/security/outbound-url';

/** An HTTP answer of a callback URL (or its async Location). Header names are lower case. */
export interface CallbackAnswer {
  status: number;
  headers: Record<string, string>;
  /** JSON when it parses as JSON, else the text ('' for none). */
  body: unknown;
}

/** What this service needs to know about a workflow (Microsoft.Logic/workflows GET). */
export interface WorkflowInfo {
  name: string;
  /** `Enabled`, `Disabled`, `Suspended`... */
  state: string | undefined;
  /** The first Request trigger (name and the HTTP method it accepts, if it restricts one). */
  requestTrigger?: { name: string; method?: string };
  /** Names of the top-level Response actions (their outputs are the answer when a run is followed through ARM). */
  responseActions: string[];
}

/** Largest answer read from a callback URL, a Location or a run's content link (1 MiB). */
export const MAX_LOGIC_APP_ANSWER_BYTES = 1024 * 1024;

/**
 * Any error of a Logic Apps call (ARM through the SDK, or a callback URL) classified (src/remote:
 * RemoteError, service `logicApp`). A refused token (kind `credential`: wrong or expired secret, unknown
 * app) becomes 401 `AuthenticationFailed` with a message naming what to fix.
 */
export function logicAppError(err: unknown): RemoteError {
  const e = classifyRemoteError(err, 'logicApp');
  if (e.kind !== 'credential') return e;
  return new RemoteError(e.service, 'credential', 'AuthenticationFailed', `The app registration's credentials were refused by Entra ID (check deployment.clientId and deployment.clientSecret; an expired secret does this): ${e.message.split('\n')[0].slice(0, 300)}`, 401, undefined, { cause: err });
}

/**
 * logicAppError with the HTTP status also as `statusCode`, for LogicAppTestDriveType's preflight until it
 * reads RemoteError (it is being changed elsewhere at the moment). Use logicAppError.
 * @deprecated
 */
export function toLogicCallError(err: unknown): RemoteError & { statusCode?: number } {
  const e = logicAppError(err);
  return Object.assign(e, { statusCode: e.status });
}

/**
 * The Logic Apps plumbing of this type: a real `LogicManagementClient` (@azure/arm-logic) per offer
 * credential for ARM (workflows, callback URLs, runs), and the service's HTTP client (src/remote/http.ts:
 * its own undici dispatcher trusting AzureRuntime's CA list) for callback URLs. Callback URLs carry a
 * `sig` (a shared access signature): they are obtained for each call, never stored, and never logged
 * (redactUrl). Errors are RemoteError (logicAppError).
 *
 * Outbound URL rule (issue 8, src/security/outbound-url.ts): a callback URL, an async `Location` (which
 * the publisher's Logic App chooses) and a run's content link are called only when they are https on a
 * Logic Apps host (LOGIC_APPS_CALLBACK_ENDPOINTS: *.logic.azure.com / .us / .cn; the emulator's origin
 * when emulated), and the connection's DNS lookup refuses non-public addresses (DNS rebinding).
 */
@Injectable()
export class LogicAppGateway implements OnApplicationShutdown {
  private readonly clients = new Map<string, LogicManagementClient>();
  /** Which origins the outbound URL rule exempts (the emulator's when emulated). */
  private readonly outboundPolicy: OutboundUrlPolicy;
  /** HTTP client of callback URLs: the runtime's trust, a DNS lookup refusing non-public addresses, LOGIC_APP_REQUEST_TIMEOUT_SECONDS. */
  private readonly http: RemoteHttp;

  constructor(
    private readonly runtime: AzureRuntime,
    private readonly credentials: OfferCredentials,
    @Inject(LOGIC_APP_SETTINGS) private readonly settings: LogicAppSettings,
  ) {
    this.outboundPolicy = outboundPolicyFor(runtime.endpoints);
    const timeoutMs = settings.requestTimeoutSeconds * 1000;
    this.http = new RemoteHttp({
      service: 'logicApp',
      ca: trustedCas(runtime.endpoints),
      lookup: guardedLookup(this.outboundPolicy),
      connectTimeoutMs: Math.min(timeoutMs, 30_000),
      headersTimeoutMs: timeoutMs,
      bodyTimeoutMs: timeoutMs,
      maxResponseBytes: MAX_LOGIC_APP_ANSWER_BYTES,
    });
  }

  /** Closes the callback connections (after the session runs finished). */
  async onApplicationShutdown(): Promise<void> {
    await this.http.close();
  }

  /** LogicManagementClient for the offer's subscription and credential (cached per secret version). */
  async client(offer: OfferEntity): Promise<LogicManagementClient> {
    const key = `${offer.id}|${offer.deployment.subscriptionId}|${offer.clientSecretName}|${offer.clientSecretVersion}`;
    let c = this.clients.get(key);
    if (!c) {
      const cred = await this.credentials.credentialFor(offer);
      c = new LogicManagementClient(cred, offer.deployment.subscriptionId!, {
        endpoint: this.runtime.endpoints.resourceManagerEndpoint,
        credentialScopes: [this.runtime.armScope],
        ...this.runtime.clientOptions,
      });
      for (const k of this.clients.keys()) if (k.startsWith(`${offer.id}|`)) this.clients.delete(k);
      this.clients.set(key, c);
    }
    return c;
  }

  /** The workflow, or null when ARM answers 404. @throws RemoteError (logicAppError) for other failures. */
  async workflow(offer: OfferEntity, resourceGroup: string, name: string): Promise<WorkflowInfo | null> {
    const wf = await callRemote(async () => (await this.client(offer)).workflows.get(resourceGroup, name), logicAppError, { value: null });
    if (!wf) return null;
    const def = (wf.definition ?? {}) as { triggers?: Record<string, { type?: string; inputs?: { method?: string } }>; actions?: Record<string, { type?: string }> };
    const trig = Object.entries(def.triggers ?? {}).find(([, t]) => String(t?.type ?? '').toLowerCase() === 'request');
    return {
      name: wf.name ?? name,
      state: wf.state,
      ...(trig ? { requestTrigger: { name: trig[0], ...(trig[1].inputs?.method ? { method: String(trig[1].inputs.method).toUpperCase() } : {}) } } : {}),
      responseActions: Object.entries(def.actions ?? {})
        .filter(([, a]) => String(a?.type ?? '').toLowerCase() === 'response')
        .map(([n]) => n),
    };
  }

  /** The trigger's callback URL (with its `sig`: keep it in memory only). */
  async callbackUrl(offer: OfferEntity, resourceGroup: string, workflow: string, trigger: string): Promise<string> {
    const cb = await callRemote(async () => (await this.client(offer)).workflowTriggers.listCallbackUrl(resourceGroup, workflow, trigger), logicAppError);
    if (!cb.value) throw new RemoteError('logicApp', 'transient', 'CallbackUrlMissing', `listCallbackUrl of ${workflow}/${trigger} returned no URL.`);
    return cb.value;
  }

  /** The run, or null when ARM answers 404. */
  async run(offer: OfferEntity, resourceGroup: string, workflow: string, runId: string): Promise<WorkflowRun | null> {
    return callRemote(async () => (await this.client(offer)).workflowRuns.get(resourceGroup, workflow, runId), logicAppError, { value: null });
  }

  /** Cancels a run in progress; best effort (a run that already ended answers 409, ignored). */
  async cancelRun(offer: OfferEntity, resourceGroup: string, workflow: string, runId: string): Promise<void> {
    try {
      await (await this.client(offer)).workflowRuns.cancel(resourceGroup, workflow, runId);
    } catch (err) {
      const e = logicAppError(err);
      if (e.status !== 409 && e.kind !== 'notFound') throw e;
    }
  }

  /**
   * What a run's Response action answered (`{statusCode, body}` from its outputs content link), when
   * one of `responseActions` ran; undefined otherwise.
   */
  async responseOf(offer: OfferEntity, resourceGroup: string, workflow: string, runId: string, responseActions: string[]): Promise<{ statusCode: number; body: unknown } | undefined> {
    const client = await this.client(offer);
    for (const name of responseActions) {
      const action = await callRemote(() => client.workflowRunActions.get(resourceGroup, workflow, runId, name), logicAppError, { value: null });
      if (!action) continue;
      if (action.status !== 'Succeeded' || !action.outputsLink?.uri) continue;
      const content = await this.call('GET', action.outputsLink.uri);
      if (content.status !== 200 || !content.body || typeof content.body !== 'object') continue;
      const c = content.body as { statusCode?: unknown; body?: unknown };
      return { statusCode: Number(c.statusCode ?? 200), body: c.body ?? null };
    }
    return undefined;
  }

  /** Failed actions of a run (name, code, message) — the reason behind "An action failed". */
  async failedActions(offer: OfferEntity, resourceGroup: string, workflow: string, runId: string): Promise<Array<{ name: string; code: string; message: string }>> {
    const out: Array<{ name: string; code: string; message: string }> = [];
    try {
      for await (const a of (await this.client(offer)).workflowRunActions.list(resourceGroup, workflow, runId)) {
        if (a.status === 'Failed' || a.status === 'TimedOut') {
          const err = (a.error ?? {}) as { code?: string; message?: string };
          out.push({ name: a.name ?? '?', code: err.code ?? a.code ?? a.status, message: String(err.message ?? '').slice(0, 300) });
        }
      }
    } catch {
      /* best effort: the run's own error is used */
    }
    return out;
  }

  /**
   * One HTTPS request to a callback URL (or its Location). JSON bodies are sent as application/json.
   * Timeouts: LOGIC_APP_REQUEST_TIMEOUT_SECONDS for the answer's headers and between body chunks. Only
   * https URLs on a Logic Apps host, whose addresses are all public, are called (outbound URL rule).
   * @returns the answer whatever its status (header names lower case; body JSON when it parses, else text).
   * @throws RemoteError (never with the URL's query string): `invalid` InvalidCallbackUrl, OutboundUrlRefused
   *   (the rule refused the URL or the connection), AnswerTooLarge (over 1 MiB); `transient` CallbackTimedOut,
   *   CallbackFailed (no answer: connection, DNS, TLS).
   */
  async call(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<CallbackAnswer> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new RemoteError('logicApp', 'invalid', 'InvalidCallbackUrl', 'The callback URL is not a valid URL.');
    }
    if (u.protocol !== 'https:') throw new RemoteError('logicApp', 'invalid', 'InvalidCallbackUrl', `Only https callback URLs are called (got ${u.protocol}//${u.host}).`);
    const refused = outboundUrlProblem(url, LOGIC_APPS_CALLBACK_ENDPOINTS, this.outboundPolicy);
    if (refused) throw new RemoteError('logicApp', 'invalid', OUTBOUND_URL_REFUSED, `The Logic App URL ${redactUrl(url)} was not called: it ${refused}.`);
    try {
      const a = await this.http.send(method, url, { body, headers });
      return { status: a.status, headers: a.headers, body: a.body };
    } catch (err) {
      const e = classifyRemoteError(err, 'logicApp');
      const as = (code: string, message: string) => new RemoteError('logicApp', e.kind, code, message, e.status, e.retryAfterMs, { cause: err });
      if (e.code === OUTBOUND_URL_REFUSED) throw as(OUTBOUND_URL_REFUSED, `${redactUrl(url)} was not called: ${e.message.replace(/^\w+ \S+ failed: /, '')}`);
      if (e.code === 'AnswerTooLarge') throw as('AnswerTooLarge', 'The Logic App answered more than 1 MB.');
      if (/TIMEOUT|TimeoutError/i.test(e.code)) throw as('CallbackTimedOut', `${redactUrl(url)} did not answer within ${this.settings.requestTimeoutSeconds} s.`);
      throw as('CallbackFailed', `Calling ${redactUrl(url)} failed: ${e.code}`);
    }
  }
}
