import { ExprNode } from './expression';

/** Where the template being evaluated deploys: backs resourceGroup(), subscription(), tenant(), deployment(). */
export interface ResolvedScope {
  tenantId: string;
  subscriptionId: string;
  resourceGroupName: string;
  location: string;
  resourceGroupTags: Record<string, string>;
  deploymentName: string;
  armEndpoint: string;
  /** The principal deploying (deployer()). */
  deployer?: { objectId: string; tenantId?: string; userPrincipalName?: string };
}

/** Active copy loops: loop name (lower-case) -> current index; `current` is the loop copyIndex() without a name uses. */
export interface CopyState {
  loops: Map<string, number>;
  current?: string;
}

/** Services the expression evaluator needs from the template run (one per template / nesting level). */
export interface ExpressionHost {
  readonly scope: ResolvedScope;
  /** ARM docs: parameters(name) — case-insensitive; throws InvalidTemplate when undeclared. */
  getParameter(name: string): Promise<unknown>;
  /** ARM docs: variables(name) — lazy, case-insensitive; throws InvalidTemplate when undeclared or circular. */
  getVariable(name: string): Promise<unknown>;
  /** ARM docs: deployment() object for this deployment. */
  deploymentInfo(): unknown;
  /** ARM docs: reference(resourceNameOrId, apiVersion?, 'Full'?). */
  reference(target: string, apiVersion: string | undefined, full: boolean): Promise<unknown>;
  /** ARM docs: references(symbolicNameOfCollection, 'Full'?) (languageVersion 2.0). */
  references(collection: string, full: boolean): Promise<unknown[]>;
  /** ARM docs: list*(resourceNameOrId, apiVersion, functionValues?). */
  listAction(functionName: string, target: string, apiVersion: string | undefined, body: unknown): Promise<unknown>;
  /** True only while evaluating parameter default values (newGuid()/utcNow() allowed there). */
  readonly generatorsAllowed: boolean;
  /** Deployment start time (utcNow()). */
  readonly now: Date;
  /** Shared evaluation-depth counter (guards stack use across variables/functions). */
  readonly counters: { depth: number };
  /** Parsed-expression cache. */
  readonly parseCache: Map<string, ExprNode>;
}

/** Evaluation environment of one expression: host, active copy loops and lambda variables. */
export interface EvalEnv {
  host: ExpressionHost;
  copy?: CopyState;
  lambdas?: Map<string, unknown>;
}

/** Returns an environment with an additional copy loop at `index`; `makeCurrent` makes it the copyIndex() default. */
export function withCopy(env: EvalEnv, loopName: string, index: number, makeCurrent: boolean): EvalEnv {
  const loops = new Map(env.copy?.loops ?? []);
  loops.set(loopName.toLowerCase(), index);
  return { ...env, copy: { loops, current: makeCurrent ? loopName.toLowerCase() : env.copy?.current } };
}
