/**
 * Template deployments (`.../resourcegroups/{rg}/providers/Microsoft.Resources/deployments[/{name}[/...]]`,
 * ARM REST API "Deployments"): validation at PUT (the evaluator runs synchronously) and POST .../validate, the asynchronous
 * execution (Azure-AsyncOperation + operationStatuses), get/list/delete/cancel/operations, history pruning,
 * and applying a finished deployment's result to the resource groups.
 */
import { createHash, randomUUID } from 'node:crypto';
import { isObject, send } from '../http';
import { key, type ArmErrorInfo, type Deployment, type ResourceGroup, type StoredResource, type Subscription } from '../state';
import type { ArmDeps } from './arm';
import { armBody, ciEq, deploymentBody, deploymentId, deploymentMs, getRg, normalizeLocation, nowIso, retryAfter, rgBeingDeleted } from './common';
import { ArmHttpError, armError } from './errors';
import { isVm, prepareDeployedCompute } from './compute';
import { providerPreflight } from './providers';
import { quotaPreflight } from './usages';
import { verbOf, type ArmRequest } from './routing';
import { ArmTemplateError, type TemplateDeploymentRequest } from './template/types';

/** Message ARM puts in a DeploymentFailed error (ARM REST: deployment error). */
export const DEPLOYMENT_FAILED_MESSAGE =
  'At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.';

/** Validation-phase evaluator codes: ARM refuses the PUT synchronously with 400 for these. */
const VALIDATION_CODES = new Set(['InvalidTemplate', 'InvalidTemplateDeployment', 'InvalidContentLink', 'InvalidDeploymentParameterKey', 'InvalidDeploymentParameterValue', 'MissingParameterValue', 'InvalidRequestContent', 'InvalidParameter']);

const DEPLOYMENT_NAME = /^[-\w._()]{1,64}$/;

/** A stable numeric template hash (ARM returns a decimal string). */
function templateHash(template: unknown, link: unknown): string {
  const h = createHash('sha256').update(JSON.stringify(template ?? link ?? null)).digest();
  return h.readBigUInt64BE(0).toString();
}

function isActive(d: Deployment): boolean {
  return d.provisioningState === 'Accepted' || d.provisioningState === 'Running';
}

function findDeployment(rg: ResourceGroup, name: string): Deployment {
  const d = rg.deployments[key(name)];
  if (!d) throw armError(404, 'DeploymentNotFound', `Deployment '${name.slice(0, 100)}' could not be found.`);
  return d;
}

// ---------------------------------------------------------------- RBAC

/**
 * RBAC action `Microsoft.Resources/deployments/read|write|delete`; writes below `{name}/cancel/...`
 * (matched by a trailing `{*rest}`) need `cancel/action`.
 */
export function deploymentAction(r: ArmRequest): string {
  return `Microsoft.Resources/deployments/${verbOf(r.category, r.rest[0]?.toLowerCase() === 'cancel' ? 'cancel/action' : 'write')}`;
}

/** RBAC action for `.../deployments/{name}/cancel[...]`: writes need `cancel/action`. */
export function deploymentCancelAction(r: ArmRequest): string {
  return `Microsoft.Resources/deployments/${verbOf(r.category, 'cancel/action')}`;
}

/** RBAC scope: the deployment (`.../providers/Microsoft.Resources/deployments/{name}`), or its group for the collection. */
export function deploymentScope(r: ArmRequest): string {
  const rgScope = `/subscriptions/${r.sub.id}/resourcegroups/${r.params.resourceGroupName}`;
  const name = r.params.deploymentName;
  return name ? `${rgScope}/providers/Microsoft.Resources/deployments/${name}` : rgScope;
}

// ---------------------------------------------------------------- handlers

/** `GET .../deployments`: `{value}` with every deployment of the group. */
export function listDeployments(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  send(r.ctx, 200, { value: Object.values(rg.deployments).map((d) => deploymentBody(r.sub, rg, d)) });
}

/** `GET .../deployments/{name}`: 200; 404 DeploymentNotFound. */
export function getDeployment(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  send(r.ctx, 200, deploymentBody(r.sub, rg, findDeployment(rg, r.params.deploymentName)));
}

