import { ARM_ROUTES } from './routes';
import { compileRoutes, findRoute, type ArmRoute } from './routing';

const handler = (): void => undefined;
const route = (methods: ArmRoute['methods'], pattern: string, extra: Partial<ArmRoute> = {}): ArmRoute => ({ methods, pattern, throttle: 'none', handler, ...extra });

describe('ARM route matching', () => {
  const table = compileRoutes([
    route(['GET'], '/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}'),
    route('*', '/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}'),
    route(['GET'], '/subscriptions/{subscriptionId}/providers/{namespace}/{*rest}', { requires: 'logic' }),
    route('*', '/subscriptions/{subscriptionId}/{resourceType}/{*rest}'),
  ]);
  const path = (p: string): string[] => p.split('/').filter(Boolean);

  it('matches literals case-insensitively and keeps parameters as spelled', () => {
    const m = findRoute(table, 'GET', path('/SUBSCRIPTIONS/S1/ResourceGroups/My-RG'), { logic: true });
    expect(m?.route).toBe(table[0].route);
    expect(m?.params).toEqual({ subscriptionId: 'S1', resourceGroupName: 'My-RG' });
  });

  it("falls through to '*' entries for other methods, and honours features", () => {
    expect(findRoute(table, 'POST', path('/subscriptions/s/resourcegroups/rg'), { logic: true })?.route).toBe(table[1].route);
    expect(findRoute(table, 'GET', path('/subscriptions/s/providers/ns/a/b'), { logic: true })).toMatchObject({ route: table[2].route, rest: ['a', 'b'] });
    expect(findRoute(table, 'GET', path('/subscriptions/s/providers/ns/a/b'), { logic: false })).toMatchObject({ route: table[3].route, params: { resourceType: 'providers' }, rest: ['ns', 'a', 'b'] });
  });

  it('needs every fixed segment; a trailing empty segment is a (empty) parameter value', () => {
    expect(findRoute(table, 'GET', ['subscriptions', 's', 'resourcegroups', ''], { logic: true })?.params.resourceGroupName).toBe('');
    expect(findRoute(table, 'GET', ['subscriptions', 's'], { logic: true })).toBeUndefined();
  });

  it('rejects {*rest} anywhere but last', () => {
    expect(() => compileRoutes([route('*', '/a/{*rest}/b')])).toThrow(/must be last/);
  });
});

describe('ARM route table', () => {
  it('compiles, and no entry is shadowed by an earlier catch-all entry of the same pattern', () => {
    const compiled = compileRoutes(ARM_ROUTES);
    expect(compiled).toHaveLength(ARM_ROUTES.length);
    ARM_ROUTES.forEach((r, i) => {
      const earlierCatchAll = ARM_ROUTES.slice(0, i).find((e) => e.methods === '*' && e.pattern.toLowerCase() === r.pattern.toLowerCase() && e.where === r.where && e.requires === r.requires);
      expect(earlierCatchAll).toBeUndefined();
    });
  });

  it('names a fault operation only from the documented ARM/Logic/Compute/preflight sets', () => {
    const ops = ARM_ROUTES.flatMap((r) => (r.fault ? [r.fault] : []));
    for (const op of ops) expect(op).toMatch(/^(resourceGroups\.(createOrUpdate|get|checkExistence|update|list|delete)|operations\.poll|deployments\.(createOrUpdate|get|list|delete|cancel)|resources\.(get|list|delete)|logic\.(list|get|createOrUpdate|update|delete|action)|virtualMachines\.(get|list|listAll|instanceView|start|deallocate)|deployments\.validate|roleAssignments\.(list|get)|roleDefinitions\.(list|get)|providers\.(list|get|register|unregister)|usage\.list)$/);
  });
});
