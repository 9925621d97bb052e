import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import { Inject, Injectable } from '@nestjs/common';
import { LogicManagementClient, WorkflowRun } from '@azure/arm-logic';
import { AzureRuntime } from '../../src/azure/azure-runtime';
import { redactUrl } from '../../src/common/logging';
import { OfferEntity } from '../../src/offers/offer.entity';
import { OfferCredentials } from '../../src/offers/offer-credentials';
import { LOGIC_APP_SETTINGS, LogicAppSettings } from './logic-app-settings';
import { guardedLookup, LOGIC_APPS_CALLBACK_ENDPOINTS, OUTBOUND_URL_REFUSED, OutboundUrlPolicy, outboundPolicyFor, outboundRefusalOf, outboundUrlProblem } from '../../src/security/outbound-url';

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

/** A call to ARM or a callback URL failed without an answer, or ARM refused it. Never carries a URL's signature. */
export class LogicCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** HTTP status, when there was one. */
    readonly statusCode?: number,
    /** Seconds the server asked us to wait (Retry-After), if any. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'LogicCallError';
  }
}

/** OAuth / Entra answers that mean the publisher's app registration or secret is refused. */
const REFUSED_CREDENTIAL = /\b(invalid_client|unauthorized_client|AADSTS7000215|AADSTS7000222|AADSTS700016|AADSTS90002)\b/;

/**
 * Any error of an ARM call (SDK RestError, @azure/identity AuthenticationError...) as a LogicCallError
 * with a status: a refused credential becomes 401 `AuthenticationFailed` (not retried silently).
 */
