import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvaluatedResource } from './arm/template/types';
import type { GraphStateExtension } from './graph/model';
import type { DynamicsStateExtension } from './dynamics/model';
import type { ReceiverStateExtension } from './receivers';

/** ARM-style error object: `{ code, message, target?, details?, additionalInfo? }`. */
export interface ArmErrorInfo {
  code: string;
  message: string;
  target?: string;
  details?: ArmErrorInfo[];
  additionalInfo?: unknown[];
}

/** An Entra ID tenant (directory). */
export interface Tenant {
  id: string;
  /** e.g. "contoso1234.onmicrosoft.com" */
  name: string;
  createdAt: string;
}

/**
 * An app registration together with its service principal and one client secret.
 * kind: "publisher" (created by POST /_emulator/publishers, Contributor on its subscription, no vault access),
 * "client" (POST /_emulator/clients; vault access when in the service tenant).
 */
export interface AppClient {
  clientId: string;
  /** Object id of the service principal (the `oid` claim). */
  objectId: string;
  tenantId: string;
  displayName: string;
  kind: 'publisher' | 'client';
  /** SHA-256 (hex) of the client secret; the secret itself is never stored. */
  secretSha256: string;
  /** App roles that go into the `roles` claim of its tokens. */
  roles: string[];
  /** Whether the principal holds secret permissions on the emulated Key Vault. */
  keyVaultAccess: boolean;
  /**
   * Redirect URIs (Entra's "reply URLs") the authorization endpoint may send a code to, and that
   * logout may return to (signin.ts). Absent on clients created before sign-in existed: none.
   */
  redirectUris?: string[];
  /**
   * Entra's "Allow public client flows": the app may redeem codes and refresh tokens without its
   * secret, and must then use PKCE (signin.ts).
   */
  publicClient?: boolean;
  /** 'AzureADMultipleOrgs': users of any tenant may sign in (consent is taken as given); default: its own tenant only. */
  signInAudience?: 'AzureADMyOrg' | 'AzureADMultipleOrgs';
  /**
   * Object id of the application object (Graph `application.id`; not the service principal's `objectId`).
   * Absent on clients created before Graph applications existed: given on first use (graph/applications.ts).
   */
  applicationObjectId?: string;
  /** ISO time the app registration was created (absent on older clients). */
  createdAt?: string;
  /**
   * Metadata of the client secret, as Graph lists it in `passwordCredentials` (never the secret itself).
   * Absent on older clients: filled on first use with a start of that moment and the default lifetime.
   */
  secretCredential?: PasswordCredentialInfo;
}

/** A client secret's metadata (Graph `passwordCredential` without `secretText`). */
export interface PasswordCredentialInfo {
  keyId: string;
  displayName: string;
  /** First 3 characters of the secret (Graph's `hint`); null when unknown (older clients). */
  hint: string | null;
  /** ISO times; a token request with the secret after `endDateTime` gets AADSTS7000222. */
  startDateTime: string;
  endDateTime: string;
}

/**
 * A user who can sign in interactively (authorization endpoint, signin.ts). Separate from the users
 * created through Graph (graph/model.ts): these carry app roles for the emulator's APIs, like clients.
 */
export interface SignInUser {
  /** The user's object id (the `oid` claim). */
  objectId: string;
  tenantId: string;
  /** e.g. "operator@testdriveservice.onmicrosoft.com" (unique across tenants, case-insensitive). */
  userPrincipalName: string;
  displayName: string;
  /** SHA-256 (hex) of the password; the password itself is never stored. */
  passwordSha256: string;
  /** App roles that go into the `roles` claim of the user's ID tokens and API access tokens. */
  roles: string[];
  createdAt: string;
}

/** Azure RBAC role assignment at subscription scope. */
export interface RoleAssignment {
  principalId: string;
  roleDefinitionName: 'Owner' | 'Contributor' | 'Reader';
  /** The assignment's GUID name (ARM `name`); absent on older assignments: derived (arm/authorization.ts). */
  name?: string;
  /** ISO creation time (ARM `properties.createdOn`); absent on older assignments. */
  createdOn?: string;
}

