import type * as JoseNs from 'jose';
import { loadEsm } from '../common/esm';

/** The `jose` library (JWT verification, JWKS; ESM-only since v6, loaded with loadEsm). */
export const jose: typeof JoseNs = loadEsm<typeof JoseNs>('jose');