/** `HEAD .../deployments/{name}` (checkExistence): 204 or 404. */
export function checkDeploymentExistence(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  send(r.ctx, rg.deployments[key(r.params.deploymentName)] ? 204 : 404);
}

/** `DELETE .../deployments/{name}`: 204 (also when missing); 409 DeploymentActive while it runs. */
export function deleteDeployment(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  const name = r.params.deploymentName;
  const d = rg.deployments[key(name)];
  if (!d) return send(r.ctx, 204);
  if (isActive(d)) {
    throw armError(409, 'DeploymentActive', `Unable to delete deployment '${d.name}': the deployment is still active. Cancel it first. Please see https://aka.ms/arm-deploy for usage details.`);
  }
  delete rg.deployments[key(name)];
  r.arm.deps.store.changed();
  send(r.ctx, 204);
}

/** `POST .../deployments/{name}/cancel`: 204 (state Canceled); 409 DeploymentCannotBeCancelled when terminal. */
export function cancelDeployment(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  const d = findDeployment(rg, r.params.deploymentName);
  if (!isActive(d)) {
    throw armError(409, 'DeploymentCannotBeCancelled', `The deployment '${d.name}' cannot be cancelled because it is in terminal provisioning state '${d.provisioningState}'.`);
  }
  d.provisioningState = 'Canceled';
  d.timestamp = nowIso();
  delete d.pending;
  r.arm.deps.store.changed();
  send(r.ctx, 204);
}

/**
 * `GET .../deployments/{name}/operationStatuses/{id}` (the Azure-AsyncOperation URL):
 * `{status: Running|Succeeded|Failed|Canceled, error?}` (+ Retry-After while running); 404 OperationNotFound.
 */
export function getOperationStatus(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  const d = findDeployment(rg, r.params.deploymentName);
  const opId = r.params.operationId;
  if (d.operationId !== opId) throw armError(404, 'OperationNotFound', `The operation '${opId.slice(0, 100)}' could not be found.`);
  const status = d.provisioningState === 'Accepted' ? 'Running' : d.provisioningState;
  const body: Record<string, unknown> = { status };
  if (d.error) body.error = d.error;
  const headers: Record<string, string | number> = {};
  if (status === 'Running') headers['Retry-After'] = retryAfter(d.completesAtMs);
  send(r.ctx, 200, body, headers);
}

/** `GET .../deployments/{name}/operations`: one entry per created resource, or one per error detail of a failure. */
export function listDeploymentOperations(r: ArmRequest): void {
  const rg = getRg(r.sub, r.params.resourceGroupName);
  const d = findDeployment(rg, r.params.deploymentName);
  send(r.ctx, 200, { value: deploymentOperations(r.sub, rg, d) });
}

/** Any other path below a deployment: 404 InvalidResourceType `deployments/{rest}`. */
export function deploymentChildNotFound(r: ArmRequest): void {
  throw armError(404, 'InvalidResourceType', `The resource type 'deployments/${r.rest.join('/').slice(0, 100)}' could not be found in the namespace 'Microsoft.Resources' for api version '${r.apiVersion.slice(0, 40)}'.`);
}

function deploymentOperations(sub: Subscription, rg: ResourceGroup, d: Deployment): unknown[] {
  const base = deploymentId(sub.id, rg.name, d.name);
  if (d.provisioningState === 'Failed' && d.error) {
    const details = d.error.details?.length ? d.error.details : [d.error];
    return details.map((e, i) => ({
      id: `${base}/operations/${i}`,
      operationId: String(i),
      properties: { provisioningOperation: 'Create', provisioningState: 'Failed', timestamp: d.timestamp, statusCode: 'BadRequest', statusMessage: { error: e } },
    }));
  }
  return (d.outputResources ?? []).map((res, i) => ({
    id: `${base}/operations/${i}`,
    operationId: String(i),
    properties: { provisioningOperation: 'Create', provisioningState: 'Succeeded', timestamp: d.timestamp, statusCode: 'OK', targetResource: { id: res.id } },
  }));
}