/** Per-subscription state of a resource provider namespace (arm/providers.ts); absent = the catalog's defaults. */
export interface ProviderOverride {
  /** Registration state shown by providers.get/list (default Registered). */
  registrationState?: 'Registered' | 'NotRegistered' | 'Unregistered';
  /** Locations (normalised, e.g. "westeurope") where a resource type is unavailable, by lower-case resource type ("sites"). */
  unavailable?: Record<string, string[]>;
}

/** Compute vCPU quota of a subscription in one location (arm/usages.ts); absent values = defaults. */
export interface ComputeQuota {
  /** "Total Regional vCPUs" limit (default DEFAULT_REGIONAL_VCPU_LIMIT). */
  cores?: number;
  /** Per VM family limits, e.g. `{standardDSv3Family: 10}` (default: the regional default). */
  families?: Record<string, number>;
}

/** A generic ARM resource stored in a resource group (as produced by a deployment). */
export interface StoredResource extends EvaluatedResource {
  /** Microsoft.Compute/virtualMachines only: the VM's power and provisioning state (arm/compute.ts). Not part of generic bodies. */
  vm?: VmRuntime;
}

/** Power states of a VM as its instance view reports them (`PowerState/{state}`). */
export type VmPowerState = 'starting' | 'running' | 'deallocating' | 'deallocated';

/** What the emulator tracks about a deployed virtual machine beyond its declared properties. */
export interface VmRuntime {
  powerState: VmPowerState;
  /** properties.provisioningState: Updating while an operation runs, Failed after a failed one. */
  provisioningState: 'Succeeded' | 'Updating' | 'Failed';
  /** ISO time provisioningState last changed (instance view status `time`). */
  stateTime: string;
  /** ISO time the VM was created (properties.timeCreated). */
  timeCreated: string;
  /** Error of the last failed operation (instance view `ProvisioningState/failed/{code}`). */
  error?: ArmErrorInfo;
  /** Id of the operation in progress (key of EmulatorState.computeOperations). */
  operationId?: string;
}

/**
 * An asynchronous VM operation (start, deallocate) polled through
 * `/subscriptions/{s}/providers/Microsoft.Compute/locations/{location}/operations/{id}`.
 */
export interface ComputeOperation {
  /** GUID; the `name` in the operation status body. */
  id: string;
  kind: 'start' | 'deallocate';
  subscriptionId: string;
  resourceGroupName: string;
  /** Resource id of the VM. */
  vmId: string;
  location: string;
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled';
  startTime: string;
  endTime?: string;
  /** Epoch ms when it completes. */
  completesAtMs: number;
  /** Power state before the operation (restored when it fails). */
  fromPowerState: VmPowerState;
  error?: ArmErrorInfo;
  /** HTTP status the monitor (Location) URL answers for a Failed/Canceled operation. */
  httpStatus?: number;
}

/** Deployment lifecycle: Accepted -> Running -> Succeeded | Failed | Canceled. */
export type DeploymentState = 'Accepted' | 'Running' | 'Succeeded' | 'Failed' | 'Canceled';

/** A template deployment (Microsoft.Resources/deployments) in a resource group. */
export interface Deployment {
  name: string;
  /** Operation id used in the Azure-AsyncOperation URL (…/operationStatuses/{operationId}). */
  operationId: string;
  correlationId: string;
  provisioningState: DeploymentState;
  mode: string;
  /** Parameters as ARM echoes them (securestring/secureObject values removed). */
  parameters: Record<string, unknown>;
  templateLink?: Record<string, unknown>;
  parametersLink?: Record<string, unknown>;
  templateHash: string;
  /** ISO time the PUT was accepted. */
  createdAt: string;
  /** ISO time of the last state change (ARM's properties.timestamp). */
  timestamp: string;
  /** Epoch ms when the deployment completes. */
  completesAtMs: number;
  /** Epoch ms when it switches from Accepted to Running. */
  runningAtMs: number;
  outputs?: Record<string, { type: string; value: unknown }>;
  error?: ArmErrorInfo;
  outputResources?: Array<{ id: string }>;
  /** What happens at completion (evaluated at PUT time); dropped once applied. */
  pending?: { resources: StoredResource[]; outputs: Record<string, { type: string; value: unknown }> } | { error: ArmErrorInfo };
}

