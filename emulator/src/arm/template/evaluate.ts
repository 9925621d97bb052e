import { ArmTemplateError, TemplateDeploymentRequest, TemplateDeploymentResult } from './types';
import { ResolvedScope } from './context';
import { createSharedState, extractParameters, fetchContent, SuppliedParameters, TemplateRun } from './deployment';
import { invalidTemplate, toArmError } from './errors';
import { parseJsonSource, parseTemplate } from './source';

const DEPLOYMENT_FAILED_MESSAGE =
  'At least one resource deployment operation failed. Please list deployment operations for details. Please see https://aka.ms/arm-deployment-operations for usage details.';

/**
 * Evaluates an ARM template deployment (parameters, variables, copy loops, conditions, nested and
 * linked deployments, functions, reference(), outputs) the way Azure Resource Manager would.
 *
 * Errors: always ArmTemplateError, never another type.
 * - phase 'validation' (bad template, parameters, expression syntax, unknown functions, top-level
 *   templateLink that cannot be fetched -> InvalidContentLink): nothing was deployed; the REST layer
 *   answers the PUT with 400.
 * - phase 'runtime': code 'DeploymentFailed' whose `details` carry the cause(s) (e.g.
 *   ResourceNotFound from reference(), InvalidContentLink of a linked template, InvalidTemplate of a
 *   nested template), `target` = the failing resource id when known.
 */
export async function evaluateTemplateDeployment(req: TemplateDeploymentRequest): Promise<TemplateDeploymentResult> {
  let run: TemplateRun;
  let shared: ReturnType<typeof createSharedState>;
  try {
    if (!req || typeof req !== 'object' || !req.scope) throw invalidTemplate('The deployment request must have a scope.');
    shared = createSharedState(req);
    const s = req.scope;
    const scope: ResolvedScope = {
      tenantId: s.tenantId,
      subscriptionId: s.subscriptionId,
      resourceGroupName: s.resourceGroupName,
      location: s.location,
      resourceGroupTags: { ...(s.resourceGroupTags ?? {}) },
      deploymentName: s.deploymentName,
      armEndpoint: s.armEndpoint,
      ...(s.deployer ? { deployer: { ...s.deployer } } : {}),
    };
    let templateSource: unknown;
    let linkUri: string | undefined;
    if (req.template !== undefined && req.template !== null) templateSource = req.template;
    else if (req.templateLink?.uri) {
      linkUri = req.templateLink.uri;
      templateSource = await fetchContent(shared, linkUri);
    } else if (req.templateLink?.relativePath) {
      throw invalidTemplate('templateLink.relativePath can only be used by a nested deployment whose parent was deployed from a templateLink uri.');
    } else throw invalidTemplate("The deployment must have either 'template' or 'templateLink'.");
    const template = parseTemplate(templateSource);
    let params: SuppliedParameters = {};
    if (req.parameters) params = parseJsonSource(req.parameters, 'parameters') as SuppliedParameters;
    else if (req.parametersLink?.uri) params = extractParameters(parseJsonSource(await fetchContent(shared, req.parametersLink.uri), 'parameters'));
    run = new TemplateRun(template, scope, shared, params, { nestingLevel: 0, templateLinkUri: linkUri });
    await run.validate();
  } catch (e) {
    throw toArmError(e);
  }
  try {
    await run.deploy();
    const outputs = await run.evaluateOutputs();
    const result: TemplateDeploymentResult = { resources: shared.deployed, outputs, nestedDeployments: shared.nested };
    if (shared.warnings.length) result.warnings = [...shared.warnings];
    return result;
  } catch (e) {
    const err = toArmError(e);
    const details =
      err.code === 'DeploymentFailed' && err.details.length
        ? err.details
        : [{ code: err.code, message: err.message, ...(err.target ? { target: err.target } : {}) }];
    throw new ArmTemplateError('DeploymentFailed', DEPLOYMENT_FAILED_MESSAGE, details, undefined, 'runtime');
  }
}
