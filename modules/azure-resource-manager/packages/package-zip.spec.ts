import { ZipFile } from 'yazl';
import { ApiError } from '../../../src/common/api-error';
import { readPackageZip } from './package-zip';
import { validatePackage } from './package.service';
import { ARM_FIXTURES } from '../../../test/support/fixtures-dir';
import { rawZip as writeRawZip } from '../../../test/support/raw-zip';

// ---------- helpers: yazl for well-formed zips, a raw writer for hostile ones ----------

async function yazlZip(files: Array<{ name: string; data: Buffer | string; compress?: boolean; mode?: number }>): Promise<Buffer> {
  const z = new ZipFile();
  for (const f of files) z.addBuffer(Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data), f.name, { compress: f.compress ?? true, mode: f.mode });
  z.end();
  const chunks: Buffer[] = [];
  for await (const c of z.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** An entry as these tests write it: a text name, the UTF-8 flag on and a regular file's mode unless told. */
interface RawEntry {
  name: string | Buffer;
  data?: Buffer;
  /** Unix mode (high 16 bits of the external attributes). */
  mode?: number;
  utf8Flag?: boolean;
  deflate?: boolean;
  /** Lie about the uncompressed size. */
  declaredSize?: number;
}

/** Minimal zip writer (no validation), so tests can build entries real tools refuse to write. */
function rawZip(entries: RawEntry[]): Buffer {
  return writeRawZip(
    entries.map((e) => ({
      name: Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8'),
      data: e.data ?? Buffer.alloc(0),
      method: e.deflate ? 8 : 0,
      unixMode: e.mode ?? 0o100644,
      utf8: e.utf8Flag !== false,
      declaredSize: e.declaredSize,
    })),
  );
}

const TEMPLATE = JSON.stringify({
  $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  parameters: {
    baseUri: { type: 'string', metadata: { type: 'baseuri' } },
    sessionId: { type: 'string', metadata: { type: 'SessionId' } },
    adminUser: { type: 'string', metadata: { type: 'username' } },
    adminPassword: { type: 'securestring', metadata: { type: 'password' } },
    sku: { type: 'string', defaultValue: 'F1' },
  },
  resources: [],
});
const main = (data: string | Buffer = TEMPLATE): RawEntry => ({ name: 'main-template.json', data: Buffer.isBuffer(data) ? data : Buffer.from(data) });

async function problems(zip: Buffer) {
  const r = await readPackageZip(zip);
  if (r.ok) throw new Error('expected the package to be refused');
  return r.problems;
}

async function validationDetails(zip: Buffer) {
  try {
    await validatePackage(zip);
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.getStatus()).toBe(400);
    return e.details ?? [];
  }
  throw new Error('expected the package to be refused');
}

// ---------- tests ----------

