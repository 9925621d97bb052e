/**
 * The callback data plane: the signed endpoint `/logicapps/workflows/{accessId}/...` that fires Request
 * triggers (synchronous and asynchronous Response), answers the Location of an asynchronous Response,
 * and serves run-history content links. Answers Logic Apps-style errors `{error: {code, message}}`.
 * Source: "Call, trigger, or nest logic apps by using HTTPS endpoints".
 */
import { randomUUID } from 'node:crypto';
import type { Ctx } from '../http';
import { header } from '../http';
import { WorkflowError } from './engine/errors';
import { isObj } from './engine/functions';
import { decodeBody } from './engine/http';
import { responseMode } from './engine/runner';
import { validateSchema } from './engine/schema';
import { ciEq, definitionOf, findTrigger, isEnabled, isRequestTrigger, isWorkflow, type Located } from './model';
import { debatchedBody, sanitizeTriggerOutputs, type StoredRun, type WorkflowRuns } from './runs';
import type { CallbackSigner } from './sas';
import type { LogicDeps, LogicSettings } from './service';

/**
 * Sends `body` as Logic Apps does: strings as text/plain, `{$content-type, $content}` as that type
 * (base64 content), anything else as JSON; an explicit Content-Type in `headers` wins. Ignores writes
 * after the socket closed.
 */
function sendRaw(ctx: Ctx, status: number, headers: Record<string, string>, body: unknown): void {
  const { res } = ctx;
  if (res.headersSent || res.writableEnded) return;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  const hasCt = Object.keys(headers).some((k) => k.toLowerCase() === 'content-type');
  let buf: Buffer | undefined;
  if (body === null || body === undefined) buf = undefined;
  else if (typeof body === 'string') {
    buf = Buffer.from(body, 'utf8');
    if (!hasCt) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  } else if (isObj(body) && typeof body.$content === 'string' && typeof body['$content-type'] === 'string') {
    buf = Buffer.from(body.$content, 'base64');
    if (!hasCt) res.setHeader('Content-Type', body['$content-type']);
  } else {
    buf = Buffer.from(JSON.stringify(body), 'utf8');
    if (!hasCt) res.setHeader('Content-Type', 'application/json; charset=utf-8');
  }
  res.statusCode = status;
  res.setHeader('Content-Length', String(buf?.length ?? 0));
  res.end(buf);
}

function logicError(ctx: Ctx, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendRaw(ctx, status, headers, { error: { code, message } });
}

/** The signed Logic Apps endpoint (index.ts routes `/logicapps/...` here). */
export class CallbackEndpoint {
  constructor(
    private readonly deps: LogicDeps,
    private readonly settings: LogicSettings,
    private readonly signer: CallbackSigner,
    private readonly runs: WorkflowRuns,
  ) {}

  /**
   * Handles the signed endpoints under `/logicapps/workflows/{accessId}/`:
   * - `triggers/{t}/paths/invoke[/{relative path}]` — fires a Request trigger (any method the trigger allows);
   * - `runs/{run}/operations/{op}` — Location of an asynchronous Response (202 until the Response ran);
   * - `runs/{run}/contents/TriggerOutputs`, `runs/{run}/actions/{a}/contents/ActionInputs|ActionOutputs` — run history content links.
   * 401 DirectApiAuthorizationRequired / DirectApiInvalidAuthorizationSignature; 404 NotFound, WorkflowNotFound,
   * WorkflowRunNotFound, WorkflowRunActionNotFound. Never logs the signature.
   */
  async handle(ctx: Ctx): Promise<void> {
    const s = ctx.segments;
    ctx.res.setHeader('x-ms-request-id', ctx.requestId);
    if (s.length < 4 || s[1].toLowerCase() !== 'workflows') return logicError(ctx, 404, 'NotFound', 'The requested Logic Apps endpoint does not exist.');
    const accessId = s[2].toLowerCase();
    const loc = this.locateByAccessId(accessId);
    if (!loc) return logicError(ctx, 404, 'WorkflowNotFound', `The workflow '${accessId.slice(0, 40)}' could not be found.`);
    const key = this.signer.accessKey(loc.r.id, loc.r);
    const kind = s[3].toLowerCase();
    if (kind === 'triggers' && s.length >= 7 && s[5].toLowerCase() === 'paths' && s[6].toLowerCase() === 'invoke') {
      if (!this.checkSig(ctx, key, accessId, `/triggers/${s[4]}/run`)) return;
      return this.invoke(ctx, loc, s[4], s.slice(7));
    }
    if (kind === 'runs' && s.length >= 5) {
      const stored = this.runs.list(loc.r).find((x) => ciEq(x.run.name, s[4]));
      const rest = s.slice(5).join('/');
      if (!this.checkSig(ctx, key, accessId, `/runs/${s[4]}/${rest}/read`)) return;
      if (!stored) return logicError(ctx, 404, 'WorkflowRunNotFound', `The workflow run '${s[4].slice(0, 80)}' could not be found.`);
      if (s[5]?.toLowerCase() === 'operations' && s.length === 7) return this.pollAsync(ctx, loc, stored);
      if (s[5]?.toLowerCase() === 'contents' && s[6]?.toLowerCase() === 'triggeroutputs') return sendRaw(ctx, 200, {}, sanitizeTriggerOutputs(stored.run.trigger.outputs));
      if (s[5]?.toLowerCase() === 'actions' && s[7]?.toLowerCase() === 'contents') {
        const a = [...stored.run.actions.values()].find((x) => ciEq(x.name, s[6]));
        if (!a) return logicError(ctx, 404, 'WorkflowRunActionNotFound', `The workflow run action '${s[6].slice(0, 80)}' could not be found.`);
        return sendRaw(ctx, 200, {}, (s[8] ?? '').toLowerCase() === 'actioninputs' ? (a.inputs ?? null) : (a.outputs ?? null));
      }
    }
    return logicError(ctx, 404, 'NotFound', 'The requested Logic Apps endpoint does not exist.');
  }

