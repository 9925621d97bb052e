/**
 * Shared access signatures (SAS) of the Logic Apps callback endpoint: per-workflow access keys (persisted
 * in `state.logic`), the public access id in URLs, HMAC signing and checking of `sp`/`sv`/`sig`, and the
 * listCallbackUrl answer. Source: "Call, trigger, or nest logic apps by using HTTPS endpoints".
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EmulatorState, StateStore, StoredResource } from '../state';
import { isObj } from './engine/functions';
import { ciEq, locateByName, props } from './model';

/** The callback API version the emulator signs URLs with (what Azure puts in callback URLs). */
export const CALLBACK_API_VERSION = '2016-10-01';

/** Path prefix of the emulated Logic Apps endpoint (real host: prod-NN.{region}.logic.azure.com). */
export const LOGIC_PREFIX = 'logicapps';

/** Persisted per-workflow access keys (state.logic), by lower-case workflow resource id. */
interface LogicState {
  accessKeys: Record<string, { key: string; boundTo?: string }>;
}

/** Why a signed request was refused (answered 401 by the callback endpoint). */
export interface SasFailure {
  code: 'DirectApiAuthorizationRequired' | 'DirectApiInvalidAuthorizationSignature';
  message: string;
}

/**
 * Signs and checks callback URLs: `sig` = HMAC-SHA256 (base64url) over `{accessId}\n{sp lower-case}\n{sv}`
 * with the workflow's 32-byte access key. Keys are made on first use and bound to the workflow's
 * createdTime, so a recreated workflow gets a new key and old URLs stop working.
 */
export class CallbackSigner {
  constructor(
    private readonly state: EmulatorState,
    private readonly store: StateStore,
  ) {}

  private logicState(): LogicState {
    const s = this.state as EmulatorState & { logic?: LogicState };
    s.logic ??= { accessKeys: {} };
    return s.logic;
  }

  /** Public id of a workflow in callback URLs (32 hex; changes when the workflow is recreated). */
  accessId(r: StoredResource): string {
    return this.accessIdFor(r.id, this.accessKey(r.id, r));
  }

  private accessIdFor(resourceId: string, key: Buffer): string {
    return createHash('sha256').update(resourceId.toLowerCase()).update(key).digest('hex').slice(0, 32);
  }

  /**
   * The workflow's access key (HMAC key of callback signatures). Created on first use; bound to the
   * workflow's createdTime so a recreated workflow gets a new key (old callback URLs stop working).
   * `r` undefined = the workflow is not stored yet (a deployment is creating it).
   */
  accessKey(resourceId: string, r: StoredResource | undefined): Buffer {
    const ks = this.logicState().accessKeys;
    const k = resourceId.toLowerCase();
    const ct = r ? String(props(r).createdTime ?? '') : undefined;
    let rec = ks[k];
    if (!rec || (ct && rec.boundTo && rec.boundTo !== ct) || (!r && rec.boundTo)) {
      rec = { key: randomBytes(32).toString('base64'), ...(ct ? { boundTo: ct } : {}) };
      ks[k] = rec;
      this.store.changed();
    } else if (ct && !rec.boundTo) {
      rec.boundTo = ct;
      this.store.changed();
    }
    return Buffer.from(rec.key, 'base64');
  }

  /** Forgets a deleted workflow's key (its URLs stop working; a new workflow of that id gets a new key). */
  forget(resourceId: string): void {
    delete this.logicState().accessKeys[resourceId.toLowerCase()];
  }

  private sign(key: Buffer, accessId: string, sp: string, sv: string): string {
    return createHmac('sha256', key).update(`${accessId}\n${sp.toLowerCase()}\n${sv}`).digest('base64url');
  }

  /**
   * Checks the `sp`, `sv`, `sig` query parameters against `expectedSp` (compared case-insensitively;
   * the signature in constant time). Returns the failure to answer with 401, or undefined when valid.
   */
  check(query: URLSearchParams, key: Buffer, accessId: string, expectedSp: string): SasFailure | undefined {
    const sp = query.get('sp');
    const sv = query.get('sv');
    const sig = query.get('sig');
    if (!sp || !sv || !sig) return { code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated only by Shared Access scheme.' };
    const want = Buffer.from(this.sign(key, accessId, sp, sv));
    const got = Buffer.from(sig);
    if (!ciEq(sp, expectedSp) || want.length !== got.length || !timingSafeEqual(want, got)) {
      return { code: 'DirectApiInvalidAuthorizationSignature', message: 'The provided authorization signature (sig) is not valid for this request. Get a new callback URL with listCallbackUrl.' };
    }
    return undefined;
  }

  /** `{base}/logicapps/workflows/{accessId}{path}?api-version&sp&sv=1.0&sig` signed for permission `sp`. */
  signedUrl(base: string, path: string, key: Buffer, accessId: string, sp: string): string {
    const sig = this.sign(key, accessId, sp, '1.0');
    return `${base}/${LOGIC_PREFIX}/workflows/${accessId}${path}?api-version=${CALLBACK_API_VERSION}&sp=${encodeURIComponent(sp)}&sv=1.0&sig=${sig}`;
  }

  /**
   * listCallbackUrl answer (Logic REST API `WorkflowTriggerCallbackUrl`) for a Request trigger:
   * `{value, method, basePath, relativePath?, relativePathParameters?, queries: {api-version, sp, sv, sig}}`.
   * A workflow that is not stored yet (ARM template) signs with a provisional key adopted when it is stored.
   */
  callbackInfo(base: string, r: StoredResource, triggerName: string, tdef: Record<string, unknown>): Record<string, unknown> {
    const stored = locateByName(this.state, r.subscriptionId, r.resourceGroupName, r.name)?.r === r;
    const key = this.accessKey(r.id, stored ? r : undefined);
    const accessId = this.accessIdFor(r.id, key);
    const sp = `/triggers/${triggerName}/run`;
    const sig = this.sign(key, accessId, sp, '1.0');
    const inputs = isObj(tdef.inputs) ? tdef.inputs : {};
    const rel = typeof inputs.relativePath === 'string' ? inputs.relativePath.replace(/^\/+/, '') : '';
    const basePath = `${base}/${LOGIC_PREFIX}/workflows/${accessId}/triggers/${triggerName}/paths/invoke`;
    const query = `api-version=${CALLBACK_API_VERSION}&sp=${encodeURIComponent(sp)}&sv=1.0&sig=${sig}`;
    return {
      value: `${basePath}${rel ? `/${rel}` : ''}?${query}`,
      method: typeof inputs.method === 'string' ? inputs.method.toUpperCase() : 'POST',
      basePath,
      ...(rel ? { relativePath: rel, relativePathParameters: [...rel.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]) } : {}),
      queries: { 'api-version': CALLBACK_API_VERSION, sp, sv: '1.0', sig },
    };
  }
}
