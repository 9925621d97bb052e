/**
 * Microsoft Graph v1.0 `application` resources (app registrations) built from the emulator's clients
 * (directory.ts): what `GET /applications[?$filter=appId eq '{id}']`, `GET /applications/{id}` and
 * `GET /applications(appId='{appId}')` return. Client secrets appear as `passwordCredentials` with their
 * metadata (`keyId`, `displayName`, `hint`, `startDateTime`, `endDateTime`) and `secretText: null`, as Graph
 * lists them: never the secret. Managed identities (Logic Apps workflows) have service principals only, no
 * application object, as in Entra.
 */
import { createHash } from 'node:crypto';
import { ensureApplicationInfo } from '../directory';
import type { AppClient, EmulatorState, StateStore } from '../state';

/** Properties of `microsoft.graph.application` the emulator knows (for `$filter` / `$select`), lower-case. */
export const APPLICATION_PROPS = new Set(
  [
    'id', 'deletedDateTime', 'appId', 'applicationTemplateId', 'disabledByMicrosoftStatus', 'createdDateTime', 'displayName', 'description',
    'groupMembershipClaims', 'identifierUris', 'isDeviceOnlyAuthSupported', 'isFallbackPublicClient', 'notes', 'publisherDomain',
    'serviceManagementReference', 'signInAudience', 'tags', 'tokenEncryptionKeyId', 'defaultRedirectUri', 'certification', 'optionalClaims',
    'addIns', 'api', 'appRoles', 'info', 'keyCredentials', 'parentalControlSettings', 'passwordCredentials', 'publicClient',
    'requiredResourceAccess', 'verifiedPublisher', 'web', 'spa',
  ].map((p) => p.toLowerCase()),
);

/** Graph's date-time without fractional seconds (createdDateTime). */
function graphSeconds(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}

/**
 * True for the service principal of a managed identity (logic/identity.ts derives its client id from the
 * principal id with this hash): such principals have no application object.
 */
function isManagedIdentity(app: AppClient): boolean {
  const h = createHash('sha256').update(`msi:${app.objectId}`).digest('hex');
  return app.clientId === `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The app registrations of a tenant (clients and publisher apps; not managed identities). */
export function tenantApplications(state: EmulatorState, tenantId: string): AppClient[] {
  return Object.values(state.clients).filter((c) => c.tenantId === tenantId && !isManagedIdentity(c));
}

/**
 * The Graph v1.0 `application` JSON of a client (every default property; `passwordCredentials` without the
 * secret). Fills in the application object id and secret metadata of older clients (persisted).
 */
export function applicationResource(state: EmulatorState, store: StateStore, app: AppClient): Record<string, unknown> {
  const { applicationObjectId, secretCredential } = ensureApplicationInfo(app, store);
  const redirectUris = app.redirectUris ?? [];
  return {
    id: applicationObjectId,
    deletedDateTime: null,
    appId: app.clientId,
    applicationTemplateId: null,
    disabledByMicrosoftStatus: null,
    createdDateTime: app.createdAt ? graphSeconds(app.createdAt) : null,
    displayName: app.displayName,
    description: null,
    groupMembershipClaims: null,
    identifierUris: [],
    isDeviceOnlyAuthSupported: null,
    isFallbackPublicClient: app.publicClient ? true : null,
    notes: null,
    publisherDomain: state.tenants[app.tenantId]?.name ?? null,
    serviceManagementReference: null,
    signInAudience: app.signInAudience ?? 'AzureADMyOrg',
    tags: [],
    tokenEncryptionKeyId: null,
    defaultRedirectUri: null,
    certification: null,
    optionalClaims: null,
    addIns: [],
    api: { acceptMappedClaims: null, knownClientApplications: [], requestedAccessTokenVersion: null, oauth2PermissionScopes: [], preAuthorizedApplications: [] },
    appRoles: [],
    info: { logoUrl: null, marketingUrl: null, privacyStatementUrl: null, supportUrl: null, termsOfServiceUrl: null },
    keyCredentials: [],
    parentalControlSettings: { countriesBlockedForMinors: [], legalAgeGroupRule: 'Allow' },
    passwordCredentials: [
      {
        customKeyIdentifier: null,
        displayName: secretCredential.displayName,
        endDateTime: secretCredential.endDateTime,
        hint: secretCredential.hint,
        keyId: secretCredential.keyId,
        secretText: null,
        startDateTime: secretCredential.startDateTime,
      },
    ],
    publicClient: { redirectUris: app.publicClient ? redirectUris : [] },
    requiredResourceAccess: [],
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
    web: {
      homePageUrl: null,
      logoutUrl: null,
      redirectUris: app.publicClient ? [] : redirectUris,
      implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false },
      redirectUriSettings: (app.publicClient ? [] : redirectUris).map((uri) => ({ uri, index: null })),
    },
    spa: { redirectUris: [] },
  };
}

/**
 * The path key of one application: `{id}` (segment after `applications/`) or the alternate key in
 * `applications(appId='{appId}')` / `applications(appId="{appId}")`. Returns undefined when `segment` is
 * not `applications(...)`.
 */
export function alternateKeyOf(segment: string): { appId: string } | undefined {
  const m = /^applications\(\s*appId\s*=\s*(?:'([^']*)'|"([^"]*)")\s*\)$/i.exec(segment);
  return m ? { appId: m[1] ?? m[2] } : undefined;
}

/** The tenant's application whose object id (`byId`) or appId (`byAppId`) is given, case-insensitively. */
export function findTenantApplication(state: EmulatorState, tenantId: string, key: { id?: string; appId?: string }): AppClient | undefined {
  const id = key.id?.toLowerCase();
  const appId = key.appId?.toLowerCase();
  return tenantApplications(state, tenantId).find((c) => (appId !== undefined ? c.clientId.toLowerCase() === appId : c.applicationObjectId?.toLowerCase() === id));
}