/** A resource group. */
export interface ResourceGroup {
  name: string;
  location: string;
  tags: Record<string, string>;
  managedBy?: string;
  provisioningState: 'Succeeded' | 'Deleting';
  createdAt: string;
  /** Key: lower-case deployment name. */
  deployments: Record<string, Deployment>;
  resources: StoredResource[];
  /** Set while deleting: operation id and completion time (epoch ms). */
  deletion?: { operationId: string; completesAtMs: number };
}

/** An Azure subscription in a tenant. */
export interface Subscription {
  id: string;
  tenantId: string;
  displayName: string;
  roleAssignments: RoleAssignment[];
  /** Key: lower-case resource group name. */
  resourceGroups: Record<string, ResourceGroup>;
  /** Resource provider overrides by lower-case namespace (absent in older state files). */
  providers?: Record<string, ProviderOverride>;
  /** Compute vCPU quotas by normalised location (absent in older state files). */
  computeQuotas?: Record<string, ComputeQuota>;
}

/** Status of an asynchronous resource-group delete, polled through its Location URL. */
export interface AsyncOperation {
  id: string;
  kind: 'resourceGroupDelete';
  subscriptionId: string;
  resourceGroupName: string;
  status: 'InProgress' | 'Succeeded';
  createdAt: string;
}

/** One version of a Key Vault secret. Times are Unix seconds (Key Vault's wire format). */
export interface SecretVersion {
  version: string;
  value: string;
  contentType?: string;
  tags?: Record<string, string>;
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
}

/** A Key Vault secret (all versions); `deleted` is set while soft-deleted. */
export interface VaultSecret {
  name: string;
  versions: SecretVersion[];
  deleted?: { deletedDate: number; scheduledPurgeDate: number };
}

/**
 * An API app registration (a resource other apps get tokens for), e.g. the test drive orchestrator's
 * own `api://test-drive-orchestrator` with its app roles. Tokens for it are Entra v2 access tokens.
 */
export interface ApiApplication {
  /** Application (client) id of the API. */
  appId: string;
  /** Application ID URI, e.g. "api://test-drive-orchestrator" (token `aud`). */
  identifierUri: string;
  displayName: string;
  /** App role values the API defines (informational: tokens carry every role assigned to the client). */
  appRoles: string[];
  createdAt: string;
}

/**
 * Live emulator settings (GET/PUT /_emulator/settings). dynamicsSyncSeconds: default delay before a licensed
 * user appears in a Dynamics environment (dynamics/model.ts); vmStartSeconds / vmDeallocateSeconds: how long a
 * VM start / deallocate runs (arm/compute.ts; absent in older state files: DEFAULT_VM_OPERATION_SECONDS).
 */
export interface EmulatorSettings {
  deploymentSeconds: number;
  dynamicsSyncSeconds?: number;
  vmStartSeconds?: number;
  vmDeallocateSeconds?: number;
}

/** Everything the emulator remembers (what state.json holds). Graph directories and Dynamics environments: graph/model.ts, dynamics/model.ts. */
export interface EmulatorState extends GraphStateExtension, DynamicsStateExtension, ReceiverStateExtension {
  version: 1;
  /** Tenant that owns the emulated Key Vault (challenge `authorization` URL points at it). */
  serviceTenantId: string;
  /** Live settings (see EmulatorSettings). */
  settings: EmulatorSettings;
  /** Private signing key (JWK) for access tokens, so tokens survive restarts. */
  signingKey?: { kid: string; privateJwk: Record<string, unknown> };
  /** Earlier signing keys still published in the JWKS after a rotation (public JWKs only). */
  previousSigningKeys?: Array<{ kid: string; publicJwk: Record<string, unknown> }>;
  /** API (resource) app registrations with app roles, by lower-case identifier URI (see entra.ts). */
  applications?: Record<string, ApiApplication>;
  tenants: Record<string, Tenant>;
  clients: Record<string, AppClient>;
  /** Users who can sign in interactively, by object id (absent in older state files). */
  users?: Record<string, SignInUser>;
  subscriptions: Record<string, Subscription>;
  operations: Record<string, AsyncOperation>;
  /** VM start/deallocate operations by id (absent in older state files). */
  computeOperations?: Record<string, ComputeOperation>;
  /** Key: lower-case secret name. */
  secrets: Record<string, VaultSecret>;
}

