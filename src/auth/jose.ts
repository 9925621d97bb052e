import type * as JoseNs from 'jose';

/**
 * Loads `jose` (ESM-only since v6) from CommonJS, also under Jest (same trick as emulator/src/jose.ts):
 * `process.getBuiltinModule('node:module').createRequire` uses Node's native loader, which can
 * require() ES modules on Node >= 20.19 / 22.12, bypassing Jest's module registry.
 */
function loadJose(): typeof JoseNs {
  type GetBuiltin = (id: string) => unknown;
  const getBuiltin = (process as unknown as { getBuiltinModule?: GetBuiltin }).getBuiltinModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = (getBuiltin ? getBuiltin('node:module') : require('node:module')) as typeof import('node:module');
  return mod.createRequire(__filename)('jose') as typeof JoseNs;
}

/** The `jose` library (JWT verification, JWKS). */
export const jose: typeof JoseNs = loadJose();
