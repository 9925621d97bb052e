import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../config/app-config';
import { zipDirectory } from '../common/zip-directory';
import type { EmbeddedAzure } from './embedded-azure';

export const SAMPLE_OFFER_ID = 'sample-webapp';

/**
 * One call of the service's API as a client does it (`/api/v1` + `url`, bearer token; a Buffer body is
 * sent raw, anything else as JSON). Returns the status and the parsed JSON (the text when not JSON).
 */
export async function callApi(base: string, token: string, method: string, url: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}/api/v1${url}`, {
    method,
    ...(signal ? { signal } : {}),
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

/** Regions of the sample offer: westeurope hot 2 / cold 1, eastus hot 1 / cold 0. */
export const SAMPLE_OFFER_REGIONS: ReadonlyArray<{ name: string; hot: number; cold: number }> = [
  { name: 'westeurope', hot: 2, cold: 1 },
  { name: 'eastus', hot: 1, cold: 0 },
];

/** The app registration an ARM test drive deploys as, and its subscription. */
export interface AzureDeploymentCredentials {
  subscriptionId: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/**
 * PUT /offers/{id} body of an ARM test drive deploying as `publisher`: the sample offer's test drive
 * (1 hour, SAMPLE_OFFER_REGIONS) with the fields of `testDrive` set over it (description,
 * accessInformation...), and `deployment` over the publisher's credentials.
 */
export function armOfferBody(alias: string, publisher: AzureDeploymentCredentials, testDrive: Record<string, unknown> = {}, deployment: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alias,
    testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: SAMPLE_OFFER_REGIONS, ...testDrive },
    deployment: { subscriptionId: publisher.subscriptionId, tenantId: publisher.tenantId, clientId: publisher.clientId, clientSecret: publisher.clientSecret, ...deployment },
  };
}

/**
 * Embedded default only: publishes the sample ARM test drive from templates/arm/sample-webapp through
 * the service's own public API as the embedded publisher (`publisherToken`, TestDrive.Publisher; it owns
 * the offer; a publisher tenant with a subscription is created in the emulator on first start), and
 * returns the lines to print: what was seeded and a curl command (with $MARKETPLACE_TOKEN) that starts a test drive,
 * or one line saying the sample ID is retired (a deleted offer with sessions used it: 409 OfferIdRetired).
 * @throws Error when a call fails (the caller prints it and goes on).
 */
export async function seedSampleOffer(base: string, embedded: EmbeddedAzure, publisherToken: string): Promise<string[]> {
  const call = (method: string, url: string, body?: unknown, contentType?: string) => callApi(base, publisherToken, method, url, body, contentType);
  const existing = await call('GET', `/offers/${SAMPLE_OFFER_ID}`);
  if (existing.status === 404) {
    const publisher = await embedded.emulator.createPublisher({});
    const dir = path.join(PROJECT_ROOT, 'templates', 'arm', 'sample-webapp');
    const accessInformation = fs.readFileSync(path.join(dir, 'access-information.html'), 'utf8');
    const put = await call('PUT', `/offers/${SAMPLE_OFFER_ID}`, armOfferBody('Sample web app', publisher, { description: 'A sample web app deployed from templates/arm/sample-webapp.', accessInformation }));
    if (put.status === 409 && (put.json as { error?: { code?: string } }).error?.code === 'OfferIdRetired') {
      // Someone used the sample and deleted it: its sessions and leads keep the ID (OffersService).
      return [`  Sample:   offer '${SAMPLE_OFFER_ID}' is not seeded: its ID belonged to a deleted offer that had sessions, and such IDs are not reused. Create your own offer (README, "Try it with curl").`];
    }
    if (put.status >= 300) throw new Error(`PUT offer: ${put.status} ${JSON.stringify(put.json)}`);
    const pkg = await call('PUT', `/offers/${SAMPLE_OFFER_ID}/package`, await zipDirectory(dir, { exclude: ['README.md', 'access-information.html'] }), 'application/zip');
    if (pkg.status >= 300) throw new Error(`PUT package: ${pkg.status} ${JSON.stringify(pkg.json)}`);
  }
  const offer = await call('GET', `/offers/${SAMPLE_OFFER_ID}`);
  if ((offer.json as { state?: string }).state !== 'published') {
    const pub = await call('POST', `/offers/${SAMPLE_OFFER_ID}/publish`);
    if (pub.status >= 300) throw new Error(`publish: ${pub.status} ${JSON.stringify(pub.json)}`);
  }
  return [
    `  Sample:   offer '${SAMPLE_OFFER_ID}' published (westeurope hot 2 / cold 1, eastus hot 1); hot instances are ready after one emulated deployment.`,
    `  Watch capacity:      curl -s ${base}/api/v1/capacity -H "Authorization: Bearer $OPERATOR_TOKEN"`,
    `  Start a test drive:  curl -s -X POST ${base}/api/v1/offers/${SAMPLE_OFFER_ID}/sessions -H "Authorization: Bearer $MARKETPLACE_TOKEN" \\`,
    `                         -H 'content-type: application/json' -d '{"customer":{"email":"ada@example.com","firstName":"Ada","lastName":"Lovelace","country":"GB"},"region":"westeurope"}'`,
    `  Poll / end it:       curl -s ${base}/api/v1/sessions/<id> -H "Authorization: Bearer $MARKETPLACE_TOKEN"   |   curl -s -X DELETE ... (same header)`,
  ];
}
