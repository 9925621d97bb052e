import { Injectable, Logger } from '@nestjs/common';
import { ErrorDetail } from '../../src/common/api-error';
import { Clock, iso } from '../../src/common/clock';
import { OfferEntity, OfferHealth } from '../../src/offers/offer.entity';
import { DynamicsClients } from './clients/dynamics-clients';
import { classifyRemoteError, RemoteError } from '../../src/remote/remote-error';
import { dynamicsConfigOf } from './dynamics-config';
import { LicenseLedger, LicenseSnapshot } from './licenses';

/** Licenses as GET /offers and GET /capacity show them. */
export interface LicenseView {
  sku: string;
  skuId: string;
  total: number;
  consumed: number;
  free: number;
  /** Held by this offer's live sessions. */
  heldByOffer: number;
}

/** OfferHealth of a Dynamics 365 offer, with the license counts it saw. */
export interface DynamicsOfferHealth extends OfferHealth {
  licenses: LicenseView | null;
}

export function licenseView(s: LicenseSnapshot): LicenseView {
  return { sku: s.skuPartNumber, skuId: s.skuId, total: s.total, consumed: s.consumed, free: s.free, heldByOffer: s.heldByOffer };
}

/**
 * The publish preflight of a Dynamics 365 offer, also run periodically on published offers (a failure
 * marks the offer degraded). Checks, against the publisher's tenant and instance, everything that would
 * otherwise break a customer later (test drive rules: "an expired client secret silently breaks a test
 * drive"), each problem naming the field to fix:
 * 1. the credential gets a Graph token (deployment.clientSecret: AADSTS7000215 wrong / 7000222 expired secret);
 * 2. the tenant name is a verified domain of the tenant (deployment.tenantName);
 * 3. the license SKU is subscribed (testDrive.licenseSku) and has units this offer can use; a warning when
 *    they are fewer than maxConcurrent (testDrive.maxConcurrent);
 * 4. the credential gets a token for the instance (testDrive.instanceUrl) and may use its API
 *    (deployment.clientId: application user), the role / AOT role / permission set exists
 *    (testDrive.roleName) and, for Operations, the legal entity (testDrive.trialLegalEntity).
 */
@Injectable()
export class DynamicsHealthChecker {
  private readonly logger = new Logger('DynamicsHealthChecker');

  constructor(
    private readonly clients: DynamicsClients,
    private readonly licenses: LicenseLedger,
    private readonly clock: Clock,
  ) {}

  /** Runs every check. Never throws: unexpected errors become problems. */
  async check(offer: OfferEntity): Promise<DynamicsOfferHealth> {
    const problems: ErrorDetail[] = [];
    const warnings: ErrorDetail[] = [];
    let licenses: LicenseView | null = null;
    const cfg = dynamicsConfigOf(offer.testDrive);
    const done = (): DynamicsOfferHealth => ({ status: problems.length ? 'degraded' : 'healthy', problems, warnings, checkedAt: iso(this.clock.now())!, licenses });

    try {
      await this.clients.token(offer, this.clients.graphScope);
    } catch (err) {
      problems.push(credentialProblem(err, 'Microsoft Graph'));
      return done();
    }
    try {
      const snapshot = await this.licenses.snapshot(offer, true);
      licenses = licenseView(snapshot);
      if (snapshot.availableToOffer === 0) {
        problems.push({ code: 'NoLicensesAvailable', target: 'testDrive.licenseSku', message: `No ${snapshot.skuPartNumber} license is free in the tenant (${snapshot.consumed} of ${snapshot.total} in use): no test drive could start.` });
      } else if (snapshot.availableToOffer < cfg.maxConcurrent) {
        warnings.push({
          code: 'FewerLicensesThanConcurrent',
          target: 'testDrive.maxConcurrent',
          message: `Only ${snapshot.availableToOffer} ${snapshot.skuPartNumber} license(s) are free (${snapshot.consumed} of ${snapshot.total} in use) but maxConcurrent is ${cfg.maxConcurrent}: at most ${snapshot.availableToOffer} test drives can run at once.`,
        });
      }
    } catch (err) {
      const e = classifyRemoteError(err, 'graph');
      if (e.code === 'LicenseSkuNotFound') problems.push({ code: 'LicenseSkuNotFound', target: 'testDrive.licenseSku', message: e.message });
      else problems.push(graphProblem(e));
    }
    try {
      await this.checkTenantName(offer, problems);
    } catch (err) {
      const e = classifyRemoteError(err, 'graph');
      if (!problems.some((p) => p.code === 'GraphAccessDenied')) problems.push(graphProblem(e));
    }
    try {
      await this.clients.token(offer, this.clients.instanceScope(offer));
    } catch (err) {
      const e = classifyRemoteError(err, 'token');
      // The app registration itself refused (secret, app, tenant): say so; any other refusal is about the instance's resource URL.
      if (e.kind === 'credential' && e.code in CREDENTIAL_HINTS) problems.push(credentialProblem(e, 'the Dynamics 365 instance'));
      else problems.push({ code: 'InstanceTokenRefused', target: 'testDrive.instanceUrl', message: `No token for the instance (scope ${this.clients.instanceScope(offer)}): ${e.code}. Check that instanceUrl is the instance's resource URL. ${e.message.slice(0, 300)}` });
      return done();
    }
    try {
      problems.push(...(await (await this.clients.product(offer)).check()));
    } catch (err) {
      const e = classifyRemoteError(err, 'dataverse');
      problems.push({ code: 'InstanceUnreachable', target: 'testDrive.instanceWebApiUrl', message: `The instance's API could not be checked: ${e.message.slice(0, 300)}` });
    }
    if (problems.length) this.logger.warn({ offerId: offer.id, problems: problems.map((p) => p.code) }, 'Dynamics 365 offer checks found problems');
    return done();
  }

