/**
 * Loads an ESM-only package (jose 6, openid-client 6) from this CommonJS code, also under Jest:
 * `process.getBuiltinModule('node:module').createRequire` uses Node's own loader, which can require()
 * ES modules on Node >= 20.19 / 22.12, bypassing Jest's module registry (which cannot).
 * @throws what require() throws (package missing, or a Node without require(esm)).
 */
export function loadEsm<T>(name: string): T {
  type GetBuiltin = (id: string) => unknown;
  const getBuiltin = (process as unknown as { getBuiltinModule?: GetBuiltin }).getBuiltinModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = (getBuiltin ? getBuiltin('node:module') : require('node:module')) as typeof import('node:module');
  return mod.createRequire(__filename)(name) as T;
}
