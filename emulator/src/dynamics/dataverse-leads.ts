import { randomUUID } from 'node:crypto';
import { header, isObject, jsonBody, send } from '../http';
import type { DataverseLead } from './model';
import { ODataHttpError, parseKey, queryList, selectOne, type EnvRequest } from './common';

/**
 * The Dataverse `leads` entity set (Web API v9.x, learn.microsoft.com "Create a table row using the Web API",
 * "Update and delete table rows", "Use Upsert to Create or Update a record", "Query data using the Web API"):
 *
 * - `POST leads` -> 204 + `OData-EntityId: {apiBase}leads(<guid>)`; with `Prefer: return=representation` 201 + the row.
 *   A duplicate alternate-key value -> 412 `0x80060892`.
 * - `PATCH leads(<guid>)` or `PATCH leads(new_testdriveleadid='<value>')` = upsert: updates the row when it exists
 *   (204, or 200 + row with `Prefer: return=representation`), creates it otherwise (204 / 201), key values taken from
 *   the URL. `If-Match: *` prevents create (404 `0x80040217` when missing); `If-None-Match: *` prevents update
 *   (412 `0x80040237` when present); `If-Match: W/"<versionnumber>"` must match the row's etag (else 412 `0x80060882`).
 * - `GET leads?$filter&$select&$orderby&$top` (+ `Prefer: odata.maxpagesize`), `GET leads(<key>)`, `DELETE leads(<key>)` -> 204.
 *
 * Columns: leadid (GUID, primary key), subject, firstname, lastname, fullname (computed), emailaddress1,
 * telephone1, companyname, jobtitle, address1_country, leadsourcecode (option set 1-10), description,
 * new_testdriveleadid (string, alternate key `new_testdriveleadid`), statecode, statuscode, createdon, modifiedon,
 * versionnumber. Unknown columns -> 400 `0x80060888`; too long strings / out-of-range option values -> 400 `0x80044331`.
 */

/** Logical name of the lead's alternate-key column (and of the key): a custom column in the default `new_` prefix. */
export const LEAD_ALTERNATE_KEY = 'new_testdriveleadid';

/** Writable string columns of `lead` and their maximum lengths (Dataverse defaults). */
export const LEAD_STRING_COLUMNS: Record<string, number> = {
  subject: 300,
  firstname: 50,
  lastname: 50,
  emailaddress1: 100,
  telephone1: 50,
  companyname: 100,
  jobtitle: 100,
  address1_country: 80,
  description: 2000,
  [LEAD_ALTERNATE_KEY]: 100,
};

/** leadsourcecode values: 1 Advertisement, 2 Employee Referral, 3 External Referral, 4 Partner, 5 Public Relations, 6 Seminar, 7 Trade Show, 8 Web, 9 Word of Mouth, 10 Other. */
export const LEAD_SOURCE_CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

const LEAD_PROPS = ['leadid', ...Object.keys(LEAD_STRING_COLUMNS), 'leadsourcecode', 'fullname', 'statecode', 'statuscode', 'createdon', 'modifiedon', 'versionnumber'];
const TYPE = 'Microsoft.Dynamics.CRM.lead';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const err = (status: number, code: string, message: string): ODataHttpError => new ODataHttpError(status, code, message);
const badQuery = (msg: string): ODataHttpError => err(400, '0x80060888', msg);

function etagOf(l: DataverseLead): string {
  return `W/"${l.versionnumber}"`;
}

function view(l: DataverseLead): Record<string, unknown> {
  return { '@odata.etag': etagOf(l), ...l };
}

/** Validates a request body against the lead's columns; returns the values to write. */
function columnsOf(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw err(400, '0x80060891', 'The request body must be a JSON object.');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k.startsWith('@odata.')) continue;
    const name = k.toLowerCase();
    if (name in LEAD_STRING_COLUMNS) {
      if (v !== null && typeof v !== 'string') throw err(400, '0x80060888', `Cannot convert the literal '${String(JSON.stringify(v)).slice(0, 100)}' to the expected type 'Edm.String'.`);
      if (typeof v === 'string' && v.length > LEAD_STRING_COLUMNS[name]) throw err(400, '0x80044331', `A validation error occurred. The length of the '${name}' attribute of the 'lead' entity exceeded the maximum allowed length of '${LEAD_STRING_COLUMNS[name]}'.`);
      out[name] = v;
    } else if (name === 'leadsourcecode') {
      if (v !== null && (typeof v !== 'number' || !Number.isInteger(v))) throw err(400, '0x80060888', `Cannot convert the literal '${String(JSON.stringify(v)).slice(0, 100)}' to the expected type 'Edm.Int32'.`);
      if (v !== null && !LEAD_SOURCE_CODES.includes(v)) throw err(400, '0x80044331', `A validation error occurred. The value ${String(v)} of 'leadsourcecode' on record of type 'lead' is outside the valid range.`);
      out[name] = v;
    } else if (name === 'leadid') {
      if (typeof v !== 'string' || !GUID.test(v)) throw err(400, '0x80060888', `Cannot convert the literal '${String(JSON.stringify(v)).slice(0, 100)}' to the expected type 'Edm.Guid'.`);
      out[name] = v.toLowerCase();
    } else {
      throw err(400, '0x80060888', `The property '${k.slice(0, 100)}' does not exist on type '${TYPE}'. Make sure to only use property names that are defined by the type or mark the type as open type.`);
    }
  }
  return out;
}

