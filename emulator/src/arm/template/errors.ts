import { ArmErrorPhase, ArmTemplateError } from './types';

/** Suffix ARM appends to template-validation messages. */
const VALIDATION_PREFIX = 'Deployment template validation failed: ';

/**
 * An InvalidTemplate error with ARM's "Deployment template validation failed: '<inner>'" wording.
 * ARM docs: "Resolve errors for invalid template" (code InvalidTemplate).
 */
export function invalidTemplate(inner: string, phase: ArmErrorPhase = 'validation'): ArmTemplateError {
  return new ArmTemplateError('InvalidTemplate', `${VALIDATION_PREFIX}'${inner}'`, [], undefined, phase);
}

/**
 * Error raised while evaluating a template language expression (bad arguments, missing properties...).
 * Code InvalidTemplate, message `Unable to evaluate template language function '<fn>': <detail>` style.
 */
export function expressionError(detail: string): ArmTemplateError {
  return new ArmTemplateError('InvalidTemplate', `The template language expression evaluation failed: '${detail}'`);
}

/** ARM's message for a function name it does not know. ARM docs: "Template functions". */
export function unknownFunction(name: string): ArmTemplateError {
  return invalidTemplate(`The template function '${name}' is not valid. Please see https://aka.ms/arm-functions for usage details.`);
}

/** ARM's ResourceNotFound for reference()/list*() of a resource that does not exist (or was skipped by its condition). */
export function resourceNotFound(typeAndName: string, resourceGroup: string): ArmTemplateError {
  return new ArmTemplateError(
    'ResourceNotFound',
    `The Resource '${typeAndName}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    [],
    undefined,
    'runtime',
  );
}

/** ARM's InvalidContentLink for a linked template / parameters file that cannot be downloaded. */
export function invalidContentLink(uri: string, cause: string): ArmTemplateError {
  return new ArmTemplateError(
    'InvalidContentLink',
    `Unable to download deployment content from '${uri}'. The tracking Id is '00000000-0000-0000-0000-000000000000'. Please see https://aka.ms/arm-deploy-resources for usage details. (${cause})`,
  );
}

/**
 * Converts anything thrown into an ArmTemplateError (stack overflows and stray TypeErrors become
 * InvalidTemplate), so callers never see another exception type.
 */
export function toArmError(err: unknown): ArmTemplateError {
  if (err instanceof ArmTemplateError) return err;
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return invalidTemplate('The template is too deeply nested to be evaluated (maximum evaluation depth exceeded).');
  }
  const msg = err instanceof Error ? err.message : String(err);
  return invalidTemplate(`The template could not be evaluated: ${msg}`);
}