describe('readPackageZip', () => {
  it('accepts a well-formed package and returns its files', async () => {
    const zip = await yazlZip([
      { name: 'main-template.json', data: TEMPLATE },
      { name: 'nested/webapp.json', data: '{}' },
    ]);
    const r = await readPackageZip(zip);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.files.map((f) => f.path).sort()).toEqual(['main-template.json', 'nested/webapp.json']);
      expect(r.totalBytes).toBe(Buffer.byteLength(TEMPLATE) + 2);
    }
  });

  it('refuses bytes that are not a zip', async () => {
    expect(await problems(Buffer.from('not a zip at all'))).toEqual([expect.objectContaining({ code: 'InvalidZip', target: 'package' })]);
    expect(await problems(Buffer.alloc(0))).toEqual([expect.objectContaining({ code: 'InvalidZip' })]);
  });

  it.each([
    ['../x', 'PathTraversal'],
    ['a/../../x', 'PathTraversal'],
    ['/etc/x', 'AbsoluteEntryPath'],
    ['C:/x.json', 'AbsoluteEntryPath'],
    ['nested\\x.json', 'BackslashInEntryName'],
    ['a//b.json', 'InvalidEntryName'],
    ['./a.json', 'InvalidEntryName'],
  ])('refuses entry %j (%s), naming it', async (name, code) => {
    const p = await problems(rawZip([main(), { name, data: Buffer.from('x') }]));
    expect(p).toEqual([expect.objectContaining({ code, target: `package:${name}` })]);
  });

  it('refuses symbolic links (Unix mode in the external attributes)', async () => {
    const p = await problems(rawZip([main(), { name: 'link', data: Buffer.from('/etc/passwd'), mode: 0o120777 }]));
    expect(p).toEqual([expect.objectContaining({ code: 'SymlinkEntry', target: 'package:link' })]);
  });

  it('refuses duplicate names, ignoring case', async () => {
    const p = await problems(rawZip([main(), { name: 'a.json', data: Buffer.from('1') }, { name: 'A.JSON', data: Buffer.from('2') }]));
    expect(p).toEqual([expect.objectContaining({ code: 'DuplicateEntry', target: 'package:A.JSON' })]);
    const p2 = await problems(rawZip([main(), main()]));
    expect(p2[0].code).toBe('DuplicateEntry');
  });

  it('refuses more than 1000 entries before reading any', async () => {
    const entries: RawEntry[] = [main()];
    for (let i = 0; i < 1000; i++) entries.push({ name: `f${i}.txt`, data: Buffer.from('x') });
    expect(await problems(rawZip(entries))).toEqual([expect.objectContaining({ code: 'TooManyEntries', target: 'package' })]);
  });

  it('accepts exactly 1000 entries', async () => {
    const entries: RawEntry[] = [main()];
    for (let i = 0; i < 999; i++) entries.push({ name: `f${i}.txt`, data: Buffer.from('x') });
    expect((await readPackageZip(rawZip(entries))).ok).toBe(true);
  });

  it('refuses a zip bomb by its compression ratio (small zip of a large zero-filled file)', async () => {
    const zip = await yazlZip([
      { name: 'main-template.json', data: TEMPLATE },
      { name: 'zeros.bin', data: Buffer.alloc(20 * 1024 * 1024) },
    ]);
    expect(zip.length).toBeLessThan(100 * 1024);
    expect(await problems(zip)).toEqual([expect.objectContaining({ code: 'CompressionRatioTooHigh', target: 'package:zeros.bin' })]);
  });

  it('aborts an entry that inflates past its declared size (lying headers)', async () => {
    const zip = rawZip([main(), { name: 'liar.bin', data: Buffer.alloc(5 * 1024 * 1024), deflate: true, declaredSize: 1000 }]);
    expect(await problems(zip)).toEqual([expect.objectContaining({ code: 'EntrySizeMismatch', target: 'package:liar.bin' })]);
  });

  it('refuses files and packages over the size limits', async () => {
    const limits = { maxEntries: 1000, maxTotalBytes: 3000, maxFileBytes: 2000, maxRatio: 100, ratioMinBytes: 1 << 20 };
    const big = await readPackageZip(rawZip([main('{"parameters":{}}'), { name: 'big.bin', data: Buffer.alloc(2001, 1) }]), limits);
    expect(big.ok ? [] : big.problems).toEqual([expect.objectContaining({ code: 'EntryTooLarge', target: 'package:big.bin' })]);
    const total = await readPackageZip(
      rawZip([main('{"parameters":{}}'), { name: 'a.bin', data: Buffer.alloc(1500, 1) }, { name: 'b.bin', data: Buffer.alloc(1500, 1) }]),
      limits,
    );
    expect(total.ok ? [] : total.problems).toEqual([expect.objectContaining({ code: 'PackageTooLarge', target: 'package:b.bin' })]);
  });

  it('refuses a name that is not UTF-8', async () => {
    const p = await problems(rawZip([main(), { name: Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x6a]), data: Buffer.from('x'), utf8Flag: false }]));
    expect(p).toEqual([expect.objectContaining({ code: 'NonUtf8EntryName', target: 'package:<0x66fffe2e6a>' })]);
  });

  it('accepts UTF-8 names (with the flag)', async () => {
    const r = await readPackageZip(rawZip([main(), { name: 'scripts/déploiement.ps1', data: Buffer.from('x') }]));
    expect(r.ok).toBe(true);
  });

  it('requires main-template.json at the root', async () => {
    expect(await problems(rawZip([{ name: 'other.json', data: Buffer.from('{}') }]))).toEqual([
      expect.objectContaining({ code: 'MainTemplateMissing', target: 'package:main-template.json' }),
    ]);
  });

  it('explains a wrapping folder', async () => {
    const p = await problems(await yazlZip([{ name: 'sample/main-template.json', data: TEMPLATE }]));
    expect(p[0]).toMatchObject({ code: 'MainTemplateMissing' });
    expect(p[0].message).toMatch(/not in 'sample\/main-template.json'/);
  });

  it('collects every bad entry in one answer', async () => {
    const p = await problems(rawZip([main(), { name: '../a', data: Buffer.from('x') }, { name: '/b', data: Buffer.from('x') }]));
    expect(p.map((x) => x.target)).toEqual(['package:../a', 'package:/b']);
  });
});

