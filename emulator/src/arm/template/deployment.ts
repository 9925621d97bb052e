import { ArmTemplateError, EvaluatedResource, TemplateDeploymentRequest } from './types';
import { CopyState, EvalEnv, ExpressionHost, ResolvedScope, withCopy } from './context';
import { classifyString, ExprNode, ExprNode as Node, visitCalls } from './expression';
import { evaluateCopyCount, evaluateNode, evaluateValue, parseCached, validateExpressions } from './evaluator';
import { invalidContentLink, invalidTemplate, resourceNotFound, toArmError } from './errors';
import { deepEquals, FUNCTIONS, isListFunction, isPlainObject, kindOf, toArmString } from './functions';
import { matchInstances, expandResources, ResourceInstance } from './resources';
import { parseJsonSource, parseTemplate, sourcePosition } from './source';
import { privateEndpointNic, synthesizeIdentity, synthesizeListResult, synthesizeReadOnlyProperties } from './readonly-properties';
import { parseResourceId, resourceGroupResourceId } from './resource-id';
import { armUri } from './functions';
import { fullWithOpenScriptOutputs, withOpenScriptOutputs } from './script-outputs';

/** ARM's limit on nested deployment depth (ARM docs: "Deployment limits" — 50 nested levels). */
export const MAX_NESTING_LEVEL = 50;

export type OutputMap = Record<string, { type: string; value: unknown }>;

/** State shared by a top-level deployment and all its nested deployments. */
export interface SharedState {
  fetchTemplate: (uri: string) => Promise<unknown>;
  /** See TemplateDeploymentRequest.listActionOverride. */
  listActionOverride?: TemplateDeploymentRequest['listActionOverride'];
  /** Deployed resources in completion order (deployments excluded). */
  deployed: EvaluatedResource[];
  /** Every deployed resource (deployments included) by lower-case id. */
  registry: Map<string, { resource: EvaluatedResource; full: Record<string, unknown> }>;
  existing: Map<string, EvaluatedResource>;
  warnings: string[];
  nested: Array<{ name: string; resourceGroupName: string; outputs: OutputMap; id?: string; templateLinkUri?: string }>;
  now: Date;
  counters: { depth: number };
  parseCache: Map<string, ExprNode>;
}

/** Creates the shared state of a top-level deployment request. */
export function createSharedState(req: TemplateDeploymentRequest): SharedState {
  const existing = new Map<string, EvaluatedResource>();
  for (const r of req.existingResources ?? []) existing.set(r.id.toLowerCase(), r);
  return {
    fetchTemplate: req.fetchTemplate,
    listActionOverride: req.listActionOverride,
    deployed: [],
    registry: new Map(),
    existing,
    warnings: [],
    nested: [],
    now: new Date(),
    counters: { depth: 0 },
    parseCache: new Map(),
  };
}

/** Supplied parameter values as in properties.parameters. */
export type SuppliedParameters = Record<string, unknown>;

const OUTPUT_TYPES: Record<string, string> = {
  string: 'String',
  securestring: 'SecureString',
  int: 'Int',
  bool: 'Bool',
  object: 'Object',
  secureobject: 'SecureObject',
  array: 'Array',
};

const PARAM_TYPES = new Set(['string', 'securestring', 'int', 'bool', 'object', 'secureobject', 'array']);

function paramJTokenName(t: string): string {
  switch (t) {
    case 'string':
    case 'securestring':
      return 'String, Uri';
    case 'int':
      return 'Integer';
    case 'bool':
      return 'Boolean';
    case 'array':
      return 'Array';
    default:
      return 'Object';
  }
}

/**
 * Resolves a supplied parameter entry `{ value }` or a Key Vault reference
 * `{ reference: { keyVault: { id }, secretName, secretVersion? } }` (ARM docs: "Use Azure Key Vault
 * to pass secure parameter value"). The emulator does not read vault contents: a reference
 * resolves to "emulated-secret-<secretName>" and a warning is recorded.
 */
export function resolveSuppliedParameter(name: string, entry: unknown, warnings: string[]): { provided: boolean; value?: unknown } {
  if (!isPlainObject(entry)) throw invalidTemplate(`The value of deployment parameter '${name}' is not valid: expected an object with a 'value' or 'reference' property.`);
  if (Object.prototype.hasOwnProperty.call(entry, 'value')) return { provided: true, value: entry.value };
  if (isPlainObject(entry.reference)) {
    const ref = entry.reference;
    const vaultId = isPlainObject(ref.keyVault) ? ref.keyVault.id : undefined;
    if (typeof vaultId !== 'string' || typeof ref.secretName !== 'string') {
      throw invalidTemplate(`The Key Vault reference of parameter '${name}' must have 'keyVault.id' and 'secretName'.`);
    }
    warnings.push(
      `Parameter '${name}': Key Vault secret '${ref.secretName}' of vault '${vaultId}' was resolved to the placeholder 'emulated-secret-${ref.secretName}' (the emulator does not read Key Vault contents here).`,
    );
    return { provided: true, value: `emulated-secret-${ref.secretName}` };
  }
  return { provided: false };
}

interface RunOptions {
  nestingLevel: number;
  /** Absolute URI this template was fetched from (for relativePath and deployment()). */
  templateLinkUri?: string;
  /** For expressionEvaluationOptions.scope = outer: the parent run providing parameters/variables. */
  outer?: TemplateRun;
  /** Copy loops active around an outer-scope nested deployment. */
  baseCopy?: CopyState;
}

/**
 * One template being deployed (the top-level one or a nested/linked one): parameters, lazy
 * variables, resource instances, deployment of each instance with read-only property synthesis,
 * nested deployments and outputs. Implements the expression host for its expressions.
 */