/** A deployment request body after ARM's synchronous checks (shared by PUT and validate). */
interface ParsedDeploymentRequest {
  rg: ResourceGroup;
  name: string;
  props: Record<string, unknown>;
  mode: 'Incremental' | 'Complete';
  hasTemplate: boolean;
  templateLink?: Record<string, unknown>;
  parametersLink?: { uri: string };
}

/**
 * ARM's checks of a deployment request before the template is looked at: 400 InvalidDeploymentName /
 * InvalidRequestContent / InvalidDeploymentMode, 404 ResourceGroupNotFound, 409 ResourceGroupBeingDeleted.
 */
function parseDeploymentRequest(r: ArmRequest): ParsedDeploymentRequest {
  const name = r.params.deploymentName;
  const body = armBody(r.ctx);
  if (!DEPLOYMENT_NAME.test(name)) {
    throw armError(400, 'InvalidDeploymentName', `The deployment name '${name.slice(0, 100)}' is invalid. It can contain letters, digits, '-', '.', '_', '(', ')' and be at most 64 characters long.`);
  }
  const rg = getRg(r.sub, r.params.resourceGroupName);
  if (rg.provisioningState === 'Deleting') throw rgBeingDeleted(rg.name);
  const props = body.properties;
  if (!isObject(props)) throw armError(400, 'InvalidRequestContent', "The request content was invalid and could not be deserialized: 'Required property 'properties' not found in JSON.'.");
  const mode = typeof props.mode === 'string' ? props.mode : '';
  const modeNorm = mode.toLowerCase() === 'incremental' ? 'Incremental' : mode.toLowerCase() === 'complete' ? 'Complete' : '';
  if (!modeNorm) throw armError(400, 'InvalidDeploymentMode', `The deployment mode '${mode.slice(0, 40)}' is not valid. Allowed values are 'Incremental' and 'Complete'.`);
  const hasTemplate = props.template !== undefined && props.template !== null;
  const hasLink = isObject(props.templateLink);
  if (hasTemplate === hasLink) throw armError(400, 'InvalidRequestContent', "The request content was invalid: exactly one of 'template' or 'templateLink' must be specified.");
  if (props.parameters !== undefined && props.parameters !== null && !isObject(props.parameters)) throw armError(400, 'InvalidRequestContent', "The request content was invalid: 'parameters' must be an object.");
  if (props.parametersLink !== undefined && props.parametersLink !== null && !(isObject(props.parametersLink) && typeof props.parametersLink.uri === 'string')) {
    throw armError(400, 'InvalidRequestContent', "The request content was invalid: 'parametersLink.uri' must be a string.");
  }
  return {
    rg,
    name,
    props,
    mode: modeNorm,
    hasTemplate,
    ...(hasLink ? { templateLink: props.templateLink as Record<string, unknown> } : {}),
    ...(isObject(props.parametersLink) ? { parametersLink: props.parametersLink as { uri: string } } : {}),
  };
}

/** What the evaluator made of a deployment request. */
interface Evaluation {
  /** The resources and outputs, or the error the deployment would end with (DeploymentFailed) when it failed after validation. */
  pending: NonNullable<Deployment['pending']>;
  /** Linked templates and parameter files fetched, by URI. */
  fetched: Map<string, unknown>;
  /** The template as deployed (inline, or the fetched templateLink). */
  template: unknown;
  /** Parameters as ARM echoes them (secure values left out). */
  parameters: Record<string, unknown>;
}

/**
 * Runs the template evaluator on a parsed request (nothing is stored). Validation-phase errors (VALIDATION_CODES)
 * are thrown as ARM's 400; other evaluator errors become the `pending.error` the deployment would fail with.
 */
