import { invalidTemplate } from './errors';
import { evaluateValue, FUNCTIONS, isObj, toWdlString, type ExpressionHost } from './functions';

const CONDITION_FUNCTIONS = new Set(['equals', 'greater', 'greaterorequals', 'less', 'lessorequals', 'contains', 'startswith', 'endswith', 'empty']);

/**
 * Evaluates an If/Until condition: either a string expression (`"@equals(a, b)"`, must yield a
 * boolean or 'true'/'false') or the designer's object form `{ and: [...] }`, `{ or: [...] }`,
 * `{ not: {...} }`, `{ equals: [a, b] }`, `{ greater: [a, b] }` ... (operands are WDL values).
 * Source: Logic Apps WDL schema reference ("If" / "Until" actions). Throws InvalidTemplate.
 */
export function evaluateCondition(cond: unknown, host: ExpressionHost): boolean {
  if (typeof cond === 'boolean') return cond;
  if (typeof cond === 'string') {
    const v = evaluateValue(cond, host);
    if (typeof v === 'boolean') return v;
    if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    throw invalidTemplate(`The 'expression' of the condition must evaluate to a boolean, but evaluated to '${toWdlString(v).slice(0, 100)}'.`);
  }
  if (!isObj(cond)) throw invalidTemplate('The condition expression must be a string or an object.');
  const entries = Object.entries(cond);
  if (entries.length !== 1) throw invalidTemplate(`The condition object must have exactly one operator; found '${Object.keys(cond).join(', ')}'.`);
  const [op, operand] = entries[0];
  const lower = op.toLowerCase();
  if (lower === 'and' || lower === 'or') {
    if (!Array.isArray(operand)) throw invalidTemplate(`The '${op}' condition operator expects an array.`);
    return lower === 'and' ? operand.every((c) => evaluateCondition(c, host)) : operand.some((c) => evaluateCondition(c, host));
  }
  if (lower === 'not') return !evaluateCondition(Array.isArray(operand) ? operand[0] : operand, host);
  if (CONDITION_FUNCTIONS.has(lower)) {
    const args = (Array.isArray(operand) ? operand : [operand]).map((a) => evaluateValue(a, host));
    const r = FUNCTIONS[lower](args, host, op);
    return r === true;
  }
  throw invalidTemplate(`The condition operator '${op}' is not valid. Expected one of: and, or, not, equals, greater, greaterOrEquals, less, lessOrEquals, contains, startsWith, endsWith, empty.`);
}