export class TemplateRun implements ExpressionHost {
  readonly parseCache: Map<string, ExprNode>;
  readonly counters: { depth: number };
  readonly now: Date;
  generatorsAllowed = false;
  private readonly params = new Map<string, { name: string; state: 'pending' | 'busy' | 'done'; value?: unknown }>();
  private readonly varDecls = new Map<string, { name: string; raw: unknown; copy?: Record<string, unknown> }>();
  private readonly varValues = new Map<string, unknown>();
  private readonly varBusy: string[] = [];
  private instances: ResourceInstance[] = [];
  private readonly baseEnv: EvalEnv;

  constructor(
    private readonly template: Record<string, unknown>,
    readonly scope: ResolvedScope,
    private readonly shared: SharedState,
    private readonly supplied: SuppliedParameters,
    private readonly opts: RunOptions,
  ) {
    this.parseCache = shared.parseCache;
    this.counters = shared.counters;
    this.now = shared.now;
    this.baseEnv = { host: this, copy: opts.baseCopy };
  }

  /** Environment for top-level template expressions (variables, outputs). */
  get env(): EvalEnv {
    return this.baseEnv;
  }

  // ---- validation phase ---------------------------------------------------------------------------

  /**
   * Validation: checks expression syntax and function names everywhere, binds and checks
   * parameters (ARM docs: "Parameters in ARM templates"), registers variables, expands resources
   * and resolves dependsOn. Throws ArmTemplateError (InvalidTemplate) on any problem.
   */
  async validate(): Promise<void> {
    validateExpressions(this.template, this.baseEnv);
    if (!this.opts.outer) await this.bindParameters();
    this.registerVariables();
    this.instances = await expandResources(this.template.resources, this.baseEnv, this.scope);
    for (const inst of this.instances) {
      const deps = inst.decl.dependsOn;
      if (deps === undefined) {
        if (inst.parent) inst.dependsOn.push(inst.parent);
        continue;
      }
      if (!Array.isArray(deps)) throw invalidTemplate(`The 'dependsOn' of resource '${inst.type}/${inst.name}' must be an array.`);
      for (const d of deps) {
        const v = await evaluateValue(d, inst.env);
        if (typeof v !== 'string') throw invalidTemplate(`The 'dependsOn' entries of resource '${inst.type}/${inst.name}' must be strings.`);
        const all = matchInstances(this.instances, v);
        const matches = all.filter((m) => m !== inst);
        // A resource that names itself in dependsOn is accepted (ARM ignores the edge; e.g. the quickstart
        // webapp-privateendpoint-vnet-injection); a name that matches nothing is refused.
        if (all.length === 0) throw invalidTemplate(`The resource '${v}' is not defined in the template. Please see https://aka.ms/arm-syntax for usage details.`);
        inst.dependsOn.push(...matches);
      }
      if (inst.parent && !inst.dependsOn.includes(inst.parent)) inst.dependsOn.push(inst.parent);
    }
    const implicit = await this.checkReferenceTargets();
    this.checkCycles(implicit);
  }

  /**
   * ARM rejects a dependency graph with a cycle before deploying anything: InvalidTemplate
   * "Deployment template validation failed: 'Circular dependency detected on resource: '<id>'. Please
   * see https://aka.ms/arm-syntax-resources for usage details.'" (the wording ARM returns, e.g.
   * akshata29/entaoai#15, polymind-inc/acmebot#1089; older ARM linked aka.ms/arm-template/#resources).
   * Edges: dependsOn, parent resources, and the implicit dependencies of reference()/list*() calls on
   * resources of this template (ARM docs: "Define the order for deploying resources").
   */
  private checkCycles(implicit: Map<ResourceInstance, Set<ResourceInstance>>): void {
    const edges = (i: ResourceInstance): ResourceInstance[] => [...i.dependsOn, ...(implicit.get(i) ?? [])];
    const state = new Map<ResourceInstance, 1 | 2>();
    for (const root of this.instances) {
      if (state.has(root)) continue;
      const stack: Array<{ inst: ResourceInstance; deps: ResourceInstance[]; next: number }> = [{ inst: root, deps: edges(root), next: 0 }];
      state.set(root, 1);
      while (stack.length) {
        const top = stack[stack.length - 1];
        if (top.next >= top.deps.length) {
          state.set(top.inst, 2);
          stack.pop();
          continue;
        }
        const dep = top.deps[top.next++];
        const st = state.get(dep);
        if (st === 1) throw invalidTemplate(circularDependency(dep.id));
        if (st === undefined) {
          state.set(dep, 1);
          stack.push({ inst: dep, deps: edges(dep), next: 0 });
        }
      }
    }
  }