async function evaluateDeployment(r: ArmRequest, parsed: ParsedDeploymentRequest): Promise<Evaluation> {
  const { ctx, sub } = r;
  const { deps } = r.arm;
  const { rg, name, props, templateLink, parametersLink, hasTemplate } = parsed;
  const fetched = new Map<string, unknown>();
  const fetchTemplate = async (uri: string): Promise<unknown> => {
    const doc = await deps.fetchTemplate(uri);
    fetched.set(uri, doc);
    return doc;
  };
  const req: TemplateDeploymentRequest = {
    scope: { tenantId: sub.tenantId, subscriptionId: sub.id, resourceGroupName: rg.name, location: rg.location, resourceGroupTags: rg.tags, deploymentName: name, armEndpoint: ctx.baseUrl },
    ...(hasTemplate ? { template: props.template } : {}),
    ...(templateLink ? { templateLink: { uri: typeof templateLink.uri === 'string' ? templateLink.uri : undefined, relativePath: typeof templateLink.relativePath === 'string' ? templateLink.relativePath : undefined } } : {}),
    ...(isObject(props.parameters) ? { parameters: props.parameters as TemplateDeploymentRequest['parameters'] } : {}),
    ...(parametersLink ? { parametersLink: { uri: parametersLink.uri } } : {}),
    fetchTemplate,
    existingResources: Object.values(sub.resourceGroups).flatMap((g) => g.resources),
  };
  let pending: Evaluation['pending'];
  try {
    const result = await deps.evaluate(req);
    pending = { resources: result.resources, outputs: result.outputs };
  } catch (e) {
    if (e instanceof ArmTemplateError) {
      if (VALIDATION_CODES.has(e.code)) throw new ArmHttpError(400, e.toErrorBody().error);
      const info = e.toErrorBody().error as ArmErrorInfo;
      pending = { error: e.code === 'DeploymentFailed' ? info : { code: 'DeploymentFailed', message: DEPLOYMENT_FAILED_MESSAGE, details: [info] } };
    } else {
      deps.log('evaluator crashed', { error: String(e) });
      pending = { error: { code: 'DeploymentFailed', message: DEPLOYMENT_FAILED_MESSAGE, details: [{ code: 'InternalServerError', message: 'The template evaluation failed unexpectedly.' }] } };
    }
  }
  const template = hasTemplate ? props.template : templateLink?.uri ? fetched.get(templateLink.uri as string) : undefined;
  const paramsDoc = parametersLink ? fetched.get(parametersLink.uri) : undefined;
  const parameters = echoParameters(template, isObject(paramsDoc) && isObject(paramsDoc.parameters) ? paramsDoc.parameters : undefined, isObject(props.parameters) ? props.parameters : undefined);
  return { pending, fetched, template, parameters };
}

/**
 * Resource Manager's preflight of evaluated resources (providers.ts, usages.ts): 400 InvalidTemplateDeployment
 * "...is not valid according to the validation procedure..." with the providers' errors as details.
 * `validation` (POST validate) checks the catalog and default quotas too; a deployment (PUT) only what the control
 * API set (NotRegistered namespaces, unavailable locations, lowered vCPU limits).
 */
function preflight(r: ArmRequest, name: string, resources: readonly StoredResource[], validation: boolean): void {
  const details = [
    ...providerPreflight(r.sub, resources.map((x) => ({ id: x.id, type: x.type, location: x.location, apiVersion: x.apiVersion })), validation),
    ...quotaPreflight(r.sub, resources.filter(isVm).map((x) => ({ id: x.id, location: x.location, vmSize: (x.properties.hardwareProfile as Record<string, unknown> | undefined)?.vmSize })), !validation),
  ];
  if (details.length === 0) return;
  throw armError(400, 'InvalidTemplateDeployment', `The template deployment '${name}' is not valid according to the validation procedure. The tracking id is '${randomUUID()}'. See inner errors for details.`, { details });
}

/**
 * `PUT .../deployments/{name}` `{properties: {mode, template | templateLink, parameters?, parametersLink?}}`.
 * Validates the request and runs the evaluator now: validation-phase errors (VALIDATION_CODES) are a
 * synchronous 400; other evaluator errors make the deployment end Failed later. The control API's provider and
 * quota settings are checked too (400 InvalidTemplateDeployment, see preflight). Answers 201 (200 when it
 * replaces a finished one) with state Accepted, `Azure-AsyncOperation` and Retry-After; the deployment
 * runs deploymentSeconds. 400 InvalidDeploymentName / InvalidDeploymentMode / InvalidRequestContent;
 * 409 DeploymentActive (one with that name is running) / ResourceGroupBeingDeleted.
 */
