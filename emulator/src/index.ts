import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ensureTlsMaterial } from './tls';
import { StateStore, emptyState, type ComputeQuota, type EmulatorSettings, type EmulatorState, type PasswordCredentialInfo } from './state';
import { DEFAULT_VM_OPERATION_SECONDS } from './arm/compute';
import { loadSigningKeys, handleEntra, type SigningKeys } from './entra';
import { FaultStore, type ActiveFault, type FaultRule } from './faults';
import { ArmService, type ArmLimits } from './arm/arm';
import { ArmThrottle, DEFAULT_ARM_LIMITS, type ArmCategory, type BucketLimit } from './arm/throttle';
import { armError, sendArmError } from './arm/errors';
import { handleKeyVault } from './keyvault';
import { LogicService, LOGIC_PREFIX } from './logic/service';
import { handleControl, subscriptionSnapshot } from './control';
import { handleGraph } from './graph/graph';
import { handleDynamics, handleDynamicsControl } from './dynamics/dynamics';
import { createEnvironment, environmentInfo, environmentSnapshot, findEnvironment, type CreateDynamicsEnvironmentOptions, type DynamicsEnvironmentInfo } from './dynamics/model';
import { createClient, createPublisher, setClientSecretEndDateTime, setRedirectUris, type ClientInfo, type CreateClientOptions, type CreatePublisherOptions, type PublisherInfo } from './directory';
import { applicationResource } from './graph/applications';
import { removeRoleAssignments, setRoleAssignment } from './arm/authorization';
import { setProviderSettings, type ProviderSettings } from './arm/providers';
import { setComputeQuota } from './arm/usages';
import { DEFAULT_SIGN_IN_SETTINGS, SignInService, type SignInSettings } from './signin';
import { listUsers, type CreateUserOptions, type UpdateUserOptions, type UserInfo, type UserView } from './users';
import { MailService, type MailFilter, type MailMessage } from './smtp';
import { ReceiverService, RECEIVER_PREFIX, type ReceiverInfo, type ReceiverSettings, type ReceiverSnapshot, type ReceivedRequest } from './receivers';
import { HttpInputError, parseRequest, type Ctx } from './http';
import { evaluateTemplateDeployment, ArmTemplateError, parseJsonSource, type TemplateDeploymentRequest, type TemplateDeploymentResult } from './arm/template';
import { fallbackEvaluate, isStubError } from './arm/fallbackEvaluator';

export type { PublisherInfo, ClientInfo, CreateClientOptions, CreatePublisherOptions, FaultRule, ActiveFault };
export type { CreateDynamicsEnvironmentOptions, DynamicsEnvironmentInfo };
export { DynamicsControlError } from './dynamics/model';
export type { ReceiverInfo, ReceiverSettings, ReceiverSnapshot, ReceivedRequest };
export { ReceiverControlError } from './receivers';
export type { SignInSettings, CreateUserOptions, UpdateUserOptions, UserInfo, UserView, MailFilter, MailMessage };
export { DirectoryError } from './directory';
export { DEFAULT_SIGN_IN_SETTINGS } from './signin';
export { MAIL_MAX_MESSAGE_BYTES, MAIL_MAX_MESSAGES } from './smtp';
export { DEFAULT_VM_OPERATION_SECONDS } from './arm/compute';
export type { ComputeQuota, EmulatorSettings, PasswordCredentialInfo } from './state';
export { DEFAULT_REGIONAL_VCPU_LIMIT } from './arm/usages';
export type { ProviderSettings } from './arm/providers';