  /** deployment.tenantName must be one of the tenant's verified domains (users are created under it). */
  private async checkTenantName(offer: OfferEntity, problems: ErrorDetail[]): Promise<void> {
    const name = offer.deployment.tenantName?.toLowerCase();
    const domains = await (await this.clients.graph(offer)).verifiedDomains();
    if (name && domains.length && !domains.includes(name)) {
      problems.push({ code: 'TenantNameNotVerified', target: 'deployment.tenantName', message: `'${name}' is not a verified domain of tenant ${offer.deployment.tenantId} (verified: ${domains.join(', ')}).` });
    }
  }
}

/**
 * What a refused token request says about the app registration, by Entra code (Microsoft Entra
 * authentication and authorization error codes): the field to fix and a hint.
 */
const CREDENTIAL_HINTS: Record<string, { target: string; hint: string }> = {
  AADSTS7000222: { target: 'deployment.clientSecret', hint: 'the client secret has expired' },
  AADSTS7000215: { target: 'deployment.clientSecret', hint: 'the client secret is wrong' },
  AADSTS700016: { target: 'deployment.clientId', hint: 'the app (client id) is not found in the tenant' },
  AADSTS90002: { target: 'deployment.tenantId', hint: 'the tenant is not found' },
};

function credentialProblem(err: unknown, what: string): ErrorDetail {
  const e = classifyRemoteError(err, 'token');
  if (e.kind === 'credential') {
    const { target, hint } = CREDENTIAL_HINTS[e.code] ?? { target: 'deployment.clientSecret', hint: 'the app registration was refused' };
    return { code: 'CredentialRefused', target, message: `No token for ${what}: ${hint} (${e.code}). Renew it and PUT the offer with deployment.clientSecret. ${e.message.slice(0, 300)}` };
  }
  return { code: 'TokenUnavailable', target: 'deployment', message: `No token for ${what} (${e.code}): ${e.message.slice(0, 300)}` };
}

function graphProblem(e: RemoteError): ErrorDetail {
  if (e.kind === 'credential') return credentialProblem(e, 'Microsoft Graph');
  if (e.kind === 'denied') return { code: 'GraphAccessDenied', target: 'deployment.clientId', message: `The app may not manage users and licenses in the tenant (HTTP ${e.status} ${e.code}): it needs Microsoft Graph User.ReadWrite.All / Directory.ReadWrite.All (application) and the User Administrator role.` };
  return { code: 'GraphUnreachable', target: 'deployment', message: `Microsoft Graph did not answer as expected (${e.status ?? 'no HTTP status'} ${e.code}): ${e.message.slice(0, 300)}` };
}