function fullName(l: Record<string, unknown>): string | null {
  const parts = [l.firstname, l.lastname].filter((x): x is string => typeof x === 'string' && x !== '');
  return parts.length ? parts.join(' ') : null;
}

/** `$orderby=col [asc|desc][, col2 ...]` over lead columns (nulls first ascending, as Dataverse sorts them). */
function orderBy(rows: Array<Record<string, unknown>>, spec: string | null): Array<Record<string, unknown>> {
  if (!spec) return rows;
  const keys = spec.split(',').map((part) => {
    const [name, dir, extra] = part.trim().split(/\s+/);
    const col = (name ?? '').toLowerCase();
    if (!LEAD_PROPS.includes(col) || extra !== undefined || (dir !== undefined && !/^(asc|desc)$/i.test(dir))) throw badQuery(`Could not find a property named '${(name ?? '').slice(0, 100)}' on type '${TYPE}', or the $orderby clause is malformed.`);
    return { col, sign: dir?.toLowerCase() === 'desc' ? -1 : 1 };
  });
  const cmp = (a: unknown, b: unknown): number => (a === b ? 0 : a === null || a === undefined ? -1 : b === null || b === undefined ? 1 : (a as string | number) < (b as string | number) ? -1 : 1);
  return [...rows].sort((x, y) => {
    for (const k of keys) {
      const c = cmp(x[k.col], y[k.col]) * k.sign;
      if (c) return c;
    }
    return 0;
  });
}

/** Which row a key segment (`<guid>`, `leadid=<guid>`, `new_testdriveleadid='x'`) names. */
type LeadKey = { leadid: string } | { alt: string };