/** Options of startEmulator. */
export interface EmulatorOptions {
  /** TCP port; 0 = random free port. Default 8443. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Directory for ca.crt / ca.key (always) and state.json (with persist). Created if missing. */
  dataDir: string;
  /** How long a template deployment runs, in seconds (fractions allowed). Default 20; overrides a persisted value when given. */
  deploymentSeconds?: number;
  /**
   * How long a VM start (`POST .../virtualMachines/{vm}/start`) runs, in seconds (fractions allowed). Default 5
   * (DEFAULT_VM_OPERATION_SECONDS); overrides a persisted value when given.
   */
  vmStartSeconds?: number;
  /** How long a VM deallocation runs, in seconds. Default: vmStartSeconds when given, else 5; overrides a persisted value when given. */
  vmDeallocateSeconds?: number;
  /** Save state to dataDir/state.json (debounced, atomic) and reload it on start. Default false. */
  persist?: boolean;
  /** Log sink; the emulator is silent without it. Never receives secrets, tokens or secret values. */
  logger?: (msg: string, extra?: object) => void;
  /** Internal/test knobs: Azure limits (defaults are Azure's documented ones). */
  limits?: Partial<ArmLimits> & { throttling?: Partial<Record<ArmCategory, BucketLimit>> };
  /** Replaces the ARM template evaluator (default: evaluateTemplateDeployment from ./arm/template). */
  evaluator?: (req: TemplateDeploymentRequest) => Promise<TemplateDeploymentResult>;
  /**
   * Port of the SMTP sink (smtp.ts) on `host`; 0 = any free port. Default: no SMTP sink
   * (`handle.smtpUrl` undefined). The standalone start reads EMULATOR_SMTP_PORT (default 2525).
   */
  smtpPort?: number;
  /** Lifetimes of authorization codes, refresh tokens and SSO sessions (default DEFAULT_SIGN_IN_SETTINGS). */
  signIn?: Partial<SignInSettings>;
}

