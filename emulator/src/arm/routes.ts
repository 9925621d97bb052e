/**
 * The ARM route table: every `/subscriptions...` request the emulator answers, in match order (first
 * entry whose methods, pattern and condition fit wins). Patterns match case-insensitively, as ARM does.
 * Per entry: methods, pattern, throttle bucket (throttle.ts), fault-injection operation (faults.ts),
 * RBAC permission and handler; ArmService runs them in the order documented on ArmRoute.
 * `methods: '*'` entries follow the specific ones of the same pattern and answer every other method
 * (mostly 405 MethodNotAllowed) after the same checks.
 */
import { deploymentAction, deploymentCancelAction, deploymentChildNotFound, deploymentScope, cancelDeployment, checkDeploymentExistence, deleteDeployment, getDeployment, getOperationStatus, listDeploymentOperations, listDeployments, putDeployment, validateDeployment } from './deployments';
import { methodNotAllowed } from './common';
import { checkResourceGroupExistence, deleteResourceGroup, getResourceGroup, listResourceGroups, patchResourceGroup, putResourceGroup } from './resourceGroups';
import { deleteResource, getResource, isCollection, listGroupResources, listResourcesOfType, resourceAction, resourceScope, resourceWriteNotSupported } from './resources';
import { verbOf, type ArmPermission, type ArmRequest, type ArmRoute } from './routing';
import { getSubscription, listSubscriptions, pollOperation, providerNotFound, resourceTypeNotFound } from './subscriptions';
import { listWorkflowsBySubscription, workflowAction, workflowRequest, workflowScope } from './workflows';
import { deallocateVirtualMachine, getComputeOperation, getVirtualMachine, getVirtualMachineInstanceView, listAllVirtualMachines, listVirtualMachines, startVirtualMachine, vmScope } from './compute';
import { getRoleAssignment, getRoleDefinition, listRoleAssignments, listRoleDefinitions } from './authorization';
import { getProvider, listProviders, providerAction, registerProvider } from './providers';
import { listComputeUsages } from './usages';

const SUB = '/subscriptions/{subscriptionId}';
const RG = `${SUB}/resourcegroups/{resourceGroupName}`;
const DEPLOYMENTS = `${RG}/providers/Microsoft.Resources/deployments`;
const DEPLOYMENT = `${DEPLOYMENTS}/{deploymentName}`;
const WORKFLOWS = `${RG}/providers/Microsoft.Logic/workflows`;
const RESOURCE = `${RG}/providers/{namespace}/{resourceType}/{*rest}`;
const VMS = `${RG}/providers/Microsoft.Compute/virtualMachines`;
const VM = `${VMS}/{vmName}`;
const SUB_AUTHZ = `${SUB}/providers/Microsoft.Authorization`;
const RG_AUTHZ = `${RG}/providers/Microsoft.Authorization`;

const subScope = (r: ArmRequest): string => `/subscriptions/${r.sub.id}`;
const rgScope = (r: ArmRequest): string => `/subscriptions/${r.sub.id}/resourcegroups/${r.params.resourceGroupName}`;

const readSubscription: ArmPermission = { action: 'Microsoft.Resources/subscriptions/read', scope: subScope, category: 'reads' };
const readOperationResults: ArmPermission = { action: 'Microsoft.Resources/subscriptions/operationresults/read', scope: subScope, category: 'reads' };
const readResourceGroups: ArmPermission = { action: 'Microsoft.Resources/subscriptions/resourceGroups/read', scope: subScope, category: 'reads' };
const resourceGroup: ArmPermission = { action: (r) => `Microsoft.Resources/subscriptions/resourcegroups/${verbOf(r.category)}`, scope: rgScope };
const readGroupResources: ArmPermission = { action: 'Microsoft.Resources/subscriptions/resourceGroups/resources/read', scope: rgScope, category: 'reads' };
const deployment: ArmPermission = { action: deploymentAction, scope: deploymentScope };
const deploymentCancel: ArmPermission = { action: deploymentCancelAction, scope: deploymentScope };
const deploymentValidate: ArmPermission = { action: (r) => (r.category === 'reads' ? 'Microsoft.Resources/deployments/read' : 'Microsoft.Resources/deployments/validate/action'), scope: deploymentScope };
const workflow: ArmPermission = { action: workflowAction, scope: workflowScope };
const resource: ArmPermission = { action: resourceAction, scope: resourceScope };
const readVms: ArmPermission = { action: 'Microsoft.Compute/virtualMachines/read', scope: vmScope, category: 'reads' };
const vmAction = (verb: string): ArmPermission => ({ action: (r) => (r.category === 'reads' ? 'Microsoft.Compute/virtualMachines/read' : `Microsoft.Compute/virtualMachines/${verb}/action`), scope: vmScope });
const startVm = vmAction('start');
const deallocateVm = vmAction('deallocate');
const readComputeOperations: ArmPermission = { action: 'Microsoft.Compute/locations/operations/read', scope: subScope, category: 'reads' };
const authzScope = (r: ArmRequest): string => (r.params.resourceGroupName !== undefined ? rgScope(r) : subScope(r));
const roleAssignments: ArmPermission = { action: (r) => `Microsoft.Authorization/roleAssignments/${verbOf(r.category)}`, scope: authzScope };
const readComputeUsages: ArmPermission = { action: 'Microsoft.Compute/locations/usages/read', scope: subScope, category: 'reads' };
const providers: ArmPermission = { action: providerAction, scope: subScope };
const roleDefinitions: ArmPermission = { action: (r) => `Microsoft.Authorization/roleDefinitions/${verbOf(r.category)}`, scope: authzScope };

