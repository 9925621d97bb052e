import { ApiError } from '../common/api-error';
import type { OfferEntity } from '../offers/offer.entity';
import { Caller } from './caller';

/**
 * Publisher isolation rules for offers, applied in the services (not only in controllers). An offer
 * belongs to the publisher (tenant + client) that created it; to any other publisher it does not
 * exist (404 OfferNotFound). `caller` undefined = internal call (reconcile loop, tests): unrestricted.
 * Source: issue 3 (security), docs/security.md.
 */
export type OfferAccess = 'read' | 'manage' | 'unpublish' | 'sessions';

/** True when `caller` is a publisher and owns `offer` (its tid + client id created it). */
export function ownsOffer(caller: Caller, offer: Pick<OfferEntity, 'ownerTenantId' | 'ownerClientId'>): boolean {
  return caller.isPublisher && offer.ownerTenantId === caller.tenantId && offer.ownerClientId === caller.clientId;
}

/**
 * Whether `caller` may do `access` on `offer`:
 * - read (offer, package, capacity), sessions (list/read an offer's sessions): owner or operator;
 * - manage (update, delete, upload package, publish): owner only;
 * - unpublish: owner or operator.
 */
export function mayAccessOffer(caller: Caller | undefined, offer: Pick<OfferEntity, 'ownerTenantId' | 'ownerClientId'>, access: OfferAccess): boolean {
  if (!caller || caller.isSystem) return true;
  if (ownsOffer(caller, offer)) return true;
  return access !== 'manage' && caller.isOperator;
}

/**
 * Returns `offer` when `caller` may do `access` on it.
 * @throws ApiError 404 OfferNotFound otherwise (never 403: another publisher's offer "does not exist").
 */
export function checkOfferAccess<T extends Pick<OfferEntity, 'id' | 'ownerTenantId' | 'ownerClientId'>>(caller: Caller | undefined, offer: T | null, offerId: string, access: OfferAccess): T {
  if (!offer || !mayAccessOffer(caller, offer, access)) throw ApiError.notFound('Offer', offerId);
  return offer;
}