  /**
   * ARM validates reference() targets given by name before deploying: a name that is neither a
   * resource (or copy) of this template nor a resource id fails with InvalidTemplate "The template
   * reference 'x' is not valid: could not find template resource or resource copy with this name."
   * Targets that can be computed at validation (literals, parameters(), variables(), concat(),
   * resourceId() ...) are checked; the others when they are evaluated. Nested inline templates are
   * checked by their own run. Returns the implicit dependencies these reference()/list*() calls
   * create between resources of this template (for the cycle check).
   */
  private async checkReferenceTargets(): Promise<Map<ResourceInstance, Set<ResourceInstance>>> {
    const implicit = new Map<ResourceInstance, Set<ResourceInstance>>();
    const collect = (v: unknown, depth: number, out: Node[]): void => {
      if (depth > 200) return;
      if (typeof v === 'string') {
        const k = classifyString(v);
        if (k.expression) out.push(parseCached(k.body, this.baseEnv));
      } else if (Array.isArray(v)) for (const x of v) collect(x, depth + 1, out);
      else if (isPlainObject(v)) {
        for (const [k, x] of Object.entries(v)) {
          if (k === 'template' && depth > 0 && isPlainObject(x) && 'resources' in x) continue; // nested template: its own run
          if (k === 'resources' && depth === 0) continue; // child resources: their own instances
          collect(x, depth + 1, out);
        }
      }
    };
    // expressions per declaration (the instances of a copy loop share one)
    const owners = new Map<Record<string, unknown>, ResourceInstance[]>();
    for (const inst of this.instances) owners.set(inst.decl, [...(owners.get(inst.decl) ?? []), inst]);
    const groups: Array<{ insts: ResourceInstance[]; nodes: Node[] }> = [];
    for (const [decl, insts] of owners) {
      const nodes: Node[] = [];
      collect(decl, 0, nodes);
      groups.push({ insts, nodes });
    }
    const outputNodes: Node[] = [];
    if (isPlainObject(this.template.outputs)) for (const o of Object.values(this.template.outputs)) collect(o, 1, outputNodes);
    groups.push({ insts: [], nodes: outputNodes });
    const existingSymbols = new Set(
      isPlainObject(this.template.resources)
        ? Object.entries(this.template.resources).filter(([, r]) => isPlainObject(r) && r.existing === true).map(([k]) => k.toLowerCase())
        : [],
    );
    const staticOnly = (n: Node): boolean => {
      let ok = true;
      visitCalls(n, (name) => {
        const l = name.toLowerCase();
        if (l === 'reference' || l === 'references' || isListFunction(l) || l === 'copyindex' || l === 'lambdavariables' || l === 'newguid' || l === 'utcnow') ok = false;
      });
      return ok;
    };
    for (const { insts, nodes } of groups) {
      for (const root of nodes) {
        const calls: Array<Node & { kind: 'call' }> = [];
        visitCalls(root, (name, node) => {
          const l = name.toLowerCase();
          if ((l === 'reference' || (isListFunction(l) && !FUNCTIONS[l])) && node.args.length > 0) calls.push(node);
        });
        for (const call of calls) {
          const arg = call.args[0];
          if (!staticOnly(arg)) continue;
          let target: unknown;
          try {
            target = await evaluateNode(arg, this.baseEnv);
          } catch {
            continue; // reported when the expression is evaluated
          }
          if (typeof target !== 'string') continue;
          const t = target.toLowerCase();
          const matches = target.startsWith('/')
            ? matchInstances(this.instances, target)
            : instancesNamed(this.instances, t);
          for (const owner of insts) {
            for (const m of matches) if (m !== owner) (implicit.get(owner) ?? implicit.set(owner, new Set()).get(owner)!).add(m);
          }
          if (matches.length || call.name.toLowerCase() !== 'reference' || target.includes('/') || existingSymbols.has(t)) continue;
          if (this.opts.outer) continue; // an outer-scope nested template may name its parent's resources
          throw invalidTemplate(referenceNotValid(target));
        }
      }
    }
    return implicit;
  }

  private async bindParameters(): Promise<void> {
    const declared = this.template.parameters ?? {};
    if (!isPlainObject(declared)) throw invalidTemplate("The template property 'parameters' must be an object.");
    const declaredLower = new Map<string, string>();
    for (const k of Object.keys(declared)) declaredLower.set(k.toLowerCase(), k);
    const supplied = new Map<string, { name: string; entry: unknown }>();
    for (const [k, v] of Object.entries(this.supplied ?? {})) supplied.set(k.toLowerCase(), { name: k, entry: v });
    const extra = [...supplied.values()].filter((s) => !declaredLower.has(s.name.toLowerCase())).map((s) => s.name);
    if (extra.length) {
      throw invalidTemplate(
        `The template parameters '${extra.join(', ')}' in the parameters file are not valid; they are not present in the original template and can therefore not be provided at deployment time. The only supported parameters for this template are '${Object.keys(declared).join(', ')}'. Please see https://aka.ms/arm-pass-parameter-values for usage details.`,
      );
    }
    for (const k of Object.keys(declared)) this.params.set(k.toLowerCase(), { name: k, state: 'pending' });
    this.generatorsAllowed = true;
    try {
      for (const k of Object.keys(declared)) await this.resolveParameter(k.toLowerCase());
    } finally {
      this.generatorsAllowed = false;
    }
  }

  private async resolveParameter(lower: string): Promise<unknown> {
    const p = this.params.get(lower)!;
    if (p.state === 'done') return p.value;
    if (p.state === 'busy') throw invalidTemplate(`The template parameter '${p.name}' has a circular reference in its default value.`);
    p.state = 'busy';
    const def = (this.template.parameters as Record<string, unknown>)[p.name];
    if (!isPlainObject(def) || typeof def.type !== 'string') {
      throw invalidTemplate(`The template parameter '${p.name}' is not valid: it must be an object with a 'type'.`);
    }
    const type = def.type.toLowerCase();
    if (!PARAM_TYPES.has(type)) {
      throw invalidTemplate(`The template parameter '${p.name}' has an invalid type '${def.type}'. Allowed types are 'String, SecureString, Int, Bool, Object, SecureObject, Array'.`);
    }
    const suppliedEntry = [...Object.entries(this.supplied ?? {})].find(([k]) => k.toLowerCase() === lower);
    let value: unknown;
    let provided = false;
    if (suppliedEntry) {
      const r = resolveSuppliedParameter(p.name, suppliedEntry[1], this.shared.warnings);
      provided = r.provided;
      value = r.value;
    }
    if (!provided) {
      if (Object.prototype.hasOwnProperty.call(def, 'defaultValue')) {
        value = await evaluateValue(def.defaultValue, this.baseEnv);
      } else {
        const pos = sourcePosition(this.template, ['parameters', p.name]) ?? { line: 1, column: 1 };
        throw invalidTemplate(
          `The value for the template parameter '${p.name}' at line '${pos.line}' and column '${pos.column}' is not provided. Please see https://aka.ms/arm-create-parameter-file for usage details.`,
        );
      }
    }
    value = this.checkParameter(p.name, type, def, value);
    p.value = value;
    p.state = 'done';
    return value;
  }

