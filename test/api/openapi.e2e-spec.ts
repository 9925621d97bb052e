jest.setTimeout(120_000);
import type { z } from 'zod';
import { openApiComponents } from '../../src/bootstrap';
import { namedApiComponents } from '../../src/common/openapi';
import { TestDriveTypeRegistry } from '../../src/test-drives/test-drive-type.registry';
import { DASHBOARD_ROUTES, PUBLIC_ROUTES, registeredRoutes, ROUTE_POLICY } from '../security/support';
import { LocalAzure, startLocalAzure, startService, TestService } from '../support/harness';
import { examplesIn, resolveRef, Schema, schemaProblems } from '../support/openapi-schema';

type Doc = Record<string, any>;
const ERROR_BODY = '#/components/schemas/ErrorBody';
const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' };

/** "/api/v1/offers/:offerId" (express) -> "/api/v1/offers/{offerId}" (OpenAPI). */
const openApiPath = (p: string): string => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Issue 9: the API description comes from the zod schemas that validate. Every route is documented
 * with its answers, every example conforms to its schema, the PUT /offers body is a union over the
 * test drive types with every field of each, and what the service answers conforms to what is documented.
 */
describe('OpenAPI document (/api/docs-json)', () => {
  let azure: LocalAzure;
  let svc: TestService;
  let doc: Doc;
  let components: Record<string, z.ZodType>;

  beforeAll(async () => {
    azure = await startLocalAzure(0.2);
    svc = await startService(azure);
    doc = (await svc.anonymous.get('/api/docs-json').expect(200)).body;
    components = { ...namedApiComponents(), ...openApiComponents(svc.app) };
  });
  afterAll(async () => {
    await svc?.close();
    await azure?.stop();
  });

  const op = (method: string, path: string): Doc | undefined => doc.paths?.[path]?.[method.toLowerCase()];
  const jsonSchemaOf = (response: Doc | undefined): Schema | undefined => response?.content?.['application/json']?.schema;

  it('documents every route with a success body and every error it can answer', () => {
    const problems: string[] = [];
    const routes = registeredRoutes(svc.app).filter((r) => !DASHBOARD_ROUTES.includes(r)); // HTML pages, not API operations
    expect(routes.length).toBeGreaterThanOrEqual(16);
    for (const route of routes) {
      const [method, expressPath] = route.split(' ');
      const path = openApiPath(expressPath);
      const o = op(method, path);
      if (!o) {
        problems.push(`${route}: not in the document`);
        continue;
      }
      const responses = (o.responses ?? {}) as Record<string, Doc>;
      const need = (status: number, why: string) => {
        if (!responses[status]) problems.push(`${route}: no ${status} response (${why})`);
      };
      const success = Object.entries(responses).filter(([s]) => /^2\d\d$/.test(s));
      if (!success.length) problems.push(`${route}: no 2xx response`);
      for (const [status, r] of success) {
        // GET /metrics answers the Prometheus text format (a documented text/plain body), not JSON.
        const textBody = route === 'GET /metrics' && Object.keys(r.content ?? {}).some((t) => t.startsWith('text/plain') && r.content[t].schema);
        if (status !== '204' && !jsonSchemaOf(r) && !textBody) problems.push(`${route}: ${status} has no body schema`);
        if (status === '204' && r.content) problems.push(`${route}: 204 documents a body`);
      }
      const isPublic = PUBLIC_ROUTES.includes(route);
      if (!isPublic) {
        if (!ROUTE_POLICY[route]) problems.push(`${route}: not in ROUTE_POLICY`);
        need(401, 'authenticated route');
        need(403, 'route with app roles');
        need(429, 'rate limit');
        need(503, 'token validation may be unavailable');
      }
      const params = (o.parameters ?? []) as Array<{ in: string; name: string }>;
      const hasBody = !!o.requestBody;
      const validatedInput = hasBody || params.some((p) => p.in === 'query' || (p.in === 'header' && /^(if-match|if-none-match|idempotency-key)$/i.test(p.name)));
      if (validatedInput) need(400, 'body, query or validated header');
      if (path.includes('{')) need(404, 'path parameter');
      if (hasBody) {
        need(413, 'request body');
        need(415, 'request body');
      }
      if (params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'if-match')) need(412, 'If-Match');
      for (const p of path.match(/\{([^}]+)\}/g) ?? []) {
        const name = p.slice(1, -1);
        const param = params.find((x) => x.in === 'path' && x.name === name) as Doc | undefined;
        if (!param?.schema) problems.push(`${route}: path parameter ${name} has no schema`);
      }
      for (const [status, r] of Object.entries(responses)) {
        if (Number(status) >= 400 && jsonSchemaOf(r)?.$ref !== ERROR_BODY) problems.push(`${route}: ${status} is not documented with the error body`);
        if (!r.description) problems.push(`${route}: ${status} has no description`);
      }
    }
    // Nothing documented that is not served.
    for (const [path, item] of Object.entries(doc.paths as Record<string, Doc>)) {
      for (const method of Object.keys(item)) {
        if (!routes.some((r) => r.split(' ')[0] === method.toUpperCase() && openApiPath(r.split(' ')[1]) === path)) problems.push(`${method.toUpperCase()} ${path}: documented but not served`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('describes the PUT /offers body as a union over the four test drive types, with every field of each', () => {
    const put = op('PUT', '/api/v1/offers/{offerId}')!;
    const bodyRef = put.requestBody.content['application/json'].schema.$ref as string;
    expect(bodyRef).toBe('#/components/schemas/PutOfferBody');
    const body = resolveRef(doc, bodyRef);
    const registry = svc.app.get(TestDriveTypeRegistry);
    const types = registry.names().sort();
    expect(types).toEqual(['azure-resource-manager', 'dynamics-365', 'logic-app', 'power-bi']);
    expect(body.oneOf).toHaveLength(4);

    // Each variant: alias, the type's testDrive (type is the literal wire name), its deployment.
    const byType: Record<string, { testDrive: Schema; deployment?: Schema }> = {};
    for (const v of body.oneOf as Schema[]) {
      const variant = resolveRef(doc, v.$ref as string);
      const props = variant.properties as Record<string, Schema>;
      expect(Object.keys(props).sort()).toEqual(['alias', 'deployment', 'escalation', 'leads', 'testDrive']);
      expect(variant.additionalProperties).toBe(false);
      const testDrive = resolveRef(doc, props.testDrive.$ref as string);
      const type = ((testDrive.properties as Record<string, Schema>).type.enum as string[])[0];
      byType[type] = { testDrive, deployment: props.deployment.$ref ? resolveRef(doc, props.deployment.$ref as string) : undefined };
    }
    expect(Object.keys(byType).sort()).toEqual(types);

    // The testDrive union in responses is discriminated by type.
    const union = resolveRef(doc, '#/components/schemas/TestDrive');
    expect(union.oneOf).toHaveLength(4);
    expect((union.discriminator as { propertyName: string }).propertyName).toBe('type');
    expect(Object.keys((union.discriminator as { mapping: object }).mapping).sort()).toEqual(types);
    const view = resolveRef(doc, '#/components/schemas/OfferView');
    expect((view.properties as Record<string, Schema>).testDrive.$ref).toBe('#/components/schemas/TestDrive');

    const fields = (s: Schema | undefined) => Object.keys((s?.properties ?? {})).sort();
    expect(fields(byType['azure-resource-manager'].testDrive)).toEqual(['accessInformation', 'description', 'durationHours', 'regions', 'type']);
    const region = ((byType['azure-resource-manager'].testDrive.properties as Record<string, Schema>).regions.items ?? {}) as Schema;
    expect(fields(region)).toEqual(['cold', 'hot', 'name', 'warm']);
    expect(fields(byType['dynamics-365'].testDrive)).toEqual(
      ['accessInformation', 'description', 'durationHours', 'instanceUrl', 'instanceWebApiUrl', 'licenseSku', 'maxConcurrent', 'product', 'roleName', 'trialLegalEntity', 'type'].sort(),
    );
    expect(fields(byType['logic-app'].testDrive)).toEqual(
      ['accessInformation', 'deprovisionLogicAppName', 'description', 'durationHours', 'logicAppName', 'maxConcurrent', 'region', 'resourceGroupName', 'type'].sort(),
    );
    expect(fields(byType['power-bi'].testDrive)).toEqual(['accessInformation', 'description', 'durationHours', 'embedUrl', 'type']);
    expect(fields(byType['azure-resource-manager'].deployment)).toEqual(['clientId', 'clientSecret', 'subscriptionId', 'tenantId']);
    expect(fields(byType['logic-app'].deployment)).toEqual(['clientId', 'clientSecret', 'subscriptionId', 'tenantId']);
    expect(fields(byType['dynamics-365'].deployment)).toEqual(['clientId', 'clientSecret', 'tenantId', 'tenantName']);
    expect(byType['power-bi'].deployment).toBeUndefined();

    // Every field each type's validator accepts is documented (generated from the same zod schemas), with a description.
    for (const t of registry.all()) {
      expect(fields(byType[t.type].testDrive)).toEqual(Object.keys(t.schemas!.testDrive.shape).sort());
      for (const [name, s] of Object.entries(byType[t.type].testDrive.properties as Record<string, Schema>)) {
        if (name !== 'type') expect([t.type, name, typeof s.description]).toEqual([t.type, name, 'string']);
      }
    }
    // The package revision parameters of the offer view are objects (they were documented as strings).
    const revision = (view.properties as Record<string, Schema>).packageRevision;
    expect(((revision.properties as Record<string, Schema>).parameters.items as Schema).type).toBe('object');
  });

  it('has examples that conform to their schemas (the document) and parse with the zod schemas they come from', () => {
    const problems: string[] = [];
    const found = examplesIn(doc);
    for (const ex of found) for (const p of schemaProblems(ex.value, ex.schema, doc)) problems.push(`${ex.where}: ${p}`);

    let parsed = 0;
    const parse = (where: string, component: string, value: unknown) => {
      const schema = components[component];
      if (!schema) return problems.push(`${where}: no zod schema for component ${component}`);
      const r = schema.safeParse(value);
      parsed++;
      if (!r.success) problems.push(`${where}: does not parse with ${component}: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    };
    for (const [name, schema] of Object.entries(doc.components.schemas as Record<string, Schema>)) {
      if (schema.example !== undefined) parse(`components.schemas.${name}`, name, schema.example);
    }
    for (const [path, item] of Object.entries(doc.paths as Record<string, Doc>)) {
      for (const [method, o] of Object.entries(item)) {
        const media = [o.requestBody, ...Object.values(o.responses ?? {})].flatMap((x: Doc | undefined) => Object.values(x?.content ?? {})) as Doc[];
        for (const m of media) {
          const ref = m.schema?.$ref as string | undefined;
          if (!ref) continue;
          const name = ref.slice('#/components/schemas/'.length);
          if (m.example !== undefined) parse(`${method} ${path}`, name, m.example);
          for (const [k, ex] of Object.entries((m.examples ?? {}) as Record<string, { value: unknown }>)) parse(`${method} ${path} examples.${k}`, name, ex.value);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(found.length).toBeGreaterThan(100);
    // Each component with an example, and one PUT body example per type.
    expect(parsed).toBeGreaterThanOrEqual(20);
    expect(Object.keys(op('PUT', '/api/v1/offers/{offerId}')!.requestBody.content['application/json'].examples).sort()).toEqual(
      ['PutAzureResourceManagerOffer', 'PutDynamics365Offer', 'PutLogicAppOffer', 'PutPowerBiOffer'],
    );
  });

  it('catches an example that does not conform (the check is not vacuous)', () => {
    const arm = resolveRef(doc, '#/components/schemas/PutAzureResourceManagerOffer');
    const bad = JSON.parse(JSON.stringify(arm.example));
    bad.testDrive.regions[0].hot = 100;
    bad.testDrive.regions[0].name = 'atlantis';
    bad.unknown = true;
    expect(schemaProblems(bad, { $ref: '#/components/schemas/PutOfferBody' }, doc)).not.toEqual([]);
    // hot is a count or a forecast policy (issue 15): 100 is neither.
    expect(schemaProblems(bad.testDrive, arm.properties ? (arm.properties as Record<string, Schema>).testDrive : {}, doc).join('\n')).toMatch(/regions\[0\]\.hot: matches none of anyOf/);
    bad.testDrive.regions[0].hot = { policy: 'forecast', min: 1, max: 100 };
    expect(schemaProblems(bad.testDrive, arm.properties ? (arm.properties as Record<string, Schema>).testDrive : {}, doc).join('\n')).toMatch(/regions\[0\]\.hot: matches none of anyOf/);
    const r = components.PutOfferBody.safeParse(bad);
    expect(r.success).toBe(false);
    // Refinements the document cannot express (a known region) still fail the zod parse.
    const unknownRegion = JSON.parse(JSON.stringify(arm.example));
    unknownRegion.testDrive.regions[0].name = 'atlantis';
    expect(schemaProblems(unknownRegion, { $ref: '#/components/schemas/PutOfferBody' }, doc)).toEqual([]);
    expect(components.PutOfferBody.safeParse(unknownRegion).success).toBe(false);
  });

  it('answers what it documents (success and error bodies conform to the documented schemas)', async () => {
    const problems: string[] = [];
    const check = (method: string, path: string, res: { status: number; body: unknown; text?: string }) => {
      const r = op(method, path)?.responses?.[String(res.status)] as Doc | undefined;
      if (!r) return problems.push(`${method} ${path}: answered ${res.status}, which is not documented`);
      const schema = jsonSchemaOf(r);
      if (!schema) {
        if (res.text) problems.push(`${method} ${path} ${res.status}: a body was sent but none is documented`);
        return;
      }
      for (const p of schemaProblems(res.body, schema, doc)) problems.push(`${method} ${path} ${res.status}: ${p}`);
    };
    const http = svc.http;
    const bi = { alias: 'Contoso sales dashboard', testDrive: { type: 'power-bi', embedUrl: 'https://app.powerbi.com/view?r=eyJrIjoiYSJ9' } };
    const armBody = resolveRef(doc, '#/components/schemas/PutAzureResourceManagerOffer').example as object;

    // Each documented operation, then the calls that exercise it (in this order: later calls build on earlier ones).
    const checkEach = async (method: string, path: string, calls: Array<() => PromiseLike<{ status: number; body: unknown; text?: string }>>) => {
      for (const call of calls) check(method, path, await call());
    };
    await checkEach('PUT', '/api/v1/offers/{offerId}', [
      () => http.put('/api/v1/offers/doc-bi').send(bi),
      () => http.put('/api/v1/offers/doc-bi').send(bi),
      () => http.put('/api/v1/offers/doc-arm').send(armBody),
      () => http.put('/api/v1/offers/doc-bad').send({ alias: '', testDrive: { type: 'power-bi', embedUrl: 'http://x' } }),
      () => http.put('/api/v1/offers/doc-bi').set('If-Match', '"999"').send(bi),
      () => http.put('/api/v1/offers/doc-bi').set('content-type', 'text/plain').send('x'),
    ]);
    await checkEach('GET', '/api/v1/offers', [() => http.get('/api/v1/offers')]);
    await checkEach('GET', '/api/v1/offers/{offerId}', [() => http.get('/api/v1/offers/doc-arm'), () => http.get('/api/v1/offers/nope')]);
    await checkEach('POST', '/api/v1/offers/{offerId}/publish', [() => http.post('/api/v1/offers/doc-arm/publish'), () => http.post('/api/v1/offers/doc-bi/publish')]);
    await checkEach('GET', '/api/v1/offers/{offerId}/package', [() => http.get('/api/v1/offers/doc-arm/package')]);
    const start = () => http.post('/api/v1/offers/doc-bi/sessions').set('Idempotency-Key', 'doc-1');
    let started: { body: { id: string } } | undefined;
    await checkEach('POST', '/api/v1/offers/{offerId}/sessions', [
      () => http.post('/api/v1/offers/doc-arm/sessions').send({ customer }),
      () => http.post('/api/v1/offers/doc-bi/sessions').send({ customer: { email: 'x' } }),
      async () => (started = await start().send({ customer })),
      () => start().send({ customer }),
      () => start().send({ customer, region: 'x' }),
    ]);
    const sessionUrl = `/api/v1/sessions/${started!.body.id}`;
    await checkEach('GET', '/api/v1/sessions/{id}', [() => http.get(sessionUrl), () => http.get('/api/v1/sessions/nope')]);
    await checkEach('GET', '/api/v1/offers/{offerId}/sessions', [() => http.get('/api/v1/offers/doc-bi/sessions')]);
    await checkEach('GET', '/api/v1/capacity', [() => http.get('/api/v1/capacity'), () => http.get('/api/v1/capacity?offerId=a&offerId=b')]);
    await checkEach('GET', '/api/v1/audit', [() => http.get('/api/v1/audit?limit=5'), () => http.get('/api/v1/audit?limit=0')]);
    await checkEach('DELETE', '/api/v1/sessions/{id}', [() => http.delete(sessionUrl)]);
    await checkEach('POST', '/api/v1/offers/{offerId}/unpublish', [() => http.post('/api/v1/offers/doc-bi/unpublish')]);
    await checkEach('DELETE', '/api/v1/offers/{offerId}', [() => http.delete('/api/v1/offers/doc-arm')]);
    // No token, a role the route does not allow, and the public health routes.
    await checkEach('GET', '/api/v1/offers', [() => svc.anonymous.get('/api/v1/offers')]);
    await checkEach('GET', '/api/v1/audit', [async () => (await svc.as('marketplace')).get('/api/v1/audit')]);
    await checkEach('GET', '/health', [() => svc.anonymous.get('/health')]);
    await checkEach('GET', '/health/live', [() => svc.anonymous.get('/health/live')]);
    expect(problems).toEqual([]);
  });
});