/** A running emulator. */
export interface EmulatorHandle {
  /** e.g. "https://localhost:8443" — ARM endpoint, Entra authority host and Key Vault URL at once. */
  url: string;
  port: number;
  /** PEM of the emulator's CA (trust it via NODE_EXTRA_CA_CERTS=caCertPath or tlsOptions.ca). */
  caCertPem: string;
  caCertPath: string;
  /** Live settings (mutable through PUT /_emulator/settings or directly). */
  settings: EmulatorSettings;
  /** Tenant that owns the emulated Key Vault; clients for the vault must live here (createClient's default). */
  serviceTenantId: string;
  /** The effective limits. */
  limits: ArmLimits;
  /** Same as POST /_emulator/publishers. */
  createPublisher(opts?: CreatePublisherOptions): Promise<PublisherInfo>;
  /** Same as POST /_emulator/clients (default tenant: serviceTenantId). */
  createClient(opts?: CreateClientOptions): Promise<ClientInfo>;
  /** Same as PUT /_emulator/faults. */
  setFaults(rules: FaultRule[]): ActiveFault[];
  /** Same as GET /_emulator/faults. */
  listFaults(): ActiveFault[];
  /**
   * TLS handshakes the emulator completed since it started (full and resumed): how many connections its
   * clients opened (issue 14: a client that reuses keep-alive connections shows few).
   */
  tlsHandshakes(): number;
  /** Same as POST /_emulator/dynamics-environments (throws DynamicsControlError on bad input). */
  createDynamicsEnvironment(opts: CreateDynamicsEnvironmentOptions): DynamicsEnvironmentInfo;
  /** Same as GET /_emulator/dynamics-environments/{name} (undefined when unknown). */
  getDynamicsEnvironment(name: string): Record<string, unknown> | undefined;
  /**
   * HTTPS receivers (same as /_emulator/receivers): `create(settings?)` -> `{id, url}`; `get(id)` -> snapshot with
   * `received` (arrival order) or undefined; `update(id, settings)` (PATCH; throws ReceiverControlError);
   * `clear(id)` forgets requests; `delete(id)`; `list()`.
   */
  receivers: {
    create(settings?: ReceiverSettings): ReceiverInfo;
    get(id: string): ReceiverSnapshot | undefined;
    update(id: string, settings: ReceiverSettings): ReceiverSnapshot;
    clear(id: string): boolean;
    delete(id: string): boolean;
    list(): ReceiverSnapshot[];
  };
  /** Same as GET /_emulator/subscriptions/{id} (undefined when unknown). */
  getSubscription(subscriptionId: string): Record<string, unknown> | undefined;
  /**
   * Same as POST /_emulator/users: a user who can sign in interactively (default tenant: serviceTenantId);
   * the password is returned only here. Rejects with DirectoryError (400/404/409) on bad input.
   */
  createUser(opts?: CreateUserOptions): Promise<UserInfo>;
  /** Same as GET /_emulator/users (no passwords). */
  listUsers(tenantId?: string): UserView[];
  /** Same as PATCH /_emulator/users/{id}; a new password ends the user's sessions and refresh tokens. Throws DirectoryError. */
  updateUser(objectIdOrUpn: string, opts: UpdateUserOptions): UserView;
  /** Same as DELETE /_emulator/users/{id} (ends sessions, revokes refresh tokens); false when unknown. */
  deleteUser(objectIdOrUpn: string): boolean;
  /** Same as PUT /_emulator/clients/{clientId}/redirect-uris (replaces the list). Throws DirectoryError 400/404. */
  setRedirectUris(clientId: string, redirectUris: string[]): { clientId: string; redirectUris: string[] };
  /**
   * Same as GET /_emulator/clients/{clientId}: the client's app registration as Microsoft Graph returns it
   * (`id`, `appId`, `displayName`, `passwordCredentials` with `keyId`, `hint`, `startDateTime`, `endDateTime`; never the
   * secret). Undefined when unknown.
   */
  getApplication(clientId: string): Record<string, unknown> | undefined;
  /**
   * Same as PATCH /_emulator/clients/{clientId} `{secretEndDateTime}`: when the client's secret expires (ISO string or
   * Date). A past date makes the token endpoint refuse it (401 invalid_client AADSTS7000222). Throws DirectoryError 400/404.
   */
  setClientSecretExpiry(clientId: string, endDateTime: string | Date): PasswordCredentialInfo;
  /**
   * Same as DELETE /_emulator/subscriptions/{s}/role-assignments/{principal}: removes every role of the principal
   * (service principal object id or app client id) on the subscription; ARM then refuses it (403 AuthorizationFailed).
   * Returns the removed assignments (ARM JSON). Throws DirectoryError 404 (unknown subscription/principal, no role held).
   */
  removeRoleAssignment(subscriptionId: string, principal: string): Array<Record<string, unknown>>;
  /**
   * Same as PUT /_emulator/subscriptions/{s}/role-assignments/{principal} `{role}`: the principal then holds exactly `role`
   * on the subscription. Returns the assignment (ARM JSON). Throws DirectoryError 400/404.
   */
  setRoleAssignment(subscriptionId: string, principal: string, role: 'Owner' | 'Contributor' | 'Reader'): Record<string, unknown>;
  /**
   * Same as PATCH /_emulator/subscriptions/{s}/providers/{namespace}: `registrationState` ('NotRegistered' makes validation
   * and deployments of its types fail with MissingSubscriptionRegistration until providers.register) and/or
   * `unavailableLocations` (`{sites: ['westeurope']}`: LocationNotAvailableForResourceType there; replaces the previous map).
   * `'reset'` = DELETE (catalog defaults). Returns the provider as ARM shows it. Throws DirectoryError 400/404.
   */
  setProvider(subscriptionId: string, namespace: string, settings: ProviderSettings | 'reset'): Record<string, unknown>;
  /**
   * Same as PUT /_emulator/subscriptions/{s}/compute-quotas/{location} `{cores?, families?}` (limits merged in) or DELETE
   * (`'reset'`: defaults, DEFAULT_REGIONAL_VCPU_LIMIT): the vCPU limits Compute's usage list shows and deployment
   * validation enforces (QuotaExceeded). Returns the usage list for that location. Throws DirectoryError 400/404.
   */
  setComputeQuota(subscriptionId: string, location: string, quota: ComputeQuota | 'reset'): Array<Record<string, unknown>>;
  /** Live sign-in lifetimes (codes, refresh tokens, SSO sessions); changing a field takes effect at once. */
  signIn: SignInSettings;
  /** `smtp://127.0.0.1:PORT` of the SMTP sink, when started with `smtpPort`. */
  smtpUrl: string | undefined;
  smtpPort: number | undefined;
  /**
   * Mail the SMTP sink received (same as /_emulator/mail): `list(filter?)` newest first (`to` matches an envelope,
   * To or Cc address), `get(id)`, `clear()`, `waitFor(predicate, timeoutMs = 5000)` (rejects on timeout).
   */
  mail: {
    list(filter?: MailFilter): MailMessage[];
    get(id: string): MailMessage | undefined;
    clear(): number;
    waitFor(match: (m: MailMessage) => boolean, timeoutMs?: number): Promise<MailMessage>;
  };
  /** Stops timers, saves state (with persist) and closes the server and its connections. */
  close(): Promise<void>;
}