  private checkParameter(name: string, type: string, def: Record<string, unknown>, value: unknown): unknown {
    const mismatch = (): ArmTemplateError =>
      invalidTemplate(
        `Template parameter JToken type is not valid. Expected '${paramJTokenName(type)}'. Actual '${kindOf(value)}'. Please see https://aka.ms/arm-create-parameter-file for usage details.`,
      );
    const nullable = value === null && def.nullable === true;
    if (!nullable) {
      switch (type) {
        case 'string':
        case 'securestring':
          if (typeof value !== 'string') throw mismatch();
          break;
        case 'int':
          if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) value = parseInt(value, 10);
          if (typeof value !== 'number' || !Number.isInteger(value)) throw mismatch();
          break;
        case 'bool':
          if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) value = value.trim().toLowerCase() === 'true';
          if (typeof value !== 'boolean') throw mismatch();
          break;
        case 'array':
          if (!Array.isArray(value)) throw mismatch();
          break;
        default:
          if (!isPlainObject(value)) throw mismatch();
      }
    }
    // ARM: "Deployment template validation failed: 'The provided value [for 'v'] for the template parameter
    // 'x' at line 'L' and column 'C' is not valid. <reason> Please see https://aka.ms/arm-syntax-parameters
    // for usage details.'" — L/C: the parameter's declaration object in the template text (ARM CI logs,
    // e.g. Azure/azure-quickstart-templates#1172; microsoft/vscode-azurearmtools#1350).
    const pos = sourcePosition(this.template, ['parameters', name]) ?? { line: 1, column: 1 };
    const at = `at line '${pos.line}' and column '${pos.column}'`;
    const refuse = (reason: string, shown?: unknown): ArmTemplateError =>
      invalidTemplate(
        `The provided value ${shown !== undefined ? `'${toArmString(shown)}' ` : ''}for the template parameter '${name}' ${at} is not valid. ${reason} Please see https://aka.ms/arm-syntax-parameters for usage details.`,
      );
    if (Array.isArray(def.allowedValues) && !nullable) {
      const allowed = def.allowedValues;
      const ok = (v: unknown): boolean => allowed.some((a) => deepEquals(a, v));
      const good = Array.isArray(value) && type === 'array' && !allowed.some((a) => Array.isArray(a)) ? value.every(ok) : ok(value);
      if (!good) {
        throw refuse(`The parameter value is not part of the allowed value(s): '${allowed.map((a) => toArmString(a)).join(',')}'.`, type === 'securestring' || type === 'secureobject' ? undefined : value);
      }
    }
    if (nullable) return value;
    const len = typeof value === 'string' || Array.isArray(value) ? value.length : undefined;
    if (len !== undefined && typeof def.minLength === 'number' && len < def.minLength) {
      throw refuse(`Length of the value should be greater than or equal to '${def.minLength}'.`);
    }
    if (len !== undefined && typeof def.maxLength === 'number' && len > def.maxLength) {
      throw refuse(`Length of the value should be less than or equal to '${def.maxLength}'.`);
    }
    if (typeof value === 'number' && typeof def.minValue === 'number' && value < def.minValue) {
      throw refuse(`The value should be greater than or equal to '${def.minValue}'.`);
    }
    if (typeof value === 'number' && typeof def.maxValue === 'number' && value > def.maxValue) {
      throw refuse(`The value should be less than or equal to '${def.maxValue}'.`);
    }
    return value;
  }

  private registerVariables(): void {
    if (this.opts.outer) return;
    const vars = this.template.variables ?? {};
    if (!isPlainObject(vars)) throw invalidTemplate("The template property 'variables' must be an object.");
    for (const [k, v] of Object.entries(vars)) {
      if (k.toLowerCase() === 'copy' && Array.isArray(v)) {
        for (const c of v) {
          if (!isPlainObject(c) || typeof c.name !== 'string' || !('count' in c) || !('input' in c)) {
            throw invalidTemplate("Each entry of the variables 'copy' array must have 'name', 'count' and 'input'.");
          }
          this.varDecls.set(c.name.toLowerCase(), { name: c.name, raw: c.input, copy: c });
        }
      } else this.varDecls.set(k.toLowerCase(), { name: k, raw: v });
    }
  }

  // ---- expression host ----------------------------------------------------------------------------

  /** ARM docs: parameters(name). */
  async getParameter(name: string): Promise<unknown> {
    if (this.opts.outer) return this.opts.outer.getParameter(name);
    const lower = name.toLowerCase();
    if (!this.params.has(lower)) throw invalidTemplate(`The template parameter '${name}' is not found. Please see https://aka.ms/arm-syntax-parameters for usage details.`);
    return this.resolveParameter(lower);
  }

  /** ARM docs: variables(name) — evaluated lazily once; cycles throw InvalidTemplate. */
  async getVariable(name: string): Promise<unknown> {
    if (this.opts.outer) return this.opts.outer.getVariable(name);
    const lower = name.toLowerCase();
    if (this.varValues.has(lower)) return this.varValues.get(lower);
    const decl = this.varDecls.get(lower);
    if (!decl) throw invalidTemplate(`The template variable '${name}' is not found. Please see https://aka.ms/arm-syntax-variables for usage details.`);
    if (this.varBusy.includes(lower)) {
      const chain = [...this.varBusy.slice(this.varBusy.indexOf(lower)), lower].map((v) => this.varDecls.get(v)?.name ?? v);
      throw invalidTemplate(`The template variable '${decl.name}' has a circular reference: '${chain.join(' -> ')}'.`);
    }
    this.varBusy.push(lower);
    try {
      let value: unknown;
      const env: EvalEnv = { host: this };
      if (decl.copy) {
        const count = await evaluateCopyCount(decl.copy.count, env, decl.name);
        const items: unknown[] = [];
        for (let i = 0; i < count; i++) items.push(await evaluateValue(decl.raw, withCopy(env, decl.name, i, true)));
        value = items;
      } else value = await evaluateValue(decl.raw, env);
      this.varValues.set(lower, value);
      return value;
    } finally {
      this.varBusy.pop();
    }
  }

  /** ARM docs: deployment() — name, properties.templateLink (linked), properties.template metadata. */
  deploymentInfo(): unknown {
    if (this.opts.outer) return this.opts.outer.deploymentInfo();
    const t = this.template;
    const template: Record<string, unknown> = { contentVersion: t.contentVersion ?? '1.0.0.0' };
    if (t.$schema !== undefined) template.$schema = t.$schema;
    if (t.metadata !== undefined) template.metadata = t.metadata;
    const properties: Record<string, unknown> = { template, mode: 'Incremental', provisioningState: 'Accepted' };
    if (this.opts.templateLinkUri) properties.templateLink = { uri: this.opts.templateLinkUri, contentVersion: t.contentVersion ?? '1.0.0.0' };
    return { name: this.scope.deploymentName, properties };
  }

  /** Finds the deployed resource a reference()/list*() target designates, deploying it first if it is declared here. */
  private async lookup(target: string): Promise<{ resource: EvaluatedResource; full: Record<string, unknown>; template?: boolean }> {
    const isId = target.startsWith('/');
    const t = target.toLowerCase();
    const local = isId
      ? matchInstances(this.instances, target)
      : instancesNamed(this.instances, t);
    if (local.length > 0) {
      const inst = local[0];
      await this.ensureDeployed(inst);
      if (inst.state === 'skipped' || !inst.result) throw resourceNotFound(`${inst.type}/${inst.name}`, inst.resourceGroupName);
      return { resource: inst.result, full: inst.full!, template: true };
    }
    if (this.opts.outer) {
      try {
        return await this.opts.outer.lookup(target);
      } catch (e) {
        if (!(e instanceof ArmTemplateError) || (e.code !== 'ResourceNotFound' && e.code !== 'InvalidTemplate')) throw e;
      }
    }
    if (isId) {
      const reg = this.shared.registry.get(target.toLowerCase());
      if (reg) return { ...reg, template: true };
      const ex = this.shared.existing.get(target.toLowerCase());
      if (ex) return { resource: ex, full: fullView(ex) };
      const parsed = parseResourceId(target);
      throw resourceNotFound(parsed ? `${parsed.type}/${parsed.name}` : target, parsed?.resourceGroup ?? this.scope.resourceGroupName);
    }
    const typed = typedName(target);
    if (typed) {
      // 'Namespace/type/name' of a resource outside the template: a resource of this resource group
      const id = resourceGroupResourceId(this.scope.subscriptionId, this.scope.resourceGroupName, typed.type, [typed.name]).toLowerCase();
      const reg = this.shared.registry.get(id);
      if (reg) return { ...reg, template: true };
      const ex = this.shared.existing.get(id);
      if (ex) return { resource: ex, full: fullView(ex) };
      throw resourceNotFound(`${typed.type}/${typed.name}`, this.scope.resourceGroupName);
    }
    throw invalidTemplate(referenceNotValid(target));
  }

  /**
   * ARM docs: reference(resourceName | 'Namespace/type/name' | resourceId, apiVersion?, 'Full'?) — the
   * resource's properties, or with 'Full' the whole resource (apiVersion, location, sku, kind, tags,
   * identity, zones, plan, id, name, type, properties...). A resource of this template is deployed first;
   * one that is neither declared nor existing fails with ResourceNotFound.
   */
  async reference(target: string, apiVersion: string | undefined, full: boolean): Promise<unknown> {
    const r = await this.lookup(target);
    if (!full) return withOpenScriptOutputs(r.resource.type, r.resource.properties);
    // ARM docs ("reference", Full example): the envelope also carries resourceId (type/name form),
    // referenceApiVersion, condition, isConditionTrue, isTemplateResource, isAction, provisioningOperation
    const version = apiVersion ?? (r.full.apiVersion as string | undefined);
    const idx = r.resource.id.toLowerCase().lastIndexOf('/providers/');
    return {
      ...(version !== undefined && r.full.apiVersion === undefined ? { apiVersion: version } : {}),
      ...fullWithOpenScriptOutputs(r.resource.type, r.full),
      resourceId: idx >= 0 ? r.resource.id.slice(idx + '/providers/'.length) : r.resource.id,
      ...(version !== undefined ? { referenceApiVersion: version } : {}),
      condition: true,
      isConditionTrue: true,
      isTemplateResource: r.template === true,
      isAction: false,
      provisioningOperation: r.template === true ? 'Create' : 'Read',
    };
  }

  /**
   * ARM docs: references(symbolicNameOfCollection, 'Full'?) (languageVersion 2.0) — reference() of
   * every deployed instance of a copy loop (by symbolic or copy name), in index order; instances
   * whose condition is false are left out.
   */
  async references(collection: string, full: boolean): Promise<unknown[]> {
    const c = collection.toLowerCase();
    const insts = this.instances.filter((i) => i.loopName === c || (i.symbolicName?.toLowerCase() === c && i.loopName !== undefined));
    if (insts.length === 0 && !this.instances.some((i) => i.symbolicName?.toLowerCase() === c)) {
      if (this.opts.outer) return this.opts.outer.references(collection, full);
      throw invalidTemplate(`The template function 'references' is not valid: '${collection}' is not the symbolic name of a resource collection. Please see https://aka.ms/arm-function-references for usage details.`);
    }
    const out: unknown[] = [];
    for (const inst of insts) {
      await this.ensureDeployed(inst);
      if (inst.state === 'done' && inst.result) {
        out.push(full ? fullWithOpenScriptOutputs(inst.type, inst.full!) : withOpenScriptOutputs(inst.type, inst.result.properties));
      }
    }
    return out;
  }

  /** ARM docs: list*(resourceNameOrId, apiVersion, functionValues?). */
  async listAction(functionName: string, target: string, apiVersion?: string): Promise<unknown> {
    const override = this.shared.listActionOverride?.(functionName, target, (id) => this.shared.registry.get(id.toLowerCase())?.resource ?? this.shared.existing.get(id.toLowerCase()));
    if (override !== undefined) return override;
    const implicit = await this.implicitAuthorizationRule(target);
    if (implicit) return synthesizeListResult(functionName, implicit, apiVersion);
    const r = await this.lookup(target);
    return synthesizeListResult(functionName, r.resource, apiVersion);
  }

  /**
   * The shared access rules Azure creates with every Notification Hubs / Service Bus / Event Hubs
   * namespace or hub (`DefaultFullSharedAccessSignature`, `DefaultListenSharedAccessSignature`,
   * `RootManageSharedAccessKey`): list* on them works while their parent exists, though no template
   * declares them (e.g. the quickstart mobile-app-create).
   */
  private async implicitAuthorizationRule(target: string): Promise<{ id: string; type: string; name: string } | null> {
    const m = /^(.*)\/authorizationRules\/(DefaultFullSharedAccessSignature|DefaultListenSharedAccessSignature|RootManageSharedAccessKey)$/i.exec(target.trim());
    if (!m || !/microsoft\.(notificationhubs|servicebus|eventhub)\//i.test(m[1])) return null;
    try {
      const parent = await this.lookup(m[1]);
      return { id: target, type: `${parent.resource.type}/authorizationRules`, name: `${parent.resource.name}/${m[2]}` };
    } catch {
      return null;
    }
  }

  // ---- runtime phase ----------------------------------------------------------------------------

  /** Deploys every instance (dependencies first), in template order. */
  async deploy(): Promise<void> {
    for (const inst of this.instances) await this.ensureDeployed(inst);
  }

  /** Deploys one instance unless already done: dependencies, condition, body, nested template. */
  private async ensureDeployed(inst: ResourceInstance): Promise<void> {
    if (inst.state === 'done' || inst.state === 'skipped') return;
    if (inst.state === 'deploying') {
      throw invalidTemplate(circularDependency(inst.id));
    }
    inst.state = 'deploying';
    try {
      for (const dep of inst.dependsOn) await this.ensureDeployed(dep);
      if (inst.parent?.state === 'skipped') {
        inst.state = 'skipped';
        return;
      }
      if (inst.decl.condition !== undefined) {
        let c = await evaluateValue(inst.decl.condition, inst.env);
        if (typeof c === 'string' && /^(true|false)$/i.test(c)) c = c.toLowerCase() === 'true';
        if (typeof c !== 'boolean') throw invalidTemplate(`The condition of resource '${inst.type}/${inst.name}' must evaluate to a boolean, but was '${kindOf(c)}'.`);
        if (!c) {
          inst.state = 'skipped';
          return;
        }
      }
      await this.deployInstance(inst);
      inst.state = 'done';
    } catch (e) {
      inst.state = inst.state === 'deploying' ? 'pending' : inst.state;
      const err = toArmError(e);
      if (err.target || err.code === 'DeploymentFailed') throw err;
      throw new ArmTemplateError(err.code, err.message, err.details, inst.id, err.phase);
    }
  }

  private async deployInstance(inst: ResourceInstance): Promise<void> {
    const isDeployment = inst.type.toLowerCase() === 'microsoft.resources/deployments';
    const skip = new Set(['copy', 'condition', 'dependson', 'resources', 'name', 'type', 'comments', 'resourcegroup', 'subscriptionid', 'existing', 'scope']);
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inst.decl)) {
      if (skip.has(k.toLowerCase())) continue;
      if (isDeployment && k === 'properties' && isPlainObject(v)) {
        const props: Record<string, unknown> = {};
        for (const [pk, pv] of Object.entries(v)) props[pk] = pk === 'template' ? pv : await evaluateValue(pv, inst.env);
        body[k] = props;
      } else body[k] = await evaluateValue(v, inst.env);
    }
    const declaredProps = isPlainObject(body.properties) ? body.properties : {};
    const location = typeof body.location === 'string' ? body.location : undefined;
    let properties: Record<string, unknown>;
    if (isDeployment) {
      properties = await this.runNested(inst, declaredProps);
    } else {
      properties = synthesizeReadOnlyProperties({ id: inst.id, type: inst.type, name: inst.name, location, kind: body.kind as string | undefined }, declaredProps, this.scope.location, this.scope.tenantId);
    }
    const resource: EvaluatedResource = {
      id: inst.id,
      type: inst.type,
      name: inst.name,
      properties,
      resourceGroupName: inst.resourceGroupName,
      subscriptionId: inst.subscriptionId,
    };
    if (typeof body.apiVersion === 'string') resource.apiVersion = body.apiVersion;
    if (location !== undefined) resource.location = location;
    if (isPlainObject(body.tags)) resource.tags = body.tags as Record<string, string>;
    if (body.sku !== undefined) resource.sku = body.sku;
    if (typeof body.kind === 'string') resource.kind = body.kind;
    if (body.identity !== undefined) resource.identity = synthesizeIdentity(inst.id, body.identity, this.scope.tenantId);
    if (body.zones !== undefined) resource.zones = body.zones;
    if (body.plan !== undefined) resource.plan = body.plan;
    if (inst.dependsOn.length) resource.dependsOn = [...new Set(inst.dependsOn.map((d) => d.id))];
    inst.result = resource;
    inst.full = fullView(resource);
    this.shared.registry.set(inst.id.toLowerCase(), { resource, full: inst.full });
    if (!isDeployment) this.shared.deployed.push(resource);
    if (inst.type.toLowerCase() === 'microsoft.network/privateendpoints') {
      // Azure creates the endpoint's network interface with it (readable through reference(), deleted with the group).
      const nic = privateEndpointNic(resource);
      this.shared.registry.set(nic.id.toLowerCase(), { resource: nic, full: fullView(nic) });
      this.shared.deployed.push(nic);
    }
  }

  /** Runs a Microsoft.Resources/deployments resource (inline template or templateLink). ARM docs: "Linked and nested templates". */
  private async runNested(inst: ResourceInstance, props: Record<string, unknown>): Promise<Record<string, unknown>> {
    const level = this.opts.nestingLevel + 1;
    if (level > MAX_NESTING_LEVEL) {
      throw invalidTemplate(`The deployment '${inst.name}' exceeds the maximum nesting depth of ${MAX_NESTING_LEVEL} nested deployments.`);
    }
    let templateSource: unknown;
    let linkUri: string | undefined;
    const link = props.templateLink;
    if (props.template !== undefined) {
      templateSource = props.template;
    } else if (isPlainObject(link)) {
      if (typeof link.uri === 'string' && link.uri) linkUri = link.uri;
      else if (typeof link.relativePath === 'string' && link.relativePath) {
        if (!this.opts.templateLinkUri) {
          throw invalidTemplate(`The deployment '${inst.name}' uses templateLink.relativePath but its parent template was not deployed from a templateLink uri.`);
        }
        linkUri = resolveRelative(this.opts.templateLinkUri, link.relativePath);
      } else if (typeof link.id === 'string') {
        throw invalidTemplate(`The deployment '${inst.name}' links a template spec ('${link.id}'), which the emulator does not support.`);
      } else throw invalidTemplate(`The templateLink of deployment '${inst.name}' must have a 'uri' or 'relativePath'.`);
      templateSource = await fetchContent(this.shared, linkUri);
    } else {
      throw invalidTemplate(`The deployment '${inst.name}' must have either 'template' or 'templateLink' in its properties.`);
    }
    const template = parseTemplate(templateSource);
    let params: SuppliedParameters = {};
    if (isPlainObject(props.parameters)) params = props.parameters;
    else if (isPlainObject(props.parametersLink) && typeof props.parametersLink.uri === 'string') {
      params = extractParameters(parseJsonSource(await fetchContent(this.shared, props.parametersLink.uri), 'parameters'));
    }
    const evalOpts = isPlainObject(props.expressionEvaluationOptions) ? props.expressionEvaluationOptions : {};
    const inner = linkUri !== undefined || String(evalOpts.scope ?? 'outer').toLowerCase() === 'inner';
    const scope: ResolvedScope = {
      ...this.scope,
      resourceGroupName: inst.resourceGroupName,
      subscriptionId: inst.subscriptionId,
      deploymentName: inst.name,
      resourceGroupTags: inst.resourceGroupName.toLowerCase() === this.scope.resourceGroupName.toLowerCase() ? this.scope.resourceGroupTags : {},
    };
    const child = new TemplateRun(template, scope, this.shared, inner ? params : {}, {
      nestingLevel: level,
      templateLinkUri: linkUri ?? this.opts.templateLinkUri,
      outer: inner ? undefined : this,
      baseCopy: inner ? undefined : inst.env.copy,
    });
    await child.validate();
    await child.deploy();
    const outputs = await child.evaluateOutputs();
    this.shared.nested.push({ name: inst.name, resourceGroupName: inst.resourceGroupName, outputs, id: inst.id, ...(linkUri ? { templateLinkUri: linkUri } : {}) });
    const result: Record<string, unknown> = {
      mode: props.mode ?? 'Incremental',
      provisioningState: 'Succeeded',
      outputs,
      outputResources: child.deployedIds().map((id) => ({ id })),
      timestamp: this.now.toISOString(),
      duration: 'PT1S',
      correlationId: '00000000-0000-0000-0000-000000000000',
      templateHash: '0',
    };
    if (linkUri) result.templateLink = { uri: linkUri, contentVersion: isPlainObject(link) ? (link.contentVersion ?? '1.0.0.0') : '1.0.0.0' };
    if (Object.keys(params).length) {
      result.parameters = Object.fromEntries(
        Object.entries(params).map(([k, v]) => [k, isPlainObject(v) && 'reference' in v && !('value' in v) ? { type: 'SecureString' } : v]),
      );
    }
    return result;
  }

  /** Ids of the resources this run deployed (not skipped). */
  deployedIds(): string[] {
    return this.instances.filter((i) => i.state === 'done').map((i) => i.id);
  }

  /** ARM docs: "Outputs in ARM templates" — condition, copy {count, input}, value; types as ARM returns them ("String"...). */
  async evaluateOutputs(): Promise<Record<string, { type: string; value: unknown }>> {
    const defs = this.template.outputs ?? {};
    if (!isPlainObject(defs)) throw invalidTemplate("The template property 'outputs' must be an object.");
    const out: Record<string, { type: string; value: unknown }> = {};
    for (const [name, def] of Object.entries(defs)) {
      if (!isPlainObject(def) || typeof def.type !== 'string') throw invalidTemplate(`The template output '${name}' must be an object with a 'type'.`);
      const env = this.baseEnv;
      if (def.condition !== undefined) {
        const c = await evaluateValue(def.condition, env);
        if (c === false || (typeof c === 'string' && c.toLowerCase() === 'false')) continue;
      }
      let value: unknown;
      if (isPlainObject(def.copy)) {
        const count = await evaluateCopyCount(def.copy.count, env, name);
        const items: unknown[] = [];
        for (let i = 0; i < count; i++) items.push(await evaluateValue(def.copy.input, withCopy(env, `__output_${name}`, i, true)));
        value = items;
      } else value = await evaluateValue(def.value, env);
      out[name] = { type: OUTPUT_TYPES[def.type.toLowerCase()] ?? def.type, value };
    }
    return out;
  }
}