export async function putDeployment(r: ArmRequest): Promise<void> {
  const { ctx, sub, arm } = r;
  const { deps } = arm;
  const parsed = parseDeploymentRequest(r);
  const { rg, name, templateLink, parametersLink } = parsed;
  const existing = rg.deployments[key(name)];
  if (existing) {
    arm.advanceDeployment(sub, rg, existing);
    if (isActive(existing)) {
      throw armError(409, 'DeploymentActive', `Unable to edit or replace deployment '${existing.name}': previous deployment from '${existing.createdAt}' is still active (expiration time is '${nowIso(Date.parse(existing.createdAt) + 7 * 86400_000)}'). Please see https://aka.ms/arm-deploy for usage details.`);
    }
  }
  // Validation (synchronous): the evaluator runs now; validation-phase errors refuse the PUT with 400.
  const { pending, template, parameters } = await evaluateDeployment(r, parsed);
  if ('resources' in pending) preflight(r, name, pending.resources, false);
  // The RG may have been deleted while the evaluator ran.
  if (sub.resourceGroups[key(rg.name)] !== rg || (rg.provisioningState as string) === 'Deleting') throw rgBeingDeleted(rg.name);
  const now = Date.now();
  const total = deploymentMs(deps.state);
  const d: Deployment = {
    name: existing?.name ?? name,
    operationId: String(BigInt('0x' + randomUUID().replace(/-/g, '').slice(0, 15))),
    correlationId: ctx.correlationId,
    provisioningState: 'Accepted',
    mode: parsed.mode,
    parameters,
    ...(templateLink ? { templateLink: { ...templateLink, contentVersion: (isObject(template) && typeof template.contentVersion === 'string' ? template.contentVersion : '1.0.0.0') } } : {}),
    ...(parametersLink ? { parametersLink: { uri: parametersLink.uri, contentVersion: '1.0.0.0' } } : {}),
    templateHash: templateHash(parsed.props.template, templateLink),
    createdAt: nowIso(now),
    timestamp: nowIso(now),
    runningAtMs: now + Math.min(total * 0.1, 1000),
    completesAtMs: now + total,
    pending,
  };
  rg.deployments[key(name)] = d;
  pruneHistory(rg, deps.limits.deploymentsPerResourceGroup);
  arm.schedule(d.runningAtMs, () => arm.advanceDeployment(sub, rg, d), sub);
  arm.schedule(d.completesAtMs, () => arm.advanceDeployment(sub, rg, d), sub);
  deps.log('deployment accepted', { subscriptionId: sub.id, resourceGroup: rg.name, deployment: name });
  deps.store.changed();
  const asyncOp = `${ctx.baseUrl}/subscriptions/${sub.id}/resourcegroups/${rg.name}/providers/Microsoft.Resources/deployments/${d.name}/operationStatuses/${d.operationId}?api-version=${encodeURIComponent(r.apiVersion)}`;
  send(ctx, existing ? 200 : 201, deploymentBody(sub, rg, d), { 'Azure-AsyncOperation': asyncOp, 'Retry-After': retryAfter(d.completesAtMs) });
}

/**
 * `POST .../deployments/{name}/validate` (deployments.validate / beginValidate[AndWait]): the same checks as the
 * PUT and the template evaluation, then the preflight (preflight(), `validation`), and nothing is created or
 * changed. Valid: 200 `{id, name, type, properties: {provisioningState: 'Succeeded', validatedResources, providers,
 * dependencies, parameters, mode, templateHash, ...}}`. Invalid: 400 with ARM's error (InvalidTemplate & co. from the
 * evaluator, InvalidTemplateDeployment with details from the preflight). An evaluator error that would only fail
 * the deployment later (e.g. reference() to a missing resource) does not fail validation, as in ARM; the emulator
 * reports it as a Warning in `properties.diagnostics`. Real ARM answers 202 + Location for long validations; the
 * emulator always answers at once (the SDK's poller accepts both).
 */