export function toLogicCallError(err: unknown): LogicCallError {
  if (err instanceof LogicCallError) return err;
  const e = err as { name?: string; message?: string; statusCode?: number; code?: string; details?: { error?: { code?: string; message?: string } } };
  const message = String(e?.message ?? err).replace(/([?&]sig=)[^&\s"']+/gi, '$1[redacted]');
  if ((e?.name === 'AuthenticationError' || e?.name === 'CredentialUnavailableError' || REFUSED_CREDENTIAL.test(message)) && !e?.statusCode) {
    return new LogicCallError('AuthenticationFailed', `The app registration's credentials were refused by Entra ID (check deployment.clientId and deployment.clientSecret; an expired secret does this): ${message.split('\n')[0].slice(0, 300)}`, 401);
  }
  const code = e?.details?.error?.code ?? e?.code ?? 'RequestFailed';
  return new LogicCallError(code, (e?.details?.error?.message ?? message).slice(0, 500), e?.statusCode);
}

/**
 * The Logic Apps plumbing of this type: a real `LogicManagementClient` (@azure/arm-logic) per offer
 * credential for ARM (workflows, callback URLs, runs), and node:https for callback URLs (trusting the
 * extra CA of AzureRuntime, i.e. the emulator's). Callback URLs carry a `sig` (a shared access
 * signature): they are obtained for each call, never stored, and never logged (redactUrl).
 *
 * Outbound URL rule (issue 8, src/security/outbound-url.ts): a callback URL, an async `Location` (which
 * the publisher's Logic App chooses) and a run's content link are called only when they are https on a
 * Logic Apps host (LOGIC_APPS_CALLBACK_ENDPOINTS: *.logic.azure.com / .us / .cn; the emulator's origin
 * when emulated), and the connection's DNS lookup refuses non-public addresses (DNS rebinding).
 */
@Injectable()
export class LogicAppGateway {
  private readonly clients = new Map<string, LogicManagementClient>();
  /** Which origins the outbound URL rule exempts (the emulator's when emulated). */
  private readonly outboundPolicy: OutboundUrlPolicy;
  /** DNS lookup of callback connections: refuses non-public addresses. */
  private readonly lookup: ReturnType<typeof guardedLookup>;

  constructor(
    private readonly runtime: AzureRuntime,
    private readonly credentials: OfferCredentials,
    @Inject(LOGIC_APP_SETTINGS) private readonly settings: LogicAppSettings,
  ) {
    this.outboundPolicy = outboundPolicyFor(runtime.endpoints);
    this.lookup = guardedLookup(this.outboundPolicy);
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

  /** The workflow, or null when ARM answers 404. @throws LogicCallError for other failures. */
  async workflow(offer: OfferEntity, resourceGroup: string, name: string): Promise<WorkflowInfo | null> {
    try {
      const wf = await (await this.client(offer)).workflows.get(resourceGroup, name);
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
    } catch (err) {
      const e = toLogicCallError(err);
      if (e.statusCode === 404) return null;
      throw e;
    }
  }

  /** The trigger's callback URL (with its `sig`: keep it in memory only). */
  async callbackUrl(offer: OfferEntity, resourceGroup: string, workflow: string, trigger: string): Promise<string> {
    try {
      const cb = await (await this.client(offer)).workflowTriggers.listCallbackUrl(resourceGroup, workflow, trigger);
      if (!cb.value) throw new LogicCallError('CallbackUrlMissing', `listCallbackUrl of ${workflow}/${trigger} returned no URL.`);
      return cb.value;
    } catch (err) {
      throw toLogicCallError(err);
    }
  }

  /** The run, or null when ARM answers 404. */
  async run(offer: OfferEntity, resourceGroup: string, workflow: string, runId: string): Promise<WorkflowRun | null> {
    try {
      return await (await this.client(offer)).workflowRuns.get(resourceGroup, workflow, runId);
    } catch (err) {
      const e = toLogicCallError(err);
      if (e.statusCode === 404) return null;
      throw e;
    }
  }

  /** Cancels a run in progress; best effort (a run that already ended answers 409, ignored). */
  async cancelRun(offer: OfferEntity, resourceGroup: string, workflow: string, runId: string): Promise<void> {
    try {
      await (await this.client(offer)).workflowRuns.cancel(resourceGroup, workflow, runId);
    } catch (err) {
      const e = toLogicCallError(err);
      if (e.statusCode !== 409 && e.statusCode !== 404) throw e;
    }
  }

  /**
   * What a run's Response action answered (`{statusCode, body}` from its outputs content link), when
   * one of `responseActions` ran; undefined otherwise.
   */
  async responseOf(offer: OfferEntity, resourceGroup: string, workflow: string, runId: string, responseActions: string[]): Promise<{ statusCode: number; body: unknown } | undefined> {
    const client = await this.client(offer);
    for (const name of responseActions) {
      let action;
      try {
        action = await client.workflowRunActions.get(resourceGroup, workflow, runId, name);
      } catch (err) {
        const e = toLogicCallError(err);
        if (e.statusCode === 404) continue;
        throw e;
      }
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
   * Socket timeout: LOGIC_APP_REQUEST_TIMEOUT_SECONDS. Only https URLs on a Logic Apps host, whose
   * addresses are all public, are called (outbound URL rule).
   * @throws LogicCallError `CallbackFailed` (network error), `CallbackTimedOut`, or `OutboundUrlRefused`
   *   (the rule refused the URL or the connection); never with the URL's query string.
   */
  call(method: 'GET' | 'POST', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<CallbackAnswer> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return Promise.reject(new LogicCallError('InvalidCallbackUrl', 'The callback URL is not a valid URL.'));
    }
    if (u.protocol !== 'https:') return Promise.reject(new LogicCallError('InvalidCallbackUrl', `Only https callback URLs are called (got ${u.protocol}//${u.host}).`));
    const refused = outboundUrlProblem(url, LOGIC_APPS_CALLBACK_ENDPOINTS, this.outboundPolicy);
    if (refused) return Promise.reject(new LogicCallError(OUTBOUND_URL_REFUSED, `The Logic App URL ${redactUrl(url)} was not called: it ${refused}.`));
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const extra = this.runtime.endpoints.extraCaPem;
    const timeoutMs = this.settings.requestTimeoutSeconds * 1000;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        u,
        {
          method,
          timeout: timeoutMs,
          lookup: this.lookup,
          ...(extra ? { ca: [...rootCertificates, extra] } : {}),
          headers: { accept: 'application/json', ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > 1024 * 1024) req.destroy(new LogicCallError('AnswerTooLarge', 'The Logic App answered more than 1 MB.'));
            else chunks.push(c);
          });
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8').replace(/^\uFEFF/, '');
            let parsed: unknown = text;
            if (text) {
              try {
                parsed = JSON.parse(text);
              } catch {
                /* text */
              }
            }
            const h: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
            resolve({ status: res.statusCode ?? 0, headers: h, body: parsed });
          });
          res.on('error', (e) => reject(new LogicCallError('CallbackFailed', `The answer of ${redactUrl(url)} was cut: ${e.message}`)));
        },
      );
      req.on('timeout', () => req.destroy(new LogicCallError('CallbackTimedOut', `${redactUrl(url)} did not answer within ${this.settings.requestTimeoutSeconds} s.`)));
      req.on('error', (e) => {
        if (e instanceof LogicCallError) return reject(e);
        const refusal = outboundRefusalOf(e);
        if (refusal) return reject(new LogicCallError(OUTBOUND_URL_REFUSED, `${redactUrl(url)} was not called: ${refusal.message}`));
        reject(new LogicCallError('CallbackFailed', `Calling ${redactUrl(url)} failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      });
      if (data) req.write(data);
      req.end();
    });
  }
}