/** ARM's InvalidTemplate text for a dependency cycle through `id`. */
export function circularDependency(id: string): string {
  return `Circular dependency detected on resource: '${id}'. Please see https://aka.ms/arm-syntax-resources for usage details.`;
}

/** ARM's InvalidTemplate text for a reference() target that names no resource of the template. */
export function referenceNotValid(target: string): string {
  return `The template reference '${target}' is not valid: could not find template resource or resource copy with this name. Please see https://aka.ms/arm-function-reference for usage details.`;
}

/**
 * Splits 'Namespace/type/name[/childType/childName]' into type and name. ARM docs ("reference" —
 * resource name or identifier): after the namespace, type/name pairs from the least to the most
 * specific ('Microsoft.Compute/virtualMachines/myVM/extensions/myExt', not '.../virtualMachines/extensions/myVM/myExt').
 */
export function typedName(target: string): { type: string; name: string } | undefined {
  const segs = target.split('/').filter((x) => x.length > 0);
  if (segs.length < 3 || segs.length % 2 === 0 || !segs[0].includes('.')) return undefined;
  const types = [segs[0]];
  const names: string[] = [];
  for (let i = 1; i < segs.length; i += 2) {
    types.push(segs[i]);
    names.push(segs[i + 1]);
  }
  return { type: types.join('/'), name: names.join('/') };
}