const notAllowed = (r: ArmRequest): void => {
  throw methodNotAllowed(r.ctx);
};
const isResource = (p: Readonly<Record<string, string>>, rest: readonly string[]): boolean => !isCollection(p, rest);

/** The ARM route table (see the module comment). */
export const ARM_ROUTES: readonly ArmRoute[] = [
  // Subscriptions
  { methods: ['GET'], pattern: '/subscriptions', throttle: 'none', handler: listSubscriptions },
  { methods: '*', pattern: '/subscriptions', throttle: 'none', handler: notAllowed },
  { methods: ['GET'], pattern: SUB, throttle: 'reads', permission: readSubscription, handler: getSubscription },
  { methods: '*', pattern: SUB, throttle: 'byMethod', permission: readSubscription, handler: notAllowed },
  { methods: ['GET'], pattern: `${SUB}/operationresults/{operationId}`, throttle: 'reads', fault: 'operations.poll', permission: readOperationResults, handler: pollOperation },
  { methods: '*', pattern: `${SUB}/operationresults/{operationId}`, throttle: 'reads', permission: readOperationResults, handler: notAllowed },

  // Resource groups
  { methods: ['GET'], pattern: `${SUB}/resourcegroups`, throttle: 'reads', fault: 'resourceGroups.list', permission: readResourceGroups, handler: listResourceGroups },
  { methods: '*', pattern: `${SUB}/resourcegroups`, throttle: 'byMethod', permission: readResourceGroups, handler: notAllowed },
  { methods: ['PUT'], pattern: RG, throttle: 'writes', fault: 'resourceGroups.createOrUpdate', permission: resourceGroup, handler: putResourceGroup },
  { methods: ['GET'], pattern: RG, throttle: 'reads', fault: 'resourceGroups.get', permission: resourceGroup, handler: getResourceGroup },
  { methods: ['HEAD'], pattern: RG, throttle: 'reads', fault: 'resourceGroups.checkExistence', permission: resourceGroup, handler: checkResourceGroupExistence },
  { methods: ['PATCH'], pattern: RG, throttle: 'writes', fault: 'resourceGroups.update', permission: resourceGroup, handler: patchResourceGroup },
  { methods: ['DELETE'], pattern: RG, throttle: 'deletes', fault: 'resourceGroups.delete', permission: resourceGroup, handler: deleteResourceGroup },
  { methods: '*', pattern: RG, throttle: 'byMethod', permission: resourceGroup, handler: notAllowed },
  { methods: ['GET'], pattern: `${RG}/resources`, throttle: 'reads', fault: 'resources.list', permission: readGroupResources, handler: listGroupResources },
  { methods: '*', pattern: `${RG}/resources`, throttle: 'byMethod', permission: readGroupResources, handler: notAllowed },

  // Template deployments
  { methods: ['GET'], pattern: DEPLOYMENTS, throttle: 'reads', fault: 'deployments.list', permission: deployment, handler: listDeployments },
  { methods: '*', pattern: DEPLOYMENTS, throttle: 'byMethod', permission: deployment, handler: notAllowed },
  { methods: ['PUT'], pattern: DEPLOYMENT, throttle: 'writes', fault: 'deployments.createOrUpdate', permission: deployment, handler: putDeployment },
  { methods: ['GET'], pattern: DEPLOYMENT, throttle: 'reads', fault: 'deployments.get', permission: deployment, handler: getDeployment },
  { methods: ['HEAD'], pattern: DEPLOYMENT, throttle: 'reads', permission: deployment, handler: checkDeploymentExistence },
  { methods: ['DELETE'], pattern: DEPLOYMENT, throttle: 'deletes', fault: 'deployments.delete', permission: deployment, handler: deleteDeployment },
  { methods: '*', pattern: DEPLOYMENT, throttle: 'byMethod', permission: deployment, handler: notAllowed },
  { methods: ['POST'], pattern: `${DEPLOYMENT}/cancel`, throttle: 'writes', fault: 'deployments.cancel', permission: deploymentCancel, handler: cancelDeployment },
  { methods: '*', pattern: `${DEPLOYMENT}/cancel`, throttle: 'byMethod', permission: deploymentCancel, handler: notAllowed },
  { methods: ['GET'], pattern: `${DEPLOYMENT}/operationStatuses/{operationId}`, throttle: 'reads', fault: 'operations.poll', permission: deployment, handler: getOperationStatus },
  { methods: '*', pattern: `${DEPLOYMENT}/operationStatuses/{operationId}`, throttle: 'byMethod', permission: deployment, handler: notAllowed },
  { methods: ['GET'], pattern: `${DEPLOYMENT}/operations`, throttle: 'reads', permission: deployment, handler: listDeploymentOperations },
  { methods: '*', pattern: `${DEPLOYMENT}/operations`, throttle: 'byMethod', permission: deployment, handler: notAllowed },
  { methods: ['POST'], pattern: `${DEPLOYMENT}/validate`, throttle: 'writes', fault: 'deployments.validate', permission: deploymentValidate, handler: validateDeployment },
  { methods: '*', pattern: `${DEPLOYMENT}/validate`, throttle: 'byMethod', permission: deploymentValidate, handler: notAllowed },
  { methods: '*', pattern: `${DEPLOYMENT}/{*rest}`, throttle: 'byMethod', permission: deployment, handler: deploymentChildNotFound },

  // Azure RBAC reads below a resource group (authorization.ts); before the generic resource routes (which still
  // answer other Microsoft.Authorization types a template deployed, e.g. locks)
  { methods: ['GET'], pattern: `${RG_AUTHZ}/roleAssignments`, throttle: 'reads', preload: 'resourceGroup', fault: 'roleAssignments.list', permission: roleAssignments, handler: listRoleAssignments },
  { methods: '*', pattern: `${RG_AUTHZ}/roleAssignments`, throttle: 'byMethod', preload: 'resourceGroup', permission: roleAssignments, handler: notAllowed },
  { methods: ['GET'], pattern: `${RG_AUTHZ}/roleDefinitions`, throttle: 'reads', preload: 'resourceGroup', fault: 'roleDefinitions.list', permission: roleDefinitions, handler: listRoleDefinitions },
  { methods: '*', pattern: `${RG_AUTHZ}/roleDefinitions`, throttle: 'byMethod', preload: 'resourceGroup', permission: roleDefinitions, handler: notAllowed },
  { methods: ['GET'], pattern: `${RG_AUTHZ}/roleDefinitions/{roleDefinitionId}`, throttle: 'reads', preload: 'resourceGroup', fault: 'roleDefinitions.get', permission: roleDefinitions, handler: getRoleDefinition },
  { methods: '*', pattern: `${RG_AUTHZ}/roleDefinitions/{roleDefinitionId}`, throttle: 'byMethod', preload: 'resourceGroup', permission: roleDefinitions, handler: notAllowed },

  // Logic Apps workflows (LogicArmHooks answers, including its 404/405s, after these checks)
  { methods: '*', pattern: WORKFLOWS, requires: 'logic', throttle: 'byMethod', fault: 'logic.list', permission: workflow, handler: workflowRequest },
  { methods: ['GET', 'HEAD'], pattern: `${WORKFLOWS}/{workflowName}`, requires: 'logic', throttle: 'reads', fault: 'logic.get', permission: workflow, handler: workflowRequest },
  { methods: ['PUT'], pattern: `${WORKFLOWS}/{workflowName}`, requires: 'logic', throttle: 'writes', fault: 'logic.createOrUpdate', permission: workflow, handler: workflowRequest },
  { methods: ['PATCH'], pattern: `${WORKFLOWS}/{workflowName}`, requires: 'logic', throttle: 'writes', fault: 'logic.update', permission: workflow, handler: workflowRequest },
  { methods: ['DELETE'], pattern: `${WORKFLOWS}/{workflowName}`, requires: 'logic', throttle: 'deletes', fault: 'logic.delete', permission: workflow, handler: workflowRequest },
  { methods: '*', pattern: `${WORKFLOWS}/{workflowName}`, requires: 'logic', throttle: 'byMethod', fault: 'logic.action', permission: workflow, handler: workflowRequest },
  { methods: ['GET'], pattern: `${WORKFLOWS}/{workflowName}/{child}/{*rest}`, requires: 'logic', throttle: 'reads', fault: 'logic.get', permission: workflow, handler: workflowRequest },
  { methods: '*', pattern: `${WORKFLOWS}/{workflowName}/{child}/{*rest}`, requires: 'logic', throttle: 'byMethod', fault: 'logic.action', permission: workflow, handler: workflowRequest },

  // Compute virtual machines (compute.ts); HEAD, DELETE, PUT... on a VM fall through to the generic resource routes
  { methods: ['GET'], pattern: VMS, throttle: 'reads', preload: 'resourceGroup', fault: 'virtualMachines.list', permission: readVms, handler: listVirtualMachines },
  { methods: ['GET'], pattern: VM, throttle: 'reads', preload: 'resourceGroup', fault: 'virtualMachines.get', permission: readVms, handler: getVirtualMachine },
  { methods: ['GET'], pattern: `${VM}/instanceView`, throttle: 'reads', preload: 'resourceGroup', fault: 'virtualMachines.instanceView', permission: readVms, handler: getVirtualMachineInstanceView },
  { methods: '*', pattern: `${VM}/instanceView`, throttle: 'byMethod', preload: 'resourceGroup', permission: readVms, handler: notAllowed },
  { methods: ['POST'], pattern: `${VM}/start`, throttle: 'writes', preload: 'resourceGroup', fault: 'virtualMachines.start', permission: startVm, handler: startVirtualMachine },
  { methods: '*', pattern: `${VM}/start`, throttle: 'byMethod', preload: 'resourceGroup', permission: startVm, handler: notAllowed },
  { methods: ['POST'], pattern: `${VM}/deallocate`, throttle: 'writes', preload: 'resourceGroup', fault: 'virtualMachines.deallocate', permission: deallocateVm, handler: deallocateVirtualMachine },
  { methods: '*', pattern: `${VM}/deallocate`, throttle: 'byMethod', preload: 'resourceGroup', permission: deallocateVm, handler: notAllowed },

  // Any other resource type (stored by deployments): collections `{ns}/{type}[/{name}/{childType}]`, single resources otherwise
  { methods: ['GET'], pattern: RESOURCE, where: isCollection, throttle: 'reads', preload: 'resourceGroup', fault: 'resources.list', permission: resource, handler: listResourcesOfType },
  { methods: '*', pattern: RESOURCE, where: isCollection, throttle: 'byMethod', preload: 'resourceGroup', permission: resource, handler: notAllowed },
  { methods: ['GET', 'HEAD'], pattern: RESOURCE, where: isResource, throttle: 'reads', preload: 'resourceGroup', fault: 'resources.get', permission: resource, handler: getResource },
  { methods: ['DELETE'], pattern: RESOURCE, where: isResource, throttle: 'deletes', preload: 'resourceGroup', fault: 'resources.delete', permission: resource, handler: deleteResource },
  { methods: '*', pattern: RESOURCE, where: isResource, throttle: 'byMethod', preload: 'resourceGroup', permission: resource, handler: resourceWriteNotSupported },

  // Azure RBAC reads at subscription scope (authorization.ts); writing assignments through ARM is not emulated (405)
  { methods: ['GET'], pattern: `${SUB_AUTHZ}/roleAssignments`, throttle: 'reads', fault: 'roleAssignments.list', permission: roleAssignments, handler: listRoleAssignments },
  { methods: '*', pattern: `${SUB_AUTHZ}/roleAssignments`, throttle: 'byMethod', permission: roleAssignments, handler: notAllowed },
  { methods: ['GET'], pattern: `${SUB_AUTHZ}/roleAssignments/{roleAssignmentName}`, throttle: 'reads', fault: 'roleAssignments.get', permission: roleAssignments, handler: getRoleAssignment },
  { methods: '*', pattern: `${SUB_AUTHZ}/roleAssignments/{roleAssignmentName}`, throttle: 'byMethod', permission: roleAssignments, handler: notAllowed },
  { methods: ['GET'], pattern: `${SUB_AUTHZ}/roleDefinitions`, throttle: 'reads', fault: 'roleDefinitions.list', permission: roleDefinitions, handler: listRoleDefinitions },
  { methods: '*', pattern: `${SUB_AUTHZ}/roleDefinitions`, throttle: 'byMethod', permission: roleDefinitions, handler: notAllowed },
  { methods: ['GET'], pattern: `${SUB_AUTHZ}/roleDefinitions/{roleDefinitionId}`, throttle: 'reads', fault: 'roleDefinitions.get', permission: roleDefinitions, handler: getRoleDefinition },
  { methods: '*', pattern: `${SUB_AUTHZ}/roleDefinitions/{roleDefinitionId}`, throttle: 'byMethod', permission: roleDefinitions, handler: notAllowed },

  // Subscription-level providers, and everything else
  { methods: ['GET'], pattern: `${SUB}/providers/Microsoft.Compute/virtualMachines`, throttle: 'reads', fault: 'virtualMachines.listAll', permission: { action: 'Microsoft.Compute/virtualMachines/read', scope: subScope, category: 'reads' }, handler: listAllVirtualMachines },
  { methods: ['GET'], pattern: `${SUB}/providers/Microsoft.Compute/locations/{location}/operations/{operationId}`, throttle: 'reads', fault: 'operations.poll', permission: readComputeOperations, handler: getComputeOperation },
  { methods: '*', pattern: `${SUB}/providers/Microsoft.Compute/locations/{location}/operations/{operationId}`, throttle: 'byMethod', permission: readComputeOperations, handler: notAllowed },
  { methods: ['GET'], pattern: `${SUB}/providers/Microsoft.Compute/locations/{location}/usages`, throttle: 'reads', fault: 'usage.list', permission: readComputeUsages, handler: listComputeUsages },
  { methods: '*', pattern: `${SUB}/providers/Microsoft.Compute/locations/{location}/usages`, throttle: 'byMethod', permission: readComputeUsages, handler: notAllowed },
  { methods: ['GET'], pattern: `${SUB}/providers/Microsoft.Logic/workflows`, requires: 'logic', throttle: 'reads', permission: readSubscription, handler: listWorkflowsBySubscription },
  // Resource providers (providers.ts); a bare `{namespace}` would otherwise reach the catch-all below
  { methods: ['GET'], pattern: `${SUB}/providers`, throttle: 'reads', fault: 'providers.list', permission: providers, handler: listProviders },
  { methods: '*', pattern: `${SUB}/providers`, throttle: 'byMethod', permission: providers, handler: notAllowed },
  { methods: ['GET'], pattern: `${SUB}/providers/{namespace}`, throttle: 'reads', fault: 'providers.get', permission: providers, handler: getProvider },
  { methods: '*', pattern: `${SUB}/providers/{namespace}`, throttle: 'byMethod', permission: providers, handler: notAllowed },
  { methods: ['POST'], pattern: `${SUB}/providers/{namespace}/register`, throttle: 'writes', fault: 'providers.register', permission: providers, handler: registerProvider },
  { methods: '*', pattern: `${SUB}/providers/{namespace}/register`, throttle: 'byMethod', permission: providers, handler: notAllowed },
  { methods: ['POST'], pattern: `${SUB}/providers/{namespace}/unregister`, throttle: 'writes', fault: 'providers.unregister', permission: providers, handler: registerProvider },
  { methods: '*', pattern: `${SUB}/providers/{namespace}/unregister`, throttle: 'byMethod', permission: providers, handler: notAllowed },
  { methods: '*', pattern: `${SUB}/providers/{namespace}/{*rest}`, throttle: 'byMethod', permission: readSubscription, handler: providerNotFound },
  { methods: '*', pattern: `${SUB}/{resourceType}/{*rest}`, throttle: 'byMethod', permission: readSubscription, handler: resourceTypeNotFound },
];