  /** The workflow (outside deleting resource groups) whose current access id is `accessId`. */
  private locateByAccessId(accessId: string): Located | undefined {
    for (const sub of Object.values(this.deps.state.subscriptions)) {
      for (const rg of Object.values(sub.resourceGroups)) {
        if (rg.provisioningState === 'Deleting') continue;
        for (const r of rg.resources) if (isWorkflow(r) && this.signer.accessId(r) === accessId.toLowerCase()) return { sub, rg, r };
      }
    }
    return undefined;
  }

  /** Checks the SAS query parameters; answers 401 itself and returns false when they do not fit. */
  private checkSig(ctx: Ctx, key: Buffer, accessId: string, expectedSp: string): boolean {
    const failure = this.signer.check(ctx.query, key, accessId, expectedSp);
    if (failure) logicError(ctx, 401, failure.code, failure.message);
    return !failure;
  }

  private runHeaders(stored: StoredRun, loc: Located): Record<string, string> {
    return {
      'x-ms-workflow-run-id': stored.run.name,
      'x-ms-correlation-id': stored.run.correlationId,
      'x-ms-client-tracking-id': stored.run.clientTrackingId,
      'x-ms-trigger-history-name': stored.run.name,
      'x-ms-workflow-name': loc.r.name,
      'x-ms-workflow-version': stored.version,
      'x-ms-workflow-id': stored.accessId,
      'x-ms-workflow-system-id': `/locations/${loc.r.location ?? 'local'}/scaleunits/prod-00/workflows/${stored.accessId}`,
      'x-ms-tracking-id': stored.run.trigger.trackingId,
      'x-ms-execution-location': loc.r.location ?? 'local',
    };
  }

