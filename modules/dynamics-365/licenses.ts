import { Inject, Injectable } from '@nestjs/common';
import { OfferEntity } from '../../src/offers/offer.entity';
import { LIVE_SESSION_STATES, SessionEntity } from '../../src/sessions/session.entity';
import { SessionsRepository } from '../../src/sessions/sessions.repository';
import { DynamicsClients, offerClientKey } from './clients/dynamics-clients';
import { RemoteError } from '../../src/remote/remote-error';
import { TenantSku } from './clients/graph-directory';
import { dynamicsConfigOf } from './dynamics-config';
import { DYNAMICS_SETTINGS, DynamicsSettings } from './dynamics-settings';
import { DynamicsProgress } from './provisioning/progress';

/** The offer's license SKU in the tenant, and how many of its units the offer may use. */
export interface LicenseSnapshot {
  skuId: string;
  skuPartNumber: string;
  /** prepaidUnits.enabled */
  total: number;
  /** consumedUnits (every user in the tenant holding the SKU). */
  consumed: number;
  /** total - consumed */
  free: number;
  /** Licenses held by this offer's live sessions when the snapshot was taken. */
  heldByOffer: number;
  /** free + heldByOffer: the most sessions of this offer that can hold a license at once. */
  availableToOffer: number;
}

/** The SKU `licenseSku` names (skuId GUID or skuPartNumber, case-insensitive), or undefined. */
export function resolveSku(skus: TenantSku[], licenseSku: string): TenantSku | undefined {
  const k = licenseSku.toLowerCase();
  return skus.find((s) => s.skuId === k) ?? skus.find((s) => s.skuPartNumber.toLowerCase() === k);
}

/**
 * License-bounded concurrency of Dynamics 365 offers.
 *
 * A session runs only while it holds a slot: session.slot in [0, limit) with
 * `limit = min(maxConcurrent, availableToOffer)` and `availableToOffer = prepaidUnits.enabled -
 * consumedUnits + licenses held by the offer's live sessions` (Partner Center: each active test drive
 * user consumes one license). The UNIQUE (offerId, slot) index makes claims atomic across requests and
 * processes: a unique violation means "taken, try the next one". The tenant's SKUs are read from Graph
 * at most once per DYNAMICS_LICENSE_CACHE_MS (real time) per offer, so a burst of starts costs one call;
 * the held count is read just before Graph, so the snapshot errs on the safe side (a license assigned in
 * between counts as someone else's), and the session driver drops the cached snapshot (invalidate) as soon
 * as it has recorded a license assigned or removed, so that error lasts until the record, not the cache time.
 */
@Injectable()
export class LicenseLedger {
  private readonly cache = new Map<string, { at: number; value: Promise<LicenseSnapshot> }>();

  constructor(
    private readonly sessions: SessionsRepository,
    private readonly clients: DynamicsClients,
    @Inject(DYNAMICS_SETTINGS) private readonly settings: DynamicsSettings,
  ) {}

  /** Licenses held right now by the offer's live sessions (progress.licenseAssigned and not being removed). */
  async heldByOffer(offerId: string): Promise<number> {
    const rows = await this.sessions.listProgress(offerId, LIVE_SESSION_STATES);
    return rows.filter((r) => {
      const p = r.progress as DynamicsProgress | null;
      return !!p?.licenseAssigned && !p.licenseRemoving;
    }).length;
  }

  /**
   * The offer's license snapshot, from cache unless older than DYNAMICS_LICENSE_CACHE_MS (or `fresh`).
   * @throws RemoteError (Graph or token), or RemoteError code LicenseSkuNotFound.
   */
  snapshot(offer: OfferEntity, fresh = false): Promise<LicenseSnapshot> {
    const key = offerClientKey(offer);
    const hit = this.cache.get(key);
    if (!fresh && hit && Date.now() - hit.at < this.settings.licenseCacheMs) return hit.value;
    const value = (async () => {
      const held = await this.heldByOffer(offer.id);
      const skus = await (await this.clients.graph(offer)).subscribedSkus();
      const cfg = dynamicsConfigOf(offer.testDrive);
      const sku = resolveSku(skus, cfg.licenseSku);
      if (!sku) {
        throw new RemoteError('graph', 'invalid', 'LicenseSkuNotFound', `License SKU '${cfg.licenseSku}' is not subscribed in the tenant. Subscribed: ${skus.map((s) => s.skuPartNumber).join(', ') || 'none'}.`);
      }
      const free = Math.max(0, sku.enabled - sku.consumed);
      return { skuId: sku.skuId, skuPartNumber: sku.skuPartNumber, total: sku.enabled, consumed: sku.consumed, free, heldByOffer: held, availableToOffer: Math.max(0, sku.enabled - sku.consumed + held) };
    })();
    this.cache.set(key, { at: Date.now(), value });
    value.catch(() => {
      if (this.cache.get(key)?.value === value) this.cache.delete(key);
    });
    return value;
  }

  /** Drops the cached snapshot of an offer (after its licenses changed in a way the cache cannot know). */
  invalidate(offerId: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(`${offerId}|`)) this.cache.delete(k);
  }

  /** min(maxConcurrent, availableToOffer). */
  async limit(offer: OfferEntity): Promise<{ limit: number; snapshot: LicenseSnapshot }> {
    const snapshot = await this.snapshot(offer);
    return { limit: Math.min(dynamicsConfigOf(offer.testDrive).maxConcurrent, snapshot.availableToOffer), snapshot };
  }

  /** Slots held right now by the offer's sessions. */
  async takenSlots(offerId: string): Promise<Set<number>> {
    return new Set(await this.sessions.heldSlots(offerId));
  }

  /**
   * Gives `session` (state provisioning, no slot) the lowest free slot below the offer's limit.
   * @returns the slot, or null when every slot below the limit is taken.
   * @throws RemoteError when the tenant's licenses cannot be read.
   */
  async claimSlot(offer: OfferEntity, session: SessionEntity, now: number): Promise<number | null> {
    const { limit } = await this.limit(offer);
    return this.sessions.claimSessionSlot(session, offer.id, limit, now);
  }
}
