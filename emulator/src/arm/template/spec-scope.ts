import { ArmTemplateError, type DeploymentScope } from './index';

/** The deployment scope the template engine's unit specs evaluate in (resource group rg1 of sub-1, westus2). */
export const SPEC_SCOPE: DeploymentScope = {
  tenantId: 't-1',
  subscriptionId: 'sub-1',
  resourceGroupName: 'rg1',
  location: 'westus2',
  deploymentName: 'dep1',
  armEndpoint: 'https://localhost:8443',
};

/** Runs `fn`, expects it to throw an ArmTemplateError, and returns that error (for the specs). */
export async function armErrorOf(fn: () => Promise<unknown>): Promise<ArmTemplateError> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof ArmTemplateError)) throw new Error(`expected an ArmTemplateError, got ${caught instanceof Error ? caught.message : String(caught)}`);
  return caught;
}
