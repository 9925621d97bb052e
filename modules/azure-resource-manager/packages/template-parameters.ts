import stripJsonComments from 'strip-json-comments';
import { checkParameterValue, constraintsOf } from './parameter-constraints';
import { ErrorDetail } from '../../../src/common/api-error';
import { RecognisedParameter } from './package-revision.entity';
import { MAIN_TEMPLATE, TEMPLATE_MAX_BYTES, TEMPLATE_MAX_DEPTH } from './package-limits';

/** A metadata type the service fills in, and the ARM type its parameter must have. */
export type MetadataType = 'baseuri' | 'sessionid' | 'username' | 'password';

/**
 * Partner Center (ARM test drive): parameters are recognised by `metadata.type`, compared in lower
 * case, and each metadata type requires one ARM type.
 */
export const METADATA_TYPES: Readonly<Record<MetadataType, string>> = {
  baseuri: 'string',
  sessionid: 'string',
  username: 'string',
  password: 'securestring',
};

/** Result of analysing main-template.json. */
export type TemplateAnalysis = { ok: true; template: Record<string, unknown>; parameters: RecognisedParameter[] } | { ok: false; problems: ErrorDetail[] };

/**
 * The JSON text of a template file: UTF-8, a BOM removed, `//` and block comments blanked to spaces
 * (ARM's template syntax allows comments, and real quickstarts carry them; positions are kept).
 */
export function templateJsonText(bytes: Buffer): string {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.includes('/') ? stripJsonComments(text, { whitespace: true }) : text;
}

const paramTarget = (name: string) => `${MAIN_TEMPLATE}:parameters.${name}`;

/**
 * Parses main-template.json (a UTF-8 BOM is tolerated: real packages have one) and recognises its
 * parameters.
 *
 * Refused: larger than 4 MB (ARM template limit); JSON nesting deeper than 64 (checked before
 * parsing); invalid JSON; not an object; no `parameters` object; a parameter that is not an object
 * with a string `type`; a `metadata.type` that is not one of baseuri / sessionid / username /
 * password ("Metadata type is invalid"); a metadata type whose ARM type differs from the table
 * ("Data type doesn't match metadata type"); a parameter with neither a metadata type nor a
 * `defaultValue` (the service could not fill it). Metadata types are compared in lower case, with
 * spaces removed (the docs also write "session id").
 */
export function analyseMainTemplate(bytes: Buffer): TemplateAnalysis {
  const target = MAIN_TEMPLATE;
  if (bytes.length > TEMPLATE_MAX_BYTES) {
    return fail({ code: 'TemplateTooLarge', target, message: `${MAIN_TEMPLATE} is ${bytes.length} bytes; ARM templates may be at most ${TEMPLATE_MAX_BYTES} bytes.` });
  }
  const text = templateJsonText(bytes);
  const depth = jsonDepth(text);
  if (depth > TEMPLATE_MAX_DEPTH) {
    return fail({ code: 'TemplateTooDeep', target, message: `${MAIN_TEMPLATE} nests JSON more than ${TEMPLATE_MAX_DEPTH} levels deep.` });
  }
  let template: unknown;
  try {
    template = JSON.parse(text);
  } catch (err) {
    return fail({ code: 'InvalidTemplateJson', target, message: `${MAIN_TEMPLATE} is not valid JSON: ${(err as Error).message}` });
  }
  if (!isObject(template)) return fail({ code: 'InvalidTemplate', target, message: `${MAIN_TEMPLATE} must be a JSON object (an ARM template).` });
  const params = template.parameters;
  if (!isObject(params)) {
    return fail({ code: 'TemplateParametersMissing', target: `${MAIN_TEMPLATE}:parameters`, message: `${MAIN_TEMPLATE} must have a 'parameters' object.` });
  }
  if (template.resources !== undefined && !Array.isArray(template.resources) && !isObject(template.resources)) {
    return fail({ code: 'InvalidTemplate', target: `${MAIN_TEMPLATE}:resources`, message: `'resources' must be an array (or an object in language version 2.0).` });
  }
  const problems: ErrorDetail[] = [];
  const parameters: RecognisedParameter[] = [];
  for (const [name, def] of Object.entries(params)) {
    if (!isObject(def) || typeof def.type !== 'string') {
      problems.push({ code: 'InvalidParameter', target: paramTarget(name), message: `Parameter '${name}' must be an object with a string 'type'.` });
      continue;
    }
    const armType = def.type;
    const hasDefault = Object.prototype.hasOwnProperty.call(def, 'defaultValue');
    const rawMeta = isObject(def.metadata) ? def.metadata.type : undefined;
    if (rawMeta === undefined || rawMeta === null) {
      if (!hasDefault) {
        problems.push({
          code: 'ParameterCannotBeFilled',
          target: paramTarget(name),
          message: `Parameter '${name}' has neither a metadata type (baseuri, sessionid, username, password) nor a defaultValue, so no value can be given to it.`,
        });
        continue;
      }
      const checked = checkParameterValue(name, null, def, constraintsOf(def));
      problems.push(...checked.problems);
      parameters.push({ name, armType, metadataType: null, hasDefault, valueSource: checked.source });
      continue;
    }
    const meta = typeof rawMeta === 'string' ? rawMeta.toLowerCase().replace(/\s+/g, '') : '';
    if (!(meta in METADATA_TYPES)) {
      problems.push({
        code: 'MetadataTypeInvalid',
        target: `${paramTarget(name)}.metadata.type`,
        message: `Metadata type is invalid: parameter '${name}' has metadata.type ${JSON.stringify(rawMeta)}; allowed: ${Object.keys(METADATA_TYPES).join(', ')}.`,
      });
      continue;
    }
    const expected = METADATA_TYPES[meta as MetadataType];
    if (armType.toLowerCase() !== expected) {
      problems.push({
        code: 'MetadataTypeMismatch',
        target: `${paramTarget(name)}.type`,
        message: `Data type doesn't match metadata type: parameter '${name}' with metadata type '${meta}' must have type '${expected}', not '${armType}'.`,
      });
      continue;
    }
    const checked = checkParameterValue(name, meta, def, constraintsOf(def));
    problems.push(...checked.problems);
    parameters.push({ name, armType, metadataType: meta, hasDefault, valueSource: checked.source, ...(checked.passwordLength ? { passwordLength: checked.passwordLength } : {}) });
  }
  return problems.length ? { ok: false, problems } : { ok: true, template, parameters };
}

/** Maximum nesting depth of objects/arrays in a JSON text (a lexical scan, safe for any input). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped char
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(p: ErrorDetail): TemplateAnalysis {
  return { ok: false, problems: [p] };
}