export async function validateDeployment(r: ArmRequest): Promise<void> {
  const { ctx, sub } = r;
  const parsed = parseDeploymentRequest(r);
  const { rg, name, props, templateLink } = parsed;
  const { pending, parameters } = await evaluateDeployment(r, parsed);
  const resources = 'resources' in pending ? pending.resources : [];
  if ('resources' in pending) preflight(r, name, resources, true);
  const providers = new Map<string, Map<string, Set<string>>>();
  for (const res of resources) {
    const [ns, ...rest] = res.type.split('/');
    const types = providers.get(ns) ?? new Map<string, Set<string>>();
    providers.set(ns, types);
    const locs = types.get(rest.join('/')) ?? new Set<string>();
    types.set(rest.join('/'), locs);
    if (res.location) locs.add(normalizeLocation(res.location));
  }
  const byId = new Map(resources.map((x) => [x.id.toLowerCase(), x]));
  const ref = (id: string): Record<string, unknown> => {
    const x = byId.get(id.toLowerCase());
    return { id, ...(x ? { resourceType: x.type, resourceName: x.name } : {}) };
  };
  const validationLevel = typeof props.validationLevel === 'string' ? props.validationLevel : 'Provider';
  send(ctx, 200, {
    id: deploymentId(sub.id, rg.name, name),
    name,
    type: 'Microsoft.Resources/deployments',
    properties: {
      templateHash: templateHash(props.template, templateLink),
      ...(templateLink ? { templateLink } : {}),
      parameters,
      mode: parsed.mode,
      provisioningState: 'Succeeded',
      timestamp: nowIso(),
      duration: 'PT0S',
      correlationId: ctx.correlationId,
      providers: [...providers].map(([namespace, types]) => ({ namespace, resourceTypes: [...types].map(([resourceType, locs]) => ({ resourceType, locations: [...locs] })) })),
      dependencies: resources.filter((x) => x.dependsOn?.length).map((x) => ({ ...ref(x.id), dependsOn: (x.dependsOn ?? []).map(ref) })),
      validatedResources: resources.map((x) => ({ id: x.id })),
      validationLevel,
      ...('error' in pending
        ? { diagnostics: [{ level: 'Warning', code: pending.error.details?.[0]?.code ?? pending.error.code, message: `The emulator could not evaluate the whole template during validation; the deployment would fail: ${pending.error.details?.[0]?.message ?? pending.error.message}` }] }
        : {}),
    },
  });
}

/** ARM keeps at most `limit` deployments per group; it deletes the oldest finished ones above that. */
function pruneHistory(rg: ResourceGroup, limit: number): void {
  const all = Object.entries(rg.deployments);
  if (all.length <= limit) return;
  const done = all.filter(([, d]) => !isActive(d)).sort((a, b) => Date.parse(a[1].createdAt) - Date.parse(b[1].createdAt));
  let excess = all.length - limit;
  for (const [k] of done) {
    if (excess-- <= 0) break;
    delete rg.deployments[k];
  }
}

// ---------------------------------------------------------------- lifecycle

/**
 * Ends a Running deployment: an injected `deployments.execute` fault (status >= 400 or none) makes it
 * Failed (DeploymentFailed with the rule's errorCode or ResourceDeploymentFailure); an evaluator error
 * makes it Failed; otherwise its resources are upserted (by id, case-insensitive; Complete mode removes the
 * group's others), outputs stored, state Succeeded. Workflows go through LogicArmHooks.prepareDeployed,
 * virtual machines and public IPs through prepareDeployedCompute (compute.ts).
 */