/** ARM's documented limits: 980 resource groups per subscription, 800 deployments per resource group. */
export const DEFAULT_LIMITS: ArmLimits = { resourceGroupsPerSubscription: 980, deploymentsPerResourceGroup: 800 };

/** Timeout (ms) for downloading linked templates / parameter files. */
export const FETCH_TIMEOUT_MS = 10_000;

/**
 * Downloads a linked template or parameters file with global fetch (http or https; 10 s timeout;
 * a UTF-8 BOM and comments are tolerated, as in inline templates). Failures throw ArmTemplateError InvalidContentLink like ARM.
 * Note: fetch trusts NODE_EXTRA_CA_CERTS, not per-client tlsOptions.
 */
export async function fetchTemplate(uri: string): Promise<unknown> {
  let res: Response;
  try {
    const u = new URL(uri);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('unsupported scheme');
    res = await fetch(u, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), redirect: 'follow' });
  } catch (e) {
    throw new ArmTemplateError('InvalidContentLink', `Unable to download deployment content from '${uri}'. The tracking Id is '${cryptoRandom()}'. Please see https://aka.ms/arm-deploy for usage details. (${(e as Error).message})`);
  }
  if (!res.ok) {
    throw new ArmTemplateError('InvalidContentLink', `Unable to download deployment content from '${uri}'. The tracking Id is '${cryptoRandom()}'. Please see https://aka.ms/arm-deploy for usage details. (HTTP ${res.status})`);
  }
  const text = (await res.text()).replace(/^\uFEFF/, '');
  try {
    return parseJsonSource(text, 'deployment');
  } catch (e) {
    throw new ArmTemplateError('InvalidContentLink', `Unable to parse deployment content from '${uri}': ${(e as Error).message}`);
  }
}

