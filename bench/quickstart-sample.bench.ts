/**
 * Quickstart sample (issue 13): how faithfully the emulator runs real public templates.
 *
 * Deploys every resource-group-scope template of a sample of Azure quickstart templates
 * (github.com/Azure/azure-quickstart-templates, MIT; fetched as input data, never committed: see
 * bench/README.md for the selection rule and how to get it) into the emulator through the real
 * DeploymentsClient, the way the quickstart CI does (templateLink to the template's folder, served over
 * http; `_artifactsLocation` = that folder; GEN-* placeholders of azuredeploy.parameters.json filled),
 * and reports three counts:
 *   - deployed: the deployment Succeeded;
 *   - refused as ARM would: it failed because its inputs are incomplete or wrong and real ARM refuses
 *     them the same way (a required parameter without a value; a prerequisite the parameters file names
 *     with a placeholder we cannot fill, e.g. GEN-KEYVAULT-..., GET-PREREQ-...; a parameters file whose
 *     values break the template's own constraints or name parameters it does not declare), with ARM's
 *     error code and message;
 *   - wrong: any other failure — real ARM deploys these templates in the quickstart CI, so a failure is
 *     the emulator's (target: at most 2 % of the sample).
 * Templates for another scope (subscription, management group, tenant) are counted apart: test drives
 * deploy into a resource group.
 *
 *   QS_SAMPLE_DIR=/path/to/sample npm run bench -- quickstart-sample
 *   QS_SAMPLE_DIR=test/fixtures/arm npm run bench -- quickstart-sample    # the repository's own fixtures
 *
 * Without QS_SAMPLE_DIR the benchmark says how to get the sample and passes.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { start, armClients } from '../test/emulator/helpers';
import stripJsonComments from 'strip-json-comments';

jest.setTimeout(1_800_000);

interface TemplateCase {
  /** e.g. microsoft.storage/storage-account-create */
  name: string;
  dir: string;
  main: string;
}

type Outcome = { bucket: 'deployed' | 'refused' | 'wrong' | 'otherScope'; code?: string; message?: string; why?: string };

/** Every folder below `root` (two levels: provider/template, or one) holding azuredeploy.json or mainTemplate.json. */
function findTemplates(root: string): TemplateCase[] {
  const out: TemplateCase[] = [];
  const visit = (dir: string, rel: string, depth: number): void => {
    for (const main of ['azuredeploy.json', 'mainTemplate.json', 'main-template.json']) {
      const f = path.join(dir, main);
      if (fs.existsSync(f)) {
        out.push({ name: rel, dir, main });
        return;
      }
    }
    if (depth === 0) return;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) visit(path.join(dir, e.name), rel ? `${rel}/${e.name}` : e.name, depth - 1);
  };
  visit(root, '', 2);
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A JSON file as ARM reads it: a BOM and `//` or block comments allowed. */
const readJson = (f: string): any => JSON.parse(stripJsonComments(fs.readFileSync(f, 'utf8').replace(/^\uFEFF/, '')));

/** Placeholder values of the quickstart CI we can generate; any other GEN-* names a prerequisite. */
function fill(value: unknown, unfilled: string[], param: string): unknown {
  if (typeof value !== 'string' || !/^GE[NT]-/.test(value)) return value;
  const unique = /^GEN-UNIQUE(?:-(\d+))?$/.exec(value);
  if (unique) return ('q' + randomBytes(16).toString('hex')).slice(0, Number(unique[1] ?? 18));
  if (value === 'GEN-PASSWORD' || value.startsWith('GEN-PASSWORD')) return `Qs-${randomBytes(6).toString('hex')}-Aa1!`;
  if (value === 'GEN-GUID') return randomUUID();
  if (value === 'GEN-SSH-PUB-KEY') return `ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ${randomBytes(180).toString('base64')} bench@quickstart`;
  unfilled.push(`${param}=${value}`);
  return value;
}

