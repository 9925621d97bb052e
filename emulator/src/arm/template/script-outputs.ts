/**
 * Outputs of deployment scripts (Microsoft.Resources/deploymentScripts).
 *
 * Azure runs a deployment script in a container and its outputs are whatever the script wrote
 * (AzureCLI: the JSON file at $AZ_SCRIPTS_OUTPUT_PATH; AzurePowerShell: $DeploymentScriptOutputs);
 * templates read them with `reference(<script id>).outputs.<name>`. The emulator does not run
 * scripts, so it cannot know these values. Emulator rule: a script's `outputs` object is *open*:
 * reading a member it does not have gives an unknown output instead of ARM's "The language
 * expression property 'x' doesn't exist"; member and index reads on an unknown output give unknown
 * outputs (`outputs.certSecretId.versioned`), and everywhere else (a function argument, the value of
 * an expression) an unknown output is the placeholder string `scriptOutput(<path>)`. Reads of other
 * objects keep ARM's error.
 */

const DEPLOYMENT_SCRIPTS = 'microsoft.resources/deploymentscripts';

/** `outputs` objects of deployment scripts handed out by reference()/references(). */
const openObjects = new WeakSet<object>();

/** A value a deployment script would have written: only its path is known (e.g. "certSecretId.versioned"). */
export class UnknownScriptOutput {
  constructor(readonly path: string) {}

  /** The member `key` (a property name or an array index) of this unknown value. */
  member(key: string | number): UnknownScriptOutput {
    return new UnknownScriptOutput(typeof key === 'number' ? `${this.path}[${key}]` : `${this.path}.${key}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when missing members of `o` read as unknown script outputs. */
export function isOpenObject(o: object): boolean {
  return openObjects.has(o);
}

/** The placeholder string an unknown script output stands for outside member reads; other values unchanged. */
export function concreteValue(v: unknown): unknown {
  return v instanceof UnknownScriptOutput ? `scriptOutput(${v.path})` : v;
}

/**
 * The properties reference() returns for a resource of `type`: for a deployment script, the same
 * properties with an open `outputs` object (created, on a copy, when the stored resource has none).
 */
export function withOpenScriptOutputs(type: string, properties: unknown): unknown {
  if (type.toLowerCase() !== DEPLOYMENT_SCRIPTS || !isObject(properties)) return properties;
  if (isObject(properties.outputs)) {
    openObjects.add(properties.outputs);
    return properties;
  }
  const outputs: Record<string, unknown> = {};
  openObjects.add(outputs);
  return { ...properties, outputs };
}

/** The 'Full' reference() view of a resource of `type` with open script outputs (see withOpenScriptOutputs). */
export function fullWithOpenScriptOutputs(type: string, full: Record<string, unknown>): Record<string, unknown> {
  if (type.toLowerCase() !== DEPLOYMENT_SCRIPTS) return full;
  const properties = withOpenScriptOutputs(type, full.properties ?? {});
  return properties === full.properties ? full : { ...full, properties };
}