function cryptoRandom(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * Starts the local Azure emulator (Entra ID token endpoint and interactive sign-in, ARM resource
 * groups/deployments/resources, Key Vault secrets, control API) on one HTTPS port, plus the SMTP sink
 * on `smtpPort` when given. Creates/reuses the CA in dataDir. Resolves once listening. Rejects if a port
 * is taken or dataDir is unusable.
 */
export async function startEmulator(opts: EmulatorOptions): Promise<EmulatorHandle> {
  const log = opts.logger ?? ((): void => undefined);
  mkdirSync(opts.dataDir, { recursive: true });
  // A freshly issued server certificate that the TLS stack refuses (seen once on Node 22: "asn1 encoding
  // routines::illegal padding") is issued again rather than failing the start.
  let tls = ensureTlsMaterial(opts.dataDir);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      createSecureContext({ key: tls.serverKeyPem, cert: tls.serverCertPem });
      break;
    } catch {
      tls = ensureTlsMaterial(opts.dataDir);
    }
  }
  const persist = opts.persist ?? false;
  const state: EmulatorState = persist
    ? StateStore.load(opts.dataDir, opts.deploymentSeconds ?? 20, (e) => log('state.json unreadable; starting empty', { error: String(e) }))
    : emptyState(opts.deploymentSeconds ?? 20);
  if (opts.deploymentSeconds !== undefined) state.settings.deploymentSeconds = opts.deploymentSeconds;
  const vmDeallocateSeconds = opts.vmDeallocateSeconds ?? opts.vmStartSeconds;
  if (opts.vmStartSeconds !== undefined) state.settings.vmStartSeconds = opts.vmStartSeconds;
  else state.settings.vmStartSeconds ??= DEFAULT_VM_OPERATION_SECONDS;
  if (vmDeallocateSeconds !== undefined) state.settings.vmDeallocateSeconds = vmDeallocateSeconds;
  else state.settings.vmDeallocateSeconds ??= DEFAULT_VM_OPERATION_SECONDS;
  const store = new StateStore(state, opts.dataDir, persist);
  const keys: SigningKeys = await loadSigningKeys(state);
  store.changed();
  const faults = new FaultStore();
  const limits: ArmLimits = {
    resourceGroupsPerSubscription: opts.limits?.resourceGroupsPerSubscription ?? DEFAULT_LIMITS.resourceGroupsPerSubscription,
    deploymentsPerResourceGroup: opts.limits?.deploymentsPerResourceGroup ?? DEFAULT_LIMITS.deploymentsPerResourceGroup,
  };
  const throttle = new ArmThrottle({ ...DEFAULT_ARM_LIMITS, ...(opts.limits?.throttling ?? {}) });
  const evaluator = opts.evaluator ?? evaluateTemplateDeployment;
  // Logic Apps (emulator/src/logic): workflows API, callback endpoint, run engine.
  const logic = new LogicService({ state, store, keys, caCertPem: tls.caCertPem, selfUrl: () => `https://localhost:${port}`, log });
  const evaluate = async (req: TemplateDeploymentRequest): Promise<TemplateDeploymentResult> => {
    try {
      return await evaluator({ ...req, listActionOverride: (fn, target, declared) => logic.templateListAction(fn, target, declared, req.scope.armEndpoint) });
    } catch (e) {
      if (isStubError(e)) return fallbackEvaluate(req);
      throw e;
    }
  };
  const receivers = new ReceiverService(state, store, log);
  const signInSettings: SignInSettings = { ...DEFAULT_SIGN_IN_SETTINGS, ...(opts.signIn ?? {}) };
  const signIn = new SignInService(state, store, keys, signInSettings, log);
  const mail = new MailService(log);
  const arm = new ArmService({ state, store, keys, faults, throttle, limits, evaluate, fetchTemplate, log, logic });
  arm.resume();

  let port = 0;
  const handler = async (ctx: Ctx): Promise<void> => {
    const first = (ctx.segments[0] ?? '').toLowerCase();
    if (first === '_emulator' && handleDynamicsControl(ctx, { state, store, keys, faults, log })) return;
    if (first === '_emulator' && logic.handleControl(ctx)) return;
    if (first === '_emulator' && receivers.handleControl(ctx)) return;
    if (first === '_emulator' && signIn.handleControl(ctx)) return;
    if (first === '_emulator' && mail.handleControl(ctx)) return;
    if (first === RECEIVER_PREFIX) return receivers.handle(ctx);
    if (first === '_emulator') return handleControl(ctx, { state, store, faults, arm, tlsHandshakes: () => handshakes });
    if (first === LOGIC_PREFIX) return logic.handleCallback(ctx);
    if (first === 'graph') return handleGraph(ctx, { state, store, keys, faults, log });
    if (first === 'dynamics') return handleDynamics(ctx, { state, store, keys, faults, log });
    if (first === 'secrets' || first === 'deletedsecrets') return handleKeyVault(ctx, { state, store, keys, faults, log });
    if (first === 'subscriptions') return arm.handle(ctx);
    if (await handleEntra(ctx, { state, keys, faults, log, signIn })) return;
    ctx.res.setHeader('x-ms-request-id', ctx.requestId);
    sendArmError(ctx, armError(404, 'InvalidResourceType', `The resource type '${(ctx.segments[0] ?? '').slice(0, 100)}' could not be found in the namespace 'Microsoft.Resources' for api version '${(ctx.query.get('api-version') ?? '').slice(0, 40)}'.`));
  };

  const server: Server = createServer({ key: tls.serverKeyPem, cert: tls.serverCertPem }, (req, res) => {
    const hostHeader = req.headers.host ?? '';
    const baseUrl = /^(localhost|127\.0\.0\.1|\[::1\]):\d+$/i.test(hostHeader) ? `https://${hostHeader.toLowerCase()}` : `https://localhost:${port}`;
    void (async () => {
      let ctx: Ctx | undefined;
      try {
        ctx = await parseRequest(req, res, baseUrl);
        await handler(ctx);
      } catch (e) {
        const fake = ctx ?? ({ req, res, method: req.method ?? 'GET', path: '/', segments: [], query: new URLSearchParams(), body: Buffer.alloc(0), requestId: cryptoRandom(), correlationId: cryptoRandom(), baseUrl });
        if (e instanceof HttpInputError) sendArmError(fake, armError(e.status, e.code, e.message));
        else {
          log('unhandled request error', { error: String(e) });
          sendArmError(fake, armError(500, 'InternalServerError', 'Encountered internal server error.'));
        }
      }
    })();
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.on('tlsClientError', () => undefined);
  let handshakes = 0;
  server.on('secureConnection', () => handshakes++);

  try {
    if (opts.smtpPort !== undefined) await mail.listen(opts.smtpPort, opts.host ?? '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 8443, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    await mail.close();
    arm.close();
    logic.close();
    throw e;
  }
  port = (server.address() as AddressInfo).port;
  const url = `https://localhost:${port}`;
  log('emulator listening', { url, caCertPath: tls.caCertPath, dataDir: opts.dataDir, persist });

  let closed = false;
  return {
    url,
    port,
    caCertPem: tls.caCertPem,
    caCertPath: tls.caCertPath,
    settings: state.settings,
    serviceTenantId: state.serviceTenantId,
    limits,
    createPublisher: async (o) => createPublisher(state, store, o),
    createClient: async (o) => createClient(state, store, o),
    setFaults: (rules) => faults.set(rules),
    listFaults: () => faults.list(),
    createDynamicsEnvironment: (o) => {
      const env = createEnvironment(state, o);
      store.changed();
      return environmentInfo(state, url, env);
    },
    getDynamicsEnvironment: (name) => {
      const env = findEnvironment(state, name);
      return env ? environmentSnapshot(state, url, env) : undefined;
    },
    receivers: {
      create: (o) => receivers.create(url, o),
      get: (id) => receivers.get(url, id),
      update: (id, o) => receivers.update(url, id, o),
      clear: (id) => receivers.clear(id),
      delete: (id) => receivers.delete(id),
      list: () => receivers.list(url),
    },
    getSubscription: (id) => {
      const sub = state.subscriptions[id.toLowerCase()];
      if (!sub) return undefined;
      arm.refresh(sub);
      return subscriptionSnapshot(sub);
    },
    createUser: async (o = {}) => signIn.createUser(o),
    listUsers: (tenantId) => listUsers(state, tenantId),
    updateUser: (id, o) => signIn.updateUser(id, o),
    deleteUser: (id) => signIn.deleteUser(id),
    setRedirectUris: (clientId, uris) => setRedirectUris(state, store, clientId, uris),
    getApplication: (clientId) => {
      const app = state.clients[clientId.toLowerCase()];
      return app ? applicationResource(state, store, app) : undefined;
    },
    setClientSecretExpiry: (clientId, end) => setClientSecretEndDateTime(state, store, clientId, end instanceof Date ? end.toISOString() : end),
    removeRoleAssignment: (subscriptionId, principal) => removeRoleAssignments(state, store, subscriptionId, principal),
    setRoleAssignment: (subscriptionId, principal, role) => setRoleAssignment(state, store, subscriptionId, principal, role),
    setProvider: (subscriptionId, namespace, settings) => setProviderSettings(state, store, subscriptionId, namespace, settings),
    setComputeQuota: (subscriptionId, location, quota) => setComputeQuota(state, store, subscriptionId, location, quota),
    signIn: signInSettings,
    smtpUrl: mail.url,
    smtpPort: mail.port,
    mail: {
      list: (f) => mail.list(f),
      get: (id) => mail.get(id),
      clear: () => mail.clear(),
      waitFor: (match, timeoutMs) => mail.waitFor(match, timeoutMs),
    },
    tlsHandshakes: () => handshakes,
    close: async () => {
      if (closed) return;
      closed = true;
      arm.close();
      logic.close();
      store.close();
      await Promise.all([
        mail.close(),
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
      ]);
    },
  };
}