describe('validatePackage (main-template.json)', () => {
  it('accepts a template with a UTF-8 BOM and recognises its parameters', async () => {
    const zip = await yazlZip([{ name: 'main-template.json', data: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(TEMPLATE)]) }]);
    const r = await validatePackage(zip);
    expect(r.parameters).toEqual([
      { name: 'baseUri', armType: 'string', metadataType: 'baseuri', hasDefault: false, valueSource: 'package' },
      { name: 'sessionId', armType: 'string', metadataType: 'sessionid', hasDefault: false, valueSource: 'session' },
      { name: 'adminUser', armType: 'string', metadataType: 'username', hasDefault: false, valueSource: 'generated' },
      { name: 'adminPassword', armType: 'securestring', metadataType: 'password', hasDefault: false, valueSource: 'generated', passwordLength: 10 },
      { name: 'sku', armType: 'string', metadataType: null, hasDefault: true, valueSource: 'default' },
    ]);
  });

  it('refuses bad JSON', async () => {
    const d = await validationDetails(rawZip([main('{"parameters": {')]));
    expect(d).toEqual([expect.objectContaining({ code: 'InvalidTemplateJson', target: 'main-template.json' })]);
  });

  it('refuses JSON nested deeper than 64 levels', async () => {
    const deep = `{"parameters":{},"x":${'['.repeat(70)}${']'.repeat(70)}}`;
    expect(await validationDetails(rawZip([main(deep)]))).toEqual([expect.objectContaining({ code: 'TemplateTooDeep' })]);
    const ok = `{"parameters":{},"x":${'['.repeat(60)}${']'.repeat(60)}, "s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}`;
    await expect(validatePackage(rawZip([main(ok)]))).resolves.toBeDefined();
  });

  it('refuses a template over 4 MB', async () => {
    const big = `{"parameters":{},"pad":"${'x'.repeat(4 * 1024 * 1024)}"}`;
    expect(await validationDetails(rawZip([main(big)]))).toEqual([expect.objectContaining({ code: 'TemplateTooLarge' })]);
  });

  it('requires a parameters object', async () => {
    expect(await validationDetails(rawZip([main('{"resources": []}')]))).toEqual([
      expect.objectContaining({ code: 'TemplateParametersMissing', target: 'main-template.json:parameters' }),
    ]);
  });

  it('refuses a parameter without metadata type and default, naming it', async () => {
    const t = JSON.stringify({ parameters: { vmSize: { type: 'string' }, ok: { type: 'int', defaultValue: 1 } } });
    const d = await validationDetails(rawZip([main(t)]));
    expect(d).toEqual([expect.objectContaining({ code: 'ParameterCannotBeFilled', target: 'main-template.json:parameters.vmSize' })]);
    expect(d[0].message).toContain("'vmSize'");
  });

  it('refuses metadata types that do not match the ARM type', async () => {
    const t = JSON.stringify({
      parameters: {
        pw: { type: 'string', metadata: { type: 'password' } },
        user: { type: 'securestring', metadata: { type: 'username' } },
        base: { type: 'int', metadata: { type: 'baseuri' } },
      },
    });
    const d = await validationDetails(rawZip([main(t)]));
    expect(d.map((x) => [x.code, x.target])).toEqual([
      ['MetadataTypeMismatch', 'main-template.json:parameters.pw.type'],
      ['MetadataTypeMismatch', 'main-template.json:parameters.user.type'],
      ['MetadataTypeMismatch', 'main-template.json:parameters.base.type'],
    ]);
    expect(d[0].message).toMatch(/^Data type doesn't match metadata type/);
  });

  it('refuses unknown metadata types', async () => {
    const t = JSON.stringify({ parameters: { x: { type: 'string', metadata: { type: 'email' } }, y: { type: 'string', metadata: { type: 7 } } } });
    const d = await validationDetails(rawZip([main(t)]));
    expect(d.map((x) => x.code)).toEqual(['MetadataTypeInvalid', 'MetadataTypeInvalid']);
    expect(d[0].message).toMatch(/^Metadata type is invalid/);
    expect(d[0].target).toBe('main-template.json:parameters.x.metadata.type');
  });

  it('compares metadata types in lower case and ARM types case-insensitively', async () => {
    const t = JSON.stringify({ parameters: { pw: { type: 'SecureString', metadata: { type: 'PASSWORD' } }, sid: { type: 'String', metadata: { type: 'Session Id' } } } });
    const r = await validatePackage(rawZip([main(t)]));
    expect(r.parameters.map((p) => p.metadataType)).toEqual(['password', 'sessionid']);
  });
});

describe('real packages', () => {
  const path = require('node:path') as typeof import('node:path');
  const fs = require('node:fs') as typeof import('node:fs');
  const { zipDirectory } = require('../../../src/common/zip-directory') as typeof import('../../../src/common/zip-directory');

  it('accepts templates/arm/sample-webapp with all four metadata types', async () => {
    const dir = path.join(__dirname, '..', '..', '..', 'templates', 'arm', 'sample-webapp');
    const r = await validatePackage(await zipDirectory(dir, { exclude: ['README.md', 'access-information.html'] }));
    expect(r.files.map((f) => f.path).sort()).toEqual(['main-template.json', 'nested/webapp.json']);
    expect(r.parameters.map((p) => p.metadataType).sort()).toEqual(['baseuri', 'password', 'sessionid', 'username', null].sort());
  });

  const fixtures = ARM_FIXTURES;
  const tdFixtures = fs.existsSync(fixtures) ? fs.readdirSync(fixtures).filter((d) => d.startsWith('td-')) : [];
  (tdFixtures.length ? it.each(tdFixtures) : it.skip.each(['none']))('accepts the marketplace sample %s (BOM, linked templates)', async (name) => {
    const r = await validatePackage(await zipDirectory(path.join(fixtures, name)));
    expect(r.parameters.length).toBeGreaterThan(0);
  });
});
