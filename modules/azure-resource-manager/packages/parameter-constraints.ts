import type { ErrorDetail } from '../../../src/common/api-error';
import { MAIN_TEMPLATE } from './package-limits';

/** A parameter's declared constraints (ARM template parameters: minLength, maxLength, minValue, maxValue, allowedValues). */
export interface ParameterConstraints {
  minLength?: number;
  maxLength?: number;
  minValue?: number;
  maxValue?: number;
  allowedValues?: unknown[];
}

/** Where the value of a parameter comes from (the upload answer reports it per parameter). */
export type ValueSource = 'generated' | 'package' | 'session' | 'default' | 'default-expression';

/** Partner Center: generated passwords are at least 10 characters; we go longer when minLength asks. */
export const MIN_GENERATED_PASSWORD = 10;
/** Longest password the service generates (Entra / VM password rules stop at 72-123; 72 keeps every common limit). */
export const MAX_GENERATED_PASSWORD = 72;
/** Length of the generated user names (`admin` + 5 digits). */
export const GENERATED_USERNAME_LENGTH = 10;
/** Length of a session id (a GUID). */
const SESSION_ID_LENGTH = 36;

/** The constraints declared on a parameter definition (only well-typed ones). */
export function constraintsOf(def: Record<string, unknown>): ParameterConstraints {
  const out: ParameterConstraints = {};
  for (const k of ['minLength', 'maxLength', 'minValue', 'maxValue'] as const) if (typeof def[k] === 'number' && Number.isFinite(def[k])) out[k] = def[k];
  if (Array.isArray(def.allowedValues)) out.allowedValues = def.allowedValues;
  return out;
}

/** Whether `v` is an ARM template expression ("[...]", not an escaped "[[...").) */
export function isExpression(v: unknown): boolean {
  return typeof v === 'string' && v.startsWith('[') && !v.startsWith('[[') && v.endsWith(']');
}

const target = (name: string, field?: string) => `${MAIN_TEMPLATE}:parameters.${name}${field ? `.${field}` : ''}`;

/**
 * Checks the value a parameter will get against its own declared constraints (issue 13: a default
 * that breaks its parameter's constraints fails every deployment; ARM says InvalidTemplate):
 * - a literal default: its length (strings, arrays) against minLength / maxLength, a number against
 *   minValue / maxValue, membership in allowedValues;
 * - an expression default: left to the publish preflight (ARM's validation);
 * - a generated value: user name (10 characters) and session id (36) by length; a password is generated
 *   as long as minLength asks (10-72 characters), so only maxLength < 10, minLength > 72 or any
 *   allowedValues make it impossible.
 * @returns problems naming the parameter and the rule (empty when fine) and the password length to generate.
 */
export function checkParameterValue(name: string, metadataType: string | null, def: Record<string, unknown>, c: ParameterConstraints): { problems: ErrorDetail[]; source: ValueSource; passwordLength?: number } {
  const problems: ErrorDetail[] = [];
  const refuse = (field: string, message: string) => problems.push({ code: 'ParameterConstraintUnsatisfiable', target: target(name, field), message });
  if (metadataType === 'password') {
    if (c.allowedValues) refuse('allowedValues', `Parameter '${name}' is a generated password (metadata type password): a generated password cannot be one of a list of allowedValues; remove allowedValues.`);
    const length = Math.max(MIN_GENERATED_PASSWORD, c.minLength ?? 0);
    if (length > MAX_GENERATED_PASSWORD) refuse('minLength', `Parameter '${name}': minLength ${c.minLength} is longer than the longest password the service generates (${MAX_GENERATED_PASSWORD} characters).`);
    if (c.maxLength !== undefined && c.maxLength < length) refuse('maxLength', `Parameter '${name}': a generated password has at least ${MIN_GENERATED_PASSWORD} characters (Partner Center), but maxLength is ${c.maxLength}.`);
    return { problems, source: 'generated', passwordLength: Math.min(length, MAX_GENERATED_PASSWORD) };
  }
  if (metadataType === 'username' || metadataType === 'sessionid') {
    const len = metadataType === 'username' ? GENERATED_USERNAME_LENGTH : SESSION_ID_LENGTH;
    const what = metadataType === 'username' ? `a generated user name (admin + 5 digits, ${len} characters)` : `the session id (a GUID, ${len} characters)`;
    if (c.allowedValues) refuse('allowedValues', `Parameter '${name}' gets ${what}, which cannot be one of a list of allowedValues; remove allowedValues.`);
    if (c.minLength !== undefined && len < c.minLength) refuse('minLength', `Parameter '${name}' gets ${what}, shorter than its minLength ${c.minLength}.`);
    if (c.maxLength !== undefined && len > c.maxLength) refuse('maxLength', `Parameter '${name}' gets ${what}, longer than its maxLength ${c.maxLength}.`);
    return { problems, source: metadataType === 'username' ? 'generated' : 'session' };
  }
  if (metadataType === 'baseuri') return { problems, source: 'package' };
  const v = def.defaultValue;
  if (isExpression(v)) return { problems, source: 'default-expression' };
  const violate = (field: string, message: string) => problems.push({ code: 'ParameterDefaultInvalid', target: target(name, 'defaultValue'), message: `Parameter '${name}': its defaultValue ${message} (${field}); ARM refuses such a deployment (InvalidTemplate).` });
  const length = typeof v === 'string' || Array.isArray(v) ? v.length : undefined;
  if (length !== undefined && c.minLength !== undefined && length < c.minLength) violate('minLength', `has length ${length}, below minLength ${c.minLength}`);
  if (length !== undefined && c.maxLength !== undefined && length > c.maxLength) violate('maxLength', `has length ${length}, above maxLength ${c.maxLength}`);
  if (typeof v === 'number' && c.minValue !== undefined && v < c.minValue) violate('minValue', `${v} is below minValue ${c.minValue}`);
  if (typeof v === 'number' && c.maxValue !== undefined && v > c.maxValue) violate('maxValue', `${v} is above maxValue ${c.maxValue}`);
  if (c.allowedValues && !c.allowedValues.some((a) => JSON.stringify(a) === JSON.stringify(v) || (typeof a === 'string' && typeof v === 'string' && a.toLowerCase() === v.toLowerCase()))) {
    violate('allowedValues', `${JSON.stringify(v).slice(0, 100)} is not one of allowedValues ${JSON.stringify(c.allowedValues).slice(0, 200)}`);
  }
  return { problems, source: 'default' };
}
