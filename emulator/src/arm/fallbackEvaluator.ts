import { ArmTemplateError, type EvaluatedResource, type TemplateDeploymentRequest, type TemplateDeploymentResult } from './template/types';

/** Message the stub evaluator throws until the real one lands (emulator/src/arm/template/evaluate.ts). */
export const STUB_MESSAGE = 'Template evaluation is not implemented yet.';

/** True when `e` is the stub evaluator's "not implemented" error. */
export function isStubError(e: unknown): boolean {
  return e instanceof ArmTemplateError && e.message === STUB_MESSAGE;
}

function hasExpression(v: unknown): boolean {
  if (typeof v === 'string') return v.startsWith('[') && !v.startsWith('[[') && v.endsWith(']');
  if (Array.isArray(v)) return v.some(hasExpression);
  if (v && typeof v === 'object') return Object.entries(v).some(([k, x]) => hasExpression(k) || hasExpression(x));
  return false;
}

/**
 * Stop-gap evaluator used ONLY while the real one is a stub: accepts inline templates whose
 * outputs and resources are literal (no `[...]` expressions); anything else throws ArmTemplateError
 * InvalidTemplate. Output values are returned as declared: `{ type, value }`.
 */
export async function fallbackEvaluate(req: TemplateDeploymentRequest): Promise<TemplateDeploymentResult> {
  const t = req.template as Record<string, unknown> | undefined;
  if (!t || typeof t !== 'object' || Array.isArray(t)) throw new ArmTemplateError('InvalidTemplate', 'The emulator fallback evaluator supports inline templates only (the ARM template evaluator is not available).');
  const outputsIn = (t.outputs ?? {}) as Record<string, { type?: string; value?: unknown }>;
  const resourcesIn = (Array.isArray(t.resources) ? t.resources : []) as Array<Record<string, unknown>>;
  if (hasExpression(outputsIn) || hasExpression(resourcesIn)) {
    throw new ArmTemplateError('InvalidTemplate', 'Template expressions are not supported by the emulator fallback evaluator (the ARM template evaluator is not available).');
  }
  const outputs: Record<string, { type: string; value: unknown }> = {};
  for (const [k, o] of Object.entries(outputsIn)) outputs[k] = { type: String(o?.type ?? 'String'), value: o?.value };
  const { scope } = req;
  const resources: EvaluatedResource[] = resourcesIn.map((r) => {
    const type = String(r.type ?? '');
    const name = String(r.name ?? '');
    const [ns, ...typeParts] = type.split('/');
    const names = name.split('/');
    let path = `${ns}`;
    typeParts.forEach((tp, i) => (path += `/${tp}/${names[i] ?? ''}`));
    return {
      id: `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroupName}/providers/${path}`,
      type,
      name,
      apiVersion: r.apiVersion as string | undefined,
      location: (r.location as string | undefined) ?? scope.location,
      tags: r.tags as Record<string, string> | undefined,
      properties: { ...((r.properties as Record<string, unknown>) ?? {}), provisioningState: 'Succeeded' },
      resourceGroupName: scope.resourceGroupName,
      subscriptionId: scope.subscriptionId,
    };
  });
  return { resources, outputs, nestedDeployments: [] };
}