/**
 * True when lower-case `t` designates the instance: its name, symbolic name, 'Namespace/type/name'
 * in ARM's interleaved form, or the full type followed by the names (the dependsOn spelling).
 */
function namesInstance(i: ResourceInstance, t: string): boolean {
  if (i.name.toLowerCase() === t || i.symbolicName?.toLowerCase() === t || `${i.type}/${i.name}`.toLowerCase() === t) return true;
  const typed = typedName(t);
  return typed !== undefined && typed.type === i.type.toLowerCase() && typed.name === i.name.toLowerCase();
}

/**
 * The instances `t` (lower case, not a resource id) names: by name, symbolic name or `type/name`; failing
 * those, a child resource declared inside its parent's `resources` by its own (last) name segment, as ARM
 * resolves reference('endpoint-x') of a CDN endpoint nested in its profile (quickstart 201-cdn-with-web-app).
 */
function instancesNamed(instances: ResourceInstance[], t: string): ResourceInstance[] {
  const exact = instances.filter((i) => namesInstance(i, t));
  if (exact.length || t.includes('/')) return exact;
  return instances.filter((i) => i.parent !== undefined && i.name.toLowerCase().split('/').pop() === t);
}

/** The 'Full' reference() view: resource envelope plus properties. */
export function fullView(r: EvaluatedResource): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['apiVersion', 'location', 'tags', 'sku', 'kind', 'identity', 'zones', 'plan'] as const) if (r[k] !== undefined) out[k] = r[k];
  out.id = r.id;
  out.name = r.name;
  out.type = r.type;
  out.resourceGroupName = r.resourceGroupName;
  out.subscriptionId = r.subscriptionId;
  out.properties = r.properties;
  return out;
}

