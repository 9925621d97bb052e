import type { PackageFile } from './package-zip';
import { templateJsonText } from './template-parameters';

const VM_TYPE = 'microsoft.compute/virtualmachines';

/**
 * How many `Microsoft.Compute/virtualMachines` resources the package's templates declare: every JSON
 * file of the package (the main template, linked templates, nested inline templates), each resource
 * object counted once whatever its `copy` count. Files that are not JSON are skipped.
 */
export function countVirtualMachines(files: readonly PackageFile[]): number {
  let n = 0;
  const walk = (v: unknown, depth: number): void => {
    if (depth > 64 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    if (typeof o.type === 'string' && o.type.toLowerCase() === VM_TYPE && (typeof o.name === 'string' || typeof o.apiVersion === 'string')) n++;
    for (const x of Object.values(o)) walk(x, depth + 1);
  };
  for (const f of files) {
    if (!f.path.toLowerCase().endsWith('.json')) continue;
    try {
      walk(JSON.parse(templateJsonText(f.data)), 0);
    } catch {
      /* not JSON: not a template */
    }
  }
  return n;
}

/**
 * The resource types the package's templates declare (`Namespace/type[/child]`, lower case, sorted,
 * deduplicated; nested `resources` of a parent are prefixed with its type as ARM does), for the publish
 * preflight's provider checks (issue 13). Expressions in `type` are skipped.
 */
export function declaredResourceTypes(files: readonly PackageFile[]): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, parent: string | null, depth: number): void => {
    if (depth > 64 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, parent, depth + 1);
      return;
    }
    const o = v as Record<string, unknown>;
    let here = parent;
    if (typeof o.type === 'string' && (typeof o.apiVersion === 'string' || typeof o.name === 'string') && !o.type.startsWith('[') && o.type.includes('/')) {
      const t = o.type.toLowerCase();
      here = parent && !t.includes('.') ? `${parent}/${t}` : t;
      out.add(here);
    } else if (typeof o.type === 'string' && parent && typeof o.apiVersion === 'string' && !o.type.startsWith('[')) {
      here = `${parent}/${o.type.toLowerCase()}`;
      out.add(here);
    }
    for (const [k, x] of Object.entries(o)) walk(x, k === 'resources' ? here : parent, depth + 1);
  };
  for (const f of files) {
    if (!f.path.toLowerCase().endsWith('.json')) continue;
    try {
      walk(JSON.parse(templateJsonText(f.data)), null, 0);
    } catch {
      /* not JSON */
    }
  }
  return [...out].filter((t) => /^[a-z0-9]+(\.[a-z0-9]+)+\/[a-z0-9/]+$/i.test(t)).sort();
}

/** Problems of an offer whose regions ask for warm instances while its package has no virtual machine. */
export function warmWithoutVirtualMachines(regions: ReadonlyArray<{ name: string; warm?: number }>, virtualMachines: number | null | undefined): Array<{ code: string; target: string; message: string }> {
  if (virtualMachines !== 0) return [];
  return regions
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => (r.warm ?? 0) > 0)
    .map(({ r, i }) => ({
      code: 'WarmNeedsVirtualMachines',
      target: `testDrive.regions[${i}].warm`,
      message: `Region ${r.name} asks for ${r.warm} warm instance(s), but the template package declares no Microsoft.Compute/virtualMachines resource: a warm instance is one whose virtual machines are deallocated while it waits. Use hot or cold instances, or a template with virtual machines.`,
    }));
}
