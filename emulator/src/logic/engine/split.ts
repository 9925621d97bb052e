/**
 * Debatching: the `splitOn` property of a trigger. Schema reference guide for trigger and action types
 * ("Split on an array", "Trigger with splitOn"): when the trigger's `splitOn` expression (evaluated
 * against the trigger outputs, e.g. `@triggerBody()?['value']`) yields an array, the trigger starts one
 * workflow run per item, each run's trigger body being that item; an empty array starts no run. A
 * workflow whose trigger uses splitOn cannot use the synchronous Response pattern: Logic Apps refuses
 * to save a workflow with a Response action and a splitOn trigger.
 */
import { invalidTemplate, WorkflowError } from './errors';
import { evaluateValue, isObj, typeName, type ExpressionHost } from './functions';
import { indexActions } from './runner';

/** Items per splitOn the emulator accepts (Logic Apps Consumption: 100,000). */
export const SPLIT_ON_LIMIT = 5000;

/** Expression host of a trigger's own expressions: trigger(), triggerBody(), triggerOutputs()... only. */
function triggerHost(triggerName: string, outputs: Record<string, unknown>): ExpressionHost {
  const only = (what: string) => (): never => {
    throw invalidTemplate(`The 'splitOn' expression of trigger '${triggerName}' can only reference the trigger's outputs; '${what}' is not available.`);
  };
  return {
    workflow: only('workflow()'),
    trigger: () => ({ name: triggerName, outputs, status: 'Succeeded', code: 'OK' }),
    action: only('actions()'),
    variable: only('variables()'),
    parameter: only('parameters()'),
    item: only('item()'),
    items: only('items()'),
    iterationIndexes: only('iterationIndexes()'),
    result: only('result()'),
    appsetting: only('appsetting()'),
    listCallbackUrl: only('listCallbackUrl()'),
  };
}

/**
 * The trigger outputs of each run a trigger firing starts: `[outputs]` without splitOn; with splitOn one
 * copy of `outputs` per array item with `body` = the item. Throws WorkflowError InvalidTemplate when the
 * expression fails or does not yield an array, IterationLimitExceeded past SPLIT_ON_LIMIT items.
 */
export function splitTriggerOutputs(triggerName: string, tdef: Record<string, unknown>, outputs: Record<string, unknown>): Array<Record<string, unknown>> {
  if (tdef.splitOn === undefined || tdef.splitOn === null) return [outputs];
  const items = evaluateValue(tdef.splitOn, triggerHost(triggerName, outputs));
  if (!Array.isArray(items)) {
    throw invalidTemplate(`The 'splitOn' expression '${String(tdef.splitOn).slice(0, 200)}' of trigger '${triggerName}' must evaluate to an array; it evaluated to a value of type '${typeName(items)}'.`);
  }
  if (items.length > SPLIT_ON_LIMIT) throw new WorkflowError('IterationLimitExceeded', `The 'splitOn' expression of trigger '${triggerName}' yielded ${items.length} items; the local emulator starts at most ${SPLIT_ON_LIMIT} runs per trigger call.`);
  return items.map((item) => ({ ...outputs, body: item ?? null }));
}

/**
 * Save-time check: the name of a splitOn trigger when the definition also has a Response action
 * (Logic Apps refuses such a workflow), else undefined.
 */
export function splitOnWithResponse(definition: Record<string, unknown>): { trigger: string; action: string } | undefined {
  const triggers = isObj(definition.triggers) ? definition.triggers : {};
  const split = Object.entries(triggers).find(([, t]) => isObj(t) && t.splitOn !== undefined && t.splitOn !== null);
  if (!split) return undefined;
  for (const a of indexActions(definition).values()) if (String(a.def.type ?? '').toLowerCase() === 'response') return { trigger: split[0], action: a.name };
  return undefined;
}
