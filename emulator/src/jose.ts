import type * as JoseNs from 'jose';

/**
 * Loads `jose` (ESM-only since v6) from CommonJS in a way that also works under Jest.
 * Node >= 20.19 / 22.12 can `require()` ES modules, but Jest's module registry cannot (it would
 * execute the ESM file as CommonJS). `process.getBuiltinModule` (Node >= 20.16) hands back Node's own
 * `module` builtin, whose createRequire uses the native loader, bypassing Jest's interception.
 */
function loadJose(): typeof JoseNs {
  type GetBuiltin = (id: string) => unknown;
  const getBuiltin = (process as unknown as { getBuiltinModule?: GetBuiltin }).getBuiltinModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = (getBuiltin ? getBuiltin('node:module') : require('node:module')) as typeof import('node:module');
  return mod.createRequire(__filename)('jose') as typeof JoseNs;
}

/** The `jose` library (JWT signing/verification, JWK import/export). */
export const jose: typeof JoseNs = loadJose();
