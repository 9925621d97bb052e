/**
 * Shared view of stored `Microsoft.Logic/workflows` resources for the Logic Apps modules: definition and
 * trigger accessors, lookup by name, version ids.
 */
import type { EmulatorState, ResourceGroup, StoredResource, Subscription } from '../state';
import { isObj } from './engine/functions';

/** ARM type of a workflow, lower-case. */
export const WORKFLOW_TYPE = 'microsoft.logic/workflows';

/** A stored workflow with its subscription and resource group. */
export interface Located {
  sub: Subscription;
  rg: ResourceGroup;
  r: StoredResource;
}

/** Case-insensitive string equality (workflow, trigger, run and action names). */
export function ciEq(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** True for a Microsoft.Logic/workflows resource. */
export function isWorkflow(r: StoredResource): boolean {
  return r.type.toLowerCase() === WORKFLOW_TYPE;
}

/** The workflow's `properties` (mutable). */
export function props(r: StoredResource): Record<string, unknown> {
  return r.properties;
}

/** The workflow definition (`properties.definition`), `{}` when missing. */
export function definitionOf(r: StoredResource): Record<string, unknown> {
  const d = props(r).definition;
  return isObj(d) ? d : {};
}

/** The definition's triggers by name (non-object entries left out). */
export function triggersOf(r: StoredResource): Record<string, Record<string, unknown>> {
  const t = definitionOf(r).triggers;
  const out: Record<string, Record<string, unknown>> = {};
  if (isObj(t)) for (const [k, v] of Object.entries(t)) if (isObj(v)) out[k] = v;
  return out;
}

/** `[name as defined, definition]` of a trigger (name compared case-insensitively), or undefined. */
export function findTrigger(r: StoredResource, name: string): [string, Record<string, unknown>] | undefined {
  return Object.entries(triggersOf(r)).find(([k]) => ciEq(k, name));
}

/** False when `properties.state` is anything but Enabled (the default). */
export function isEnabled(r: StoredResource): boolean {
  return String(props(r).state ?? 'Enabled').toLowerCase() === 'enabled';
}

/** True for Request triggers (type `Request`, or the older `Manual`), the ones with a callback URL. */
export function isRequestTrigger(tdef: Record<string, unknown>): boolean {
  const type = String(tdef.type ?? '').toLowerCase();
  return type === 'request' || type === 'manual';
}

/** Workflow version id like Logic Apps' ("08584..." 20 digits, increasing). */
export function newVersion(): string {
  return `0858${String(9_999_999_999_999 - Date.now()).padStart(13, '0')}${String(Math.floor(Math.random() * 1000)).padStart(3, '0')}`.slice(0, 20);
}

/** The stored workflow `name` in a subscription's resource group (all case-insensitive), or undefined. */
export function locateByName(state: EmulatorState, subId: string, rgName: string, name: string): Located | undefined {
  const sub = state.subscriptions[subId.toLowerCase()];
  const rg = sub?.resourceGroups[rgName.toLowerCase()];
  const r = rg?.resources.find((x) => isWorkflow(x) && ciEq(x.name, name));
  return sub && rg && r ? { sub, rg, r } : undefined;
}