export function completeDeployment(deps: ArmDeps, sub: Subscription, rg: ResourceGroup, d: Deployment): void {
  const pending = d.pending;
  delete d.pending;
  d.timestamp = nowIso(d.completesAtMs);
  const fault = deps.faults.take('deployments.execute');
  if (fault && (fault.status === undefined || fault.status >= 400)) {
    d.provisioningState = 'Failed';
    d.error = {
      code: 'DeploymentFailed',
      message: DEPLOYMENT_FAILED_MESSAGE,
      details: [
        {
          code: fault.errorCode ?? 'ResourceDeploymentFailure',
          message: fault.errorCode
            ? `The resource operation failed with error code '${fault.errorCode}' (injected by the emulator).`
            : "The resource write operation failed to complete successfully, because it reached terminal provisioning state 'Failed'.",
        },
      ],
    };
  } else if (!pending) {
    d.provisioningState = 'Failed';
    d.error = { code: 'DeploymentFailed', message: DEPLOYMENT_FAILED_MESSAGE, details: [{ code: 'InternalServerError', message: 'The deployment result was lost.' }] };
  } else if ('error' in pending) {
    d.provisioningState = 'Failed';
    d.error = pending.error;
  } else {
    // Incremental mode: upsert resources (by id, case-insensitive) into the target resource groups.
    for (const res of pending.resources) {
      const targetSub = deps.state.subscriptions[res.subscriptionId] ?? sub;
      const target = targetSub.resourceGroups[key(res.resourceGroupName)] ?? rg;
      const i = target.resources.findIndex((x) => ciEq(x.id, res.id));
      if (deps.logic && res.type.toLowerCase() === 'microsoft.logic/workflows') deps.logic.prepareDeployed(i >= 0 ? target.resources[i] : undefined, res);
      prepareDeployedCompute(i >= 0 ? target.resources[i] : undefined, res, d.timestamp);
      if (i >= 0) target.resources[i] = res;
      else target.resources.push(res);
    }
    if (d.mode === 'Complete') {
      const ids = new Set(pending.resources.map((x) => x.id.toLowerCase()));
      rg.resources = rg.resources.filter((x) => ids.has(x.id.toLowerCase()));
    }
    d.outputs = pending.outputs;
    d.outputResources = pending.resources.map((x) => ({ id: x.id }));
    d.provisioningState = 'Succeeded';
  }
  deps.log('deployment finished', { subscriptionId: sub.id, resourceGroup: rg.name, deployment: d.name, state: d.provisioningState });
  deps.store.changed();
}

// ---------------------------------------------------------------- parameters echo

const SECURE_TYPES = new Set(['securestring', 'secureobject']);

function armTypeName(t: string): string {
  switch (t.toLowerCase()) {
    case 'string': return 'String';
    case 'securestring': return 'SecureString';
    case 'int': return 'Int';
    case 'bool': return 'Bool';
    case 'object': return 'Object';
    case 'secureobject': return 'SecureObject';
    case 'array': return 'Array';
    default: return t;
  }
}

/**
 * Parameters as ARM echoes them in a deployment: `{ name: { type, value } }` for every template
 * parameter that has a value (given, or a literal default); secure ones as `{ type }` only.
 */
export function echoParameters(template: unknown, fromLink: Record<string, unknown> | undefined, given: Record<string, unknown> | undefined): Record<string, unknown> {
  const declared = isObject(template) && isObject(template.parameters) ? template.parameters : {};
  const values: Record<string, unknown> = { ...(fromLink ?? {}), ...(given ?? {}) };
  const out: Record<string, unknown> = {};
  const names = new Set([...Object.keys(declared), ...Object.keys(values)]);
  for (const n of names) {
    const decl = isObject(declared[n]) ? (declared[n]) : {};
    const type = typeof decl.type === 'string' ? decl.type : 'String';
    const givenEntry = Object.entries(values).find(([k]) => ciEq(k, n))?.[1];
    let value: unknown;
    let has = false;
    if (isObject(givenEntry) && 'value' in givenEntry) {
      value = givenEntry.value;
      has = true;
    } else if (isObject(givenEntry) && 'reference' in givenEntry) {
      has = true;
    } else if ('defaultValue' in decl && !(typeof decl.defaultValue === 'string' && decl.defaultValue.startsWith('[') && !decl.defaultValue.startsWith('[['))) {
      value = decl.defaultValue;
      has = true;
    }
    if (!has) continue;
    out[n] = SECURE_TYPES.has(type.toLowerCase()) || (isObject(givenEntry) && 'reference' in givenEntry) ? { type: armTypeName(type) } : { type: armTypeName(type), value };
  }
  return out;
}