/** Parameters for a template: the parameters file (GEN-* filled) plus `_artifactsLocation` when declared. */
function parametersFor(c: TemplateCase, template: any, folderUrl: string): { parameters: Record<string, { value: unknown }>; unfilled: string[]; missing: string[] } {
  const unfilled: string[] = [];
  const parameters: Record<string, { value: unknown }> = {};
  const file = path.join(c.dir, 'azuredeploy.parameters.json');
  let doc: any = {};
  if (fs.existsSync(file)) {
    try {
      doc = readJson(file);
    } catch (e) {
      unfilled.push(`azuredeploy.parameters.json does not parse (${(e as Error).message.slice(0, 60)})`);
    }
  }
  {
    for (const [k, v] of Object.entries<any>(doc.parameters ?? {})) {
      // deploymentParameters form ({ value } or { reference }); a few files hold plain values.
      if (v && typeof v === 'object' && 'value' in v) parameters[k] = { value: fill(v.value, unfilled, k) };
      else if (v && typeof v === 'object' && v.reference) unfilled.push(`${k}=Key Vault reference`);
      else parameters[k] = { value: fill(v, unfilled, k) };
    }
  }
  const declared = template.parameters ?? {};
  if ('_artifactsLocation' in declared) parameters._artifactsLocation = { value: folderUrl };
  if ('_artifactsLocationSasToken' in declared) parameters._artifactsLocationSasToken = { value: '' };
  const missing = Object.entries<any>(declared)
    .filter(([k, p]) => !(k in parameters) && (p?.defaultValue === undefined) && !unfilled.some((u) => u.startsWith(`${k}=`)))
    .map(([k]) => k);
  return { parameters, unfilled, missing };
}

/**
 * Error codes real ARM gives when inputs are incomplete the way ours are (a parameter without value, a
 * prerequisite that does not exist): such a refusal is "as ARM would" only for a template with
 * `missing` or `unfilled` inputs.
 */
const INPUT_REFUSALS = new Set(['InvalidTemplate', 'ResourceNotFound', 'NotFound', 'InvalidResourceReference', 'LinkedInvalidPropertyId', 'InvalidParameter', 'BadRequest', 'KeyVaultParameterReferenceNotFound']);