/** Resolves templateLink.relativePath against the parent's link uri, keeping the parent's query (SAS token). ARM docs: "relativePath". */
export function resolveRelative(parentUri: string, relativePath: string): string {
  const q = parentUri.indexOf('?');
  const base = q >= 0 ? parentUri.slice(0, q) : parentUri;
  const query = q >= 0 ? parentUri.slice(q) : '';
  const resolved = armUri(base, relativePath);
  return resolved.includes('?') ? resolved : resolved + query;
}

/** Fetches linked content through the caller's fetchTemplate; failures become InvalidContentLink. */
export async function fetchContent(shared: SharedState, uri: string): Promise<unknown> {
  try {
    return await shared.fetchTemplate(uri);
  } catch (e) {
    throw invalidContentLink(uri, e instanceof Error ? e.message : String(e));
  }
}

/** Takes the `parameters` object of a deploymentParameters document (or the object itself when it has no such key). */
export function extractParameters(doc: unknown): SuppliedParameters {
  if (!isPlainObject(doc)) throw invalidTemplate('The parameters content must be a JSON object.');
  const p = isPlainObject(doc.parameters) && ('$schema' in doc || 'contentVersion' in doc) ? doc.parameters : doc.parameters ?? doc;
  if (!isPlainObject(p)) throw invalidTemplate('The parameters content must be a JSON object.');
  return p;
}