function parseLeadKey(raw: string): LeadKey {
  const k = parseKey(raw);
  const names = Object.keys(k);
  if (names.length === 1 && (names[0] === '' || names[0] === 'leadid')) {
    const v = k[names[0]].trim();
    if (!GUID.test(v)) throw err(400, '0x80060888', `Bad Request - Error in query syntax. The key value '${v.slice(0, 100)}' of lead is not a valid Guid.`);
    return { leadid: v.toLowerCase() };
  }
  if (names.length === 1 && names[0] === LEAD_ALTERNATE_KEY && /^\s*[A-Za-z_]\w*\s*=\s*'/.test(raw)) return { alt: k[LEAD_ALTERNATE_KEY] };
  throw err(400, '0x80060888', `Invalid key '${raw.slice(0, 100)}' for entity 'lead': the keys of lead are leadid and the alternate key ${LEAD_ALTERNATE_KEY}.`);
}

function find(rows: DataverseLead[], key: LeadKey): DataverseLead | undefined {
  return 'leadid' in key ? rows.find((l) => l.leadid === key.leadid) : rows.find((l) => l[LEAD_ALTERNATE_KEY] === key.alt);
}

function notFound(key: LeadKey): ODataHttpError {
  return 'leadid' in key ? err(404, '0x80040217', `lead With Id = ${key.leadid} Does Not Exist`) : err(404, '0x80040217', `A record with the specified key values does not exist in lead entity`);
}

function duplicateKey(value: unknown): ODataHttpError {
  return err(412, '0x80060892', `A record that has the attribute values ${String(value).slice(0, 100)} already exists. The entity key ${LEAD_ALTERNATE_KEY} requires that this set of attributes contains unique values.`);
}

function returnRepresentation(r: EnvRequest): boolean {
  return /\breturn=representation\b/i.test(header(r.ctx.req, 'prefer') ?? '');
}

function answerWrite(r: EnvRequest, l: DataverseLead, created: boolean): void {
  const headers = { 'OData-EntityId': `${r.apiBase}leads(${l.leadid})`, ETag: etagOf(l) };
  if (returnRepresentation(r)) {
    return send(r.ctx, created ? 201 : 200, { '@odata.context': `${r.apiBase}$metadata#leads/$entity`, ...selectOne(view(l), r.ctx.query, ['@odata.etag', 'leadid'], badQuery, TYPE) }, { ...headers, 'Preference-Applied': 'return=representation' });
  }
  send(r.ctx, 204, undefined, headers);
}

/** Next row version of the environment (rowversion grows per change; survives restarts through the rows). */
function nextVersion(rows: DataverseLead[]): number {
  return rows.reduce((m, l) => Math.max(m, l.versionnumber), 1000) + 1;
}

function createLead(r: EnvRequest, rows: DataverseLead[], values: Record<string, unknown>): DataverseLead {
  const now = new Date().toISOString();
  const leadid = typeof values.leadid === 'string' ? values.leadid : randomUUID();
  if (rows.some((l) => l.leadid === leadid)) throw err(412, '0x80040237', 'Cannot insert duplicate key.');
  const alt = values[LEAD_ALTERNATE_KEY];
  if (typeof alt === 'string' && rows.some((l) => l[LEAD_ALTERNATE_KEY] === alt)) throw duplicateKey(alt);
  const l: DataverseLead = { leadid, subject: null, firstname: null, lastname: null, emailaddress1: null, telephone1: null, companyname: null, jobtitle: null, address1_country: null, leadsourcecode: null, description: null, [LEAD_ALTERNATE_KEY]: null, ...values, statecode: 0, statuscode: 1, createdon: now, modifiedon: now, versionnumber: nextVersion(rows) };
  l.fullname = fullName(l);
  rows.push(l);
  r.deps.store.changed();
  r.deps.log('dataverse: lead created', { env: r.env.name, leadid }); // no personal data in logs
  return l;
}

function updateLead(r: EnvRequest, rows: DataverseLead[], l: DataverseLead, values: Record<string, unknown>): void {
  const alt = values[LEAD_ALTERNATE_KEY];
  if (typeof alt === 'string' && rows.some((x) => x !== l && x[LEAD_ALTERNATE_KEY] === alt)) throw duplicateKey(alt);
  delete values.leadid;
  Object.assign(l, values);
  l.fullname = fullName(l);
  l.modifiedon = new Date().toISOString();
  l.versionnumber = nextVersion(rows);
  r.deps.store.changed();
  r.deps.log('dataverse: lead updated', { env: r.env.name, leadid: l.leadid });
}

/**
 * Handles `leads` requests of a Dataverse environment (see the module comment for the contract).
 * `fault(op)` consults the fault store (`dataverse.leads.{list,get,create,upsert,delete}`); `page` sends a
 * list page the way the other entity sets do. Returns false when the path is not under `leads`.
 */
export async function handleLeads(r: EnvRequest, fault: (op: string) => Promise<void>, page: (entitySet: string, rows: Array<Record<string, unknown>>, select: string | null) => void): Promise<boolean> {
  const segs = r.rest.filter((x) => x !== '');
  const m0 = /^([^()]+)(?:\((.*)\))?$/.exec(segs[0] ?? '');
  if (!m0 || m0[1].toLowerCase() !== 'leads') return false;
  const rawKey = m0[2];
  const { ctx, env } = r;
  const rows = (env.leads ??= []);
  const m = ctx.method;
  if (segs.length !== 1) throw badQuery(`Resource not found for the segment '${(segs[1] ?? '').slice(0, 100)}'.`);
  if (rawKey === undefined) {
    if (m === 'GET') {
      await fault('leads.list');
      const list = queryList(orderBy(rows.map(view), ctx.query.get('$orderby')), ctx.query, LEAD_PROPS, ['@odata.etag', 'leadid'], badQuery, TYPE);
      page('leads', list, ctx.query.get('$select'));
      return true;
    }
    if (m === 'POST') {
      await fault('leads.create');
      const values = columnsOf(jsonBody(ctx));
      answerWrite(r, createLead(r, rows, values), true);
      return true;
    }
    throw err(405, '0x80060888', `The requested resource does not support http method '${m}'.`);
  }
  const key = parseLeadKey(rawKey);
  const existing = find(rows, key);
  if (m === 'GET') {
    await fault('leads.get');
    if (!existing) throw notFound(key);
    send(ctx, 200, { '@odata.context': `${r.apiBase}$metadata#leads/$entity`, ...selectOne(view(existing), ctx.query, ['@odata.etag', 'leadid'], badQuery, TYPE) }, { ETag: etagOf(existing) });
    return true;
  }
  if (m === 'PATCH') {
    await fault('leads.upsert');
    const values = columnsOf(jsonBody(ctx));
    const ifMatch = header(ctx.req, 'if-match')?.trim();
    const ifNoneMatch = header(ctx.req, 'if-none-match')?.trim();
    if (existing) {
      if (ifNoneMatch === '*') throw err(412, '0x80040237', 'A record with matching key values already exists.');
      if (ifMatch && ifMatch !== '*' && ifMatch !== etagOf(existing)) throw err(412, '0x80060882', "The version of the existing record doesn't match the RowVersion property provided.");
      if ('leadid' in key) delete values.leadid;
      else values[LEAD_ALTERNATE_KEY] = key.alt;
      updateLead(r, rows, existing, values);
      answerWrite(r, existing, false);
      return true;
    }
    if (ifMatch) throw notFound(key);
    if ('leadid' in key) values.leadid = key.leadid;
    else values[LEAD_ALTERNATE_KEY] = key.alt;
    answerWrite(r, createLead(r, rows, values), true);
    return true;
  }
  if (m === 'DELETE') {
    await fault('leads.delete');
    if (!existing) throw notFound(key);
    rows.splice(rows.indexOf(existing), 1);
    r.deps.store.changed();
    send(ctx, 204);
    return true;
  }
  throw err(405, '0x80060888', `The requested resource does not support http method '${m}'.`);
}