/** Serves `root` over plain http (the emulator downloads templateLink content with fetch; http is allowed). */
async function serve(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '');
    const file = path.resolve(root, rel);
    if (!file.startsWith(path.resolve(root)) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(fs.readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('quickstart sample against the emulator', () => {
  const sampleDir = process.env.QS_SAMPLE_DIR;

  it('deploys the sample and reports deployed / refused as ARM would / wrong', async () => {
    if (!sampleDir) {
      console.log('QS_SAMPLE_DIR is not set: see bench/README.md "quickstart-sample" for how to get the sample.');
      return;
    }
    const root = path.resolve(sampleDir);
    const cases = findTemplates(root);
    const files = await serve(root);
    const { h, cleanup } = await start({ deploymentSeconds: 0.05 });
    const results: Array<{ c: TemplateCase; o: Outcome }> = [];
    try {
      const pub = await h.createPublisher({ location: 'westus' });
      const { rm, dep } = armClients(h, pub, pub.subscriptionId);
      let n = 0;
      for (const c of cases) {
        const template = readJson(path.join(c.dir, c.main));
        const schema = String(template.$schema ?? '');
        if (!/\/deploymentTemplate\.json#?$/i.test(schema)) {
          results.push({ c, o: { bucket: 'otherScope', why: schema.split('/').pop() } });
          continue;
        }
        const rel = path.relative(root, c.dir).split(path.sep).join('/');
        const folderUrl = `${files.url}/${rel ? `${rel}/` : ''}`;
        const { parameters, unfilled, missing } = parametersFor(c, template, folderUrl);
        const rg = `qs-${++n}`;
        await rm.resourceGroups.createOrUpdate(rg, { location: 'westus' });
        let o: Outcome;
        try {
          const d = await dep.deployments.beginCreateOrUpdateAndWait(
            rg,
            'main',
            { properties: { mode: 'Incremental', templateLink: { uri: `${folderUrl}${c.main}` }, parameters } },
            { updateIntervalInMs: 50 },
          );
          const state = d.properties?.provisioningState;
          o = state === 'Succeeded' ? { bucket: 'deployed' } : { bucket: 'wrong', code: state, message: JSON.stringify(d.properties?.error ?? {}) };
        } catch (e) {
          const err = e as { code?: string; message?: string; details?: { error?: { code?: string; message?: string; details?: Array<{ code?: string; message?: string }> } } };
          let inner = err.details?.error?.details?.[0];
          // A deployment that failed while running: the reason is in its error details (the deepest first leaf).
          const failed = await dep.deployments.get(rg, 'main').catch(() => undefined);
          let leaf = failed?.properties?.error as { code?: string; message?: string; details?: unknown[] } | undefined;
          while (leaf?.details?.length) leaf = leaf.details[0] as typeof leaf;
          if (leaf?.code && leaf.code !== 'DeploymentFailed') inner = { code: leaf.code, message: leaf.message };
          const code = inner?.code ?? err.code ?? 'Error';
          const message = inner?.message ?? err.message ?? '';
          // Inputs real ARM refuses the same way: values we lack, or the sample's own parameters file naming
          // parameters its template does not declare (stale upstream files; ARM: InvalidTemplate).
          const staleParametersFile =
            /in the parameters file are not valid; they are not present in the original template|The provided value for the template parameter '[^']+' .* is not valid|Template parameter JToken type is not valid/.test(message);
          // The template's own defect, checked here independently of the emulator: it reads a variable or
          // parameter it never declares (ARM: InvalidTemplate "The template variable 'x' is not found").
          const undeclared = /The template (variable|parameter) '([^']+)' is not found/.exec(message);
          const declaredHere = (kind: string, name: string) =>
            Object.keys((kind === 'variable' ? template.variables : template.parameters) ?? {}).some((k) => k.toLowerCase() === name.toLowerCase());
          if (code === 'InvalidTemplate' && undeclared && !declaredHere(undeclared[1], undeclared[2])) {
            results.push({ c, o: { bucket: 'refused', code, message, why: `the template reads ${undeclared[1]} '${undeclared[2]}' it does not declare` } });
            await rm.resourceGroups.beginDeleteAndWait(rg, { updateIntervalInMs: 50 }).catch(() => undefined);
            continue;
          }
          const inputsIncomplete = missing.length > 0 || unfilled.length > 0 || staleParametersFile;
          o = inputsIncomplete && (INPUT_REFUSALS.has(code) || INPUT_REFUSALS.has(err.code ?? ''))
            ? { bucket: 'refused', code, message, why: [...missing.map((m) => `no value for ${m}`), ...unfilled].join('; ') }
            : { bucket: 'wrong', code, message, why: inputsIncomplete ? [...missing, ...unfilled].join('; ') : undefined };
        }
        results.push({ c, o });
        await rm.resourceGroups.beginDeleteAndWait(rg, { updateIntervalInMs: 50 }).catch(() => undefined);
      }
    } finally {
      await cleanup();
      await files.close();
    }

    const count = (b: Outcome['bucket']) => results.filter((r) => r.o.bucket === b).length;
    const inScope = results.length - count('otherScope');
    const pct = (x: number) => (inScope ? `${((100 * x) / inScope).toFixed(1)} %` : '-');
    const lines = [
      `quickstart sample: ${sampleDir} (${results.length} templates, ${inScope} at resource-group scope)`,
      `  deployed                  ${String(count('deployed')).padStart(4)}  ${pct(count('deployed'))}`,
      `  refused as ARM would      ${String(count('refused')).padStart(4)}  ${pct(count('refused'))}`,
      `  wrong (emulator's fault)  ${String(count('wrong')).padStart(4)}  ${pct(count('wrong'))}   (target: at most 2 %)`,
      `  other scope (not run)     ${String(count('otherScope')).padStart(4)}`,
      '',
      ...results.filter((r) => r.o.bucket !== 'deployed').map((r) => `  ${r.o.bucket.padEnd(10)} ${r.c.name}: ${r.o.code ?? ''} ${(r.o.message ?? r.o.why ?? '').slice(0, 300)}${r.o.why && r.o.message ? ` [${r.o.why}]` : ''}`),
    ];
    console.log(lines.join('\n'));
    if (process.env.QS_REPORT) fs.writeFileSync(process.env.QS_REPORT, JSON.stringify(results.map((r) => ({ name: r.c.name, ...r.o })), null, 2));
  });
});