  /**
   * Fires a Request trigger: 409 WorkflowDisabled, 404 WorkflowTriggerNotFound / TriggerRelativePathNotMatched,
   * 400 TriggerTypeNotSupported / TriggerInputSchemaMismatch (only with EnableSchemaValidation), 405
   * TriggerRequestMethodNotValid. Then: no Response → 202 at once; asynchronous Response → 202 + signed
   * Location; synchronous → the Response's answer, 504 GatewayTimeout, or 502 NoResponse.
   */
  private async invoke(ctx: Ctx, loc: Located, triggerSeg: string, relSegments: string[]): Promise<void> {
    const { r } = loc;
    if (!isEnabled(r)) return logicError(ctx, 409, 'WorkflowDisabled', `The workflow '${r.name}' is disabled. Enable it before calling its trigger.`);
    const t = findTrigger(r, triggerSeg);
    if (!t) return logicError(ctx, 404, 'WorkflowTriggerNotFound', `The workflow '${r.name}' trigger '${triggerSeg.slice(0, 80)}' could not be found.`);
    const [tname, tdef] = t;
    if (!isRequestTrigger(tdef)) return logicError(ctx, 400, 'TriggerTypeNotSupported', `The trigger '${tname}' of type '${String(tdef.type)}' cannot be called through a callback URL.`);
    const inputs = isObj(tdef.inputs) ? tdef.inputs : {};
    if (typeof inputs.method === 'string' && inputs.method && !ciEq(inputs.method, ctx.method)) {
      return logicError(ctx, 405, 'TriggerRequestMethodNotValid', `The HTTP method for this request is not valid: expected '${inputs.method.toUpperCase()}' and actual '${ctx.method}'.`);
    }
    // relative path parameters
    const relativePathParameters: Record<string, string> = {};
    if (typeof inputs.relativePath === 'string' && inputs.relativePath) {
      const tpl = inputs.relativePath.replace(/^\/+|\/+$/g, '').split('/');
      if (tpl.length !== relSegments.length) return logicError(ctx, 404, 'TriggerRelativePathNotMatched', `The request path does not match the trigger's relative path '${inputs.relativePath}'.`);
      for (let i = 0; i < tpl.length; i++) {
        const pm = /^\{([^}]+)\}$/.exec(tpl[i]);
        if (pm) relativePathParameters[pm[1]] = relSegments[i];
        else if (!ciEq(tpl[i], relSegments[i])) return logicError(ctx, 404, 'TriggerRelativePathNotMatched', `The request path does not match the trigger's relative path '${inputs.relativePath}'.`);
      }
    } else if (relSegments.length) return logicError(ctx, 404, 'TriggerRelativePathNotMatched', `The trigger '${tname}' has no relative path.`);
    const ct = header(ctx.req, 'content-type');
    const body = decodeBody(ct ?? (ctx.body.length ? 'application/octet-stream' : undefined), ctx.body);
    if (String(tdef.operationOptions ?? '').toLowerCase().includes('enableschemavalidation') && isObj(inputs.schema)) {
      const problems = validateSchema(body, inputs.schema);
      if (problems.length) return logicError(ctx, 400, 'TriggerInputSchemaMismatch', `The input body for trigger '${tname}' of type 'Request' did not match its schema definition. Error details: '${problems.slice(0, 5).join('; ')}'.`);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.req.headers)) if (v !== undefined) headers[k.replace(/(^|-)([a-z])/g, (_m, a: string, b: string) => a + b.toUpperCase())] = Array.isArray(v) ? v.join(', ') : v;
    const queries: Record<string, string> = {};
    for (const [k, v] of ctx.query) if (!['sig', 'sp', 'sv', 'api-version'].includes(k.toLowerCase())) queries[k] = v;
    const outputs: Record<string, unknown> = { headers, body, ...(Object.keys(queries).length ? { queries } : {}), ...(Object.keys(relativePathParameters).length ? { relativePathParameters } : {}) };
    let fired: { runs: StoredRun[]; split: boolean };
    try {
      fired = this.runs.fire(loc, tname, outputs, ctx.correlationId, 0);
    } catch (e) {
      if (e instanceof WorkflowError) return logicError(ctx, 400, e.code, e.message);
      throw e;
    }
    // splitOn (debatching): one run per item, answered at once with 202 and the started runs
    if (fired.split) return sendRaw(ctx, 202, { 'x-ms-workflow-name': r.name, 'x-ms-correlation-id': ctx.correlationId }, debatchedBody(loc, fired.runs));
    const stored = fired.runs[0];
    const hdrs = this.runHeaders(stored, loc);
    const mode = responseMode(definitionOf(r));
    if (mode === 'none') return sendRaw(ctx, 202, hdrs, null);
    if (mode === 'async') {
      const key = this.signer.accessKey(r.id, r);
      const op = randomUUID().replace(/-/g, '');
      const location = this.signer.signedUrl(ctx.baseUrl, `/runs/${stored.run.name}/operations/${op}`, key, stored.accessId, `/runs/${stored.run.name}/operations/${op}/read`);
      return sendRaw(ctx, 202, { ...hdrs, Location: location, 'Retry-After': '1' }, null);
    }
    const answer = await this.runs.awaitResponse(stored);
    if (answer === 'timeout') {
      return logicError(ctx, 504, 'GatewayTimeout', `The server did not receive a timely response from the workflow within ${this.settings.syncResponseTimeoutSeconds} seconds. Request tracking id '${stored.run.trigger.trackingId}'.`, hdrs);
    }
    if (!answer) return logicError(ctx, 502, 'NoResponse', `The server did not receive a response from an upstream server. Request tracking id '${stored.run.trigger.trackingId}'.`, hdrs);
    return sendRaw(ctx, answer.statusCode, { ...answer.headers, ...hdrs }, answer.body);
  }

  /** Location of an asynchronous Response: 202 (same Location, Retry-After 1) until it ran, then its answer; 502 NoResponse when the run ended without. */
  private pollAsync(ctx: Ctx, loc: Located, stored: StoredRun): void {
    const hdrs = this.runHeaders(stored, loc);
    const answer = stored.run.responseSent;
    if (answer) return sendRaw(ctx, answer.statusCode, { ...answer.headers, ...hdrs }, answer.body);
    if (stored.run.isTerminal()) return logicError(ctx, 502, 'NoResponse', `The workflow run '${stored.run.name}' ended (${stored.run.status}) without running a Response action.`, hdrs);
    return sendRaw(ctx, 202, { ...hdrs, Location: `${ctx.baseUrl}${ctx.path}?${ctx.query.toString()}`, 'Retry-After': '1' }, null);
  }
}
