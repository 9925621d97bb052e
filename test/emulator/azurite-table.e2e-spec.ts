jest.setTimeout(60_000);
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { startAzurite, type AzuriteHandle } from '../../src/embedded/azurite';

// The table endpoint is exercised with @azure/data-tables (from the handle's connection string) and with raw
// Table REST calls signed with SharedKeyLite (statuses the SDK hides, and a wrong signature).
const ACCOUNT = 'devstoreaccount1';

function keyOf(connectionString: string): string {
  return /AccountKey=([^;]+)/.exec(connectionString)![1];
}

/** One Table service call (JSON, SharedKeyLite over `x-ms-date` + canonicalized resource). */
function tableCall(a: AzuriteHandle, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; json: any; headers: Record<string, unknown> }> {
  const url = new URL(`${a.tableEndpoint!}${path}`);
  const date = new Date().toUTCString();
  const resource = `/${ACCOUNT}${url.pathname}${url.searchParams.has('comp') ? `?comp=${url.searchParams.get('comp')}` : ''}`;
  const sig = createHmac('sha256', Buffer.from(keyOf(a.connectionString), 'base64')).update(`${date}\n${resource}`, 'utf8').digest('base64');
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        headers: {
          'x-ms-date': date,
          'x-ms-version': '2019-02-02',
          accept: 'application/json;odata=nometadata',
          DataServiceVersion: '3.0;NetFx',
          authorization: `SharedKeyLite ${ACCOUNT}:${sig}`,
          ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}),
          ...extra,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = text || undefined;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            /* an XML error body: kept as text */
          }
          resolve({ status: res.statusCode ?? 0, json, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

describe('embedded Azurite: table service', () => {
  let dir: string;
  let a: AzuriteHandle;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'azurite-table-'));
    a = await startAzurite({ location: dir, port: 0, table: { port: 0 } });
  });
  afterAll(async () => {
    await a?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exposes the table endpoint in the handle and the connection string, keeping the blob fields', () => {
    expect(a.tablePort).toBeGreaterThan(0);
    expect(a.tablePort).not.toBe(a.port);
    expect(a.tableEndpoint).toBe(`http://127.0.0.1:${a.tablePort}/${ACCOUNT}`);
    expect(a.blobEndpoint).toBe(`http://127.0.0.1:${a.port}/${ACCOUNT}`);
    expect(a.connectionString).toContain(`BlobEndpoint=${a.blobEndpoint};`);
    expect(a.connectionString).toContain(`TableEndpoint=${a.tableEndpoint};`);
  });

  it('@azure/data-tables creates a table and upserts an entity through the connection string', async () => {
    const client = TableClient.fromConnectionString(a.connectionString, 'testdriveleads', { allowInsecureConnection: true });
    await client.createTable();
    await client.upsertEntity({ partitionKey: 'contoso.offer1', rowKey: 'session-1', FirstName: 'Ada', Email: 'ada@example.com' }, 'Replace');
    await client.upsertEntity({ partitionKey: 'contoso.offer1', rowKey: 'session-1', Company: 'Contoso' }, 'Merge');
    const e = await client.getEntity<{ FirstName: string; Email: string; Company: string }>('contoso.offer1', 'session-1');
    expect(e).toMatchObject({ partitionKey: 'contoso.offer1', rowKey: 'session-1', FirstName: 'Ada', Email: 'ada@example.com', Company: 'Contoso' });
    await client.createTable(); // already exists: the SDK treats 409 TableAlreadyExists as success
  });

  it('raw REST: creates a table and upserts (insert-or-replace, then merge) an entity', async () => {
    const created = await tableCall(a, 'POST', '/Tables', { TableName: 'leads' });
    expect({ status: created.status, body: created.json }).toMatchObject({ status: 201 });
    const path = "/leads(PartitionKey='offer1',RowKey='lead-1')";
    expect((await tableCall(a, 'PUT', path, { FirstName: 'Ada', Email: 'ada@example.com' })).status).toBe(204);
    expect((await tableCall(a, 'PUT', path, { FirstName: 'Ada', Email: 'ada@contoso.com' })).status).toBe(204);
    expect((await tableCall(a, 'MERGE', path, { Company: 'Contoso' })).status).toBe(204);
    const got = await tableCall(a, 'GET', path);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ PartitionKey: 'offer1', RowKey: 'lead-1', FirstName: 'Ada', Email: 'ada@contoso.com', Company: 'Contoso' });
    const bad = await tableCall(a, 'GET', path, undefined, { authorization: `SharedKeyLite ${ACCOUNT}:AAAA` });
    expect(bad.status).toBe(403);
  });

  it('without the option starts no table service (as before)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'azurite-blobonly-'));
    const b = await startAzurite({ location: d, port: 0 });
    try {
      expect(b.tableEndpoint).toBeUndefined();
      expect(b.connectionString).not.toContain('TableEndpoint');
    } finally {
      await b.stop();
      rmSync(d, { recursive: true, force: true });
    }
  });
});
