/**
 * Contract between the emulator's ARM deployment API (emulator/src/arm) and the ARM template
 * evaluator (this folder). The evaluator is pure: no HTTP server, no global state; it fetches
 * linked templates only through the `fetchTemplate` callback it is given.
 */

/** Where a deployment runs: the values behind resourceGroup(), subscription(), deployment(). */
export interface DeploymentScope {
  tenantId: string;
  subscriptionId: string;
  /** Resource group name as created (case preserved). */
  resourceGroupName: string;
  /** Resource group location, e.g. "westeurope". */
  location: string;
  resourceGroupTags?: Record<string, string>;
  /** Deployment name (the {name} in .../deployments/{name}). */
  deploymentName: string;
  /** Base URL of the emulated ARM endpoint, e.g. "https://localhost:8443" (used by environment()). */
  armEndpoint: string;
  /**
   * Added compatibly: the principal deploying, for deployer(). Default: objectId all zeros, the
   * scope's tenant, empty userPrincipalName.
   */
  deployer?: { objectId: string; tenantId?: string; userPrincipalName?: string };
}

/** One request to evaluate a deployment, as ARM receives it in PUT .../deployments/{name}. */
export interface TemplateDeploymentRequest {
  scope: DeploymentScope;
  /** Inline template (properties.template). Exactly one of template / templateLink is set. */
  template?: unknown;
  /** properties.templateLink: absolute uri, or relativePath resolved against the parent's link. */
  templateLink?: { uri?: string; relativePath?: string };
  /** properties.parameters: `{ name: { value } }`; Key Vault references resolve to placeholder values (see result warnings). */
  parameters?: Record<string, { value?: unknown; reference?: unknown }>;
  /** properties.parametersLink */
  parametersLink?: { uri: string };
  /** Fetches a linked template or parameters file by absolute URL; throws on non-2xx. */
  fetchTemplate: (uri: string) => Promise<unknown>;
  /**
   * Resources that already exist in the subscription, for reference()/listKeys() of resources not
   * declared in this template (e.g. an existing storage account). Optional.
   */
  existingResources?: EvaluatedResource[];
  /**
   * Added compatibly: lets the emulator answer a list*() call itself (e.g. Logic Apps
   * listCallbackUrl on a workflow trigger). Called with the function name, the target resource id and
   * a resolver for resources declared in this deployment; `undefined` = use the evaluator's default.
   */
  listActionOverride?: (functionName: string, target: string, declared: (id: string) => EvaluatedResource | undefined) => unknown;
}

/** A resource after evaluation, with the read-only properties Azure adds (provisioningState, FQDNs...). */
export interface EvaluatedResource {
  /** Full ARM resource id, e.g. /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/publicIPAddresses/ip1 */
  id: string;
  /** e.g. "Microsoft.Network/publicIPAddresses" (child types joined: "Microsoft.Sql/servers/databases") */
  type: string;
  /** e.g. "ip1" (child names joined with "/": "server1/db1") */
  name: string;
  apiVersion?: string;
  location?: string;
  tags?: Record<string, string>;
  sku?: unknown;
  kind?: string;
  identity?: unknown;
  /** Declared properties merged with read-only ones (provisioningState: "Succeeded", ipAddress, fqdn...). */
  properties: Record<string, unknown>;
  /** Resource group the resource lives in (nested deployments may target another one). */
  resourceGroupName: string;
  subscriptionId: string;
  /** Added compatibly: availability zones, marketplace plan and resolved dependsOn ids, when declared. */
  zones?: unknown;
  plan?: unknown;
  dependsOn?: string[];
}

export interface TemplateDeploymentResult {
  /** All resources created, including those from nested/linked deployments, in dependency order. */
  resources: EvaluatedResource[];
  /** properties.outputs as ARM returns them: `{ name: { type, value } }`. */
  outputs: Record<string, { type: string; value: unknown }>;
  /** Nested deployments (Microsoft.Resources/deployments) that ran, with their outputs. */
  nestedDeployments: Array<{
    name: string;
    resourceGroupName: string;
    outputs: Record<string, { type: string; value: unknown }>;
    /** Full id of the Microsoft.Resources/deployments resource (added compatibly). */
    id?: string;
    /** The absolute URI the nested template was fetched from, for linked templates (added compatibly). */
    templateLinkUri?: string;
  }>;
  /**
   * Notes about emulation shortcuts taken (e.g. Key Vault secret references resolved to
   * placeholder values). Added compatibly; may be absent.
   */
  warnings?: string[];
}

/** When an ArmTemplateError arose: `validation` = before any resource was created (HTTP 400 of the
 * PUT); `runtime` = while deploying (the deployment ends Failed with code DeploymentFailed). */
export type ArmErrorPhase = 'validation' | 'runtime';

/**
 * A deployment failure with ARM's error body shape: `{ code, message, target?, details? }`.
 * Codes used: "InvalidTemplate" (cannot parse/evaluate), "InvalidTemplateDeployment",
 * "DeploymentFailed" (with details), "MissingParameterValue"? -> ARM reports missing parameters as
 * InvalidTemplate ("Deployment template validation failed: 'The value for the template parameter 'x'
 * ... is not provided'"), "InvalidContentLink" (linked template cannot be fetched),
 * "ResourceNotFound" (reference() to an unknown resource).
 */
export class ArmTemplateError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly details: Array<{ code: string; message: string; target?: string }> = [],
    public readonly target?: string,
    /** Added compatibly: `validation` (default) or `runtime`. */
    public readonly phase: ArmErrorPhase = 'validation',
  ) {
    super(message);
    this.name = 'ArmTemplateError';
  }

  /** ARM error body: `{ error: { code, message, target?, details? } }`. */
  toErrorBody(): { error: { code: string; message: string; target?: string; details?: Array<{ code: string; message: string; target?: string }> } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.target ? { target: this.target } : {}),
        ...(this.details.length ? { details: this.details } : {}),
      },
    };
  }
}