/** A fresh, empty state with a new service tenant. */
export function emptyState(deploymentSeconds: number): EmulatorState {
  const serviceTenantId = randomUUID();
  return {
    version: 1,
    serviceTenantId,
    settings: { deploymentSeconds },
    tenants: { [serviceTenantId]: { id: serviceTenantId, name: 'testdriveservice.onmicrosoft.com', createdAt: new Date().toISOString() } },
    clients: {},
    subscriptions: {},
    operations: {},
    secrets: {},
  };
}

/**
 * A save waits at least this many times the last save's duration after it: while changes keep coming,
 * saving takes at most 1/(1 + this) of the event loop (2.4 %). At 100 resource group tag updates a second
 * (a hot start each, issue 14) a 7 MB state took 10-12 ms to serialise and write; at ten times, saves took
 * 5-6 % of a core of the emulator. What a hard kill can lose: the changes of the last ~0.5 s.
 */
export const SAVE_SPACING = 40;

/**
 * Holds the state in memory; with `persist`, saves it to `dataDir/state.json` atomically (write temp
 * file + rename) after a change, and on flush(). Saves are asynchronous file writes, one at a time, and
 * spaced by at least `debounceMs` (200 ms) and SAVE_SPACING times the last save's duration: a large state
 * (e.g. 7 MB with a thousand deployments) costs its serialisation a bounded share of the event loop instead
 * of a synchronous whole-file rewrite per burst of changes (issue 14). flush() writes synchronously (shutdown).
 */
export class StateStore {
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;
  private writing = false;
  private dirty = false;
  private closed = false;
  /** Duration of the last save (ms): the next one waits at least SAVE_SPACING times that. */
  private lastSaveMs = 0;

  /**
   * @param state the live state object (mutated in place by the handlers)
   * @param dataDir directory of state.json
   * @param persist whether to write to disk at all
   */
  constructor(public state: EmulatorState, dataDir: string, private readonly persist: boolean, private readonly debounceMs = 200) {
    this.file = join(dataDir, 'state.json');
  }

  /**
   * Loads `dataDir/state.json` when present and valid, else returns a new empty state.
   * A corrupt file is ignored (logged by the caller), never fatal.
   */
  static load(dataDir: string, deploymentSeconds: number, onError?: (e: unknown) => void): EmulatorState {
    const file = join(dataDir, 'state.json');
    if (existsSync(file)) {
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as EmulatorState;
        if (parsed && parsed.version === 1 && parsed.serviceTenantId) return parsed;
      } catch (e) {
        onError?.(e);
      }
    }
    return emptyState(deploymentSeconds);
  }

  /** Schedules a save (no-op without persist); changes made while a save runs are saved by the next one. */
  changed(): void {
    if (!this.persist || this.closed) return;
    if (this.writing) {
      this.dirty = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.save();
    }, Math.max(this.debounceMs, SAVE_SPACING * this.lastSaveMs));
    this.timer.unref();
  }

  /** Writes immediately and synchronously (cancelling a pending save; a save in flight will not overwrite it). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.persist) this.writeNow();
  }

  /** Stops saving (after a final flush()): a save in flight does not replace the flushed file. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private async save(): Promise<void> {
    this.writing = true;
    this.dirty = false;
    const started = performance.now();
    const tmp = `${this.file}.${process.pid}.async.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(this.state));
      // flush() (synchronous) may have written a newer state meanwhile: keep that one. The rename is
      // synchronous (a metadata change, not the write): an asynchronous one checked here could land after a
      // flush() at shutdown and put this older state back (seen in CI under load).
      if (this.closed) await unlink(tmp).catch(() => undefined);
      else renameSync(tmp, this.file);
    } catch {
      /* the data dir went away (tests removing it): the next change tries again */
    } finally {
      this.lastSaveMs = performance.now() - started;
      this.writing = false;
    }
    if (this.dirty) this.changed();
  }

  private writeNow(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, this.file);
  }
}

/** Case-insensitive lookup key (ARM names are case-insensitive, returned as created). */
export function key(name: string): string {
  return name.toLowerCase();
}
