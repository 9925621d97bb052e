export * from './types';
export { evaluateTemplateDeployment } from './evaluate';
export { parseJsonSource, parseTemplate } from './source';
export { uniqueString, armGuid } from './hash';
