import { ApiError } from '../common/api-error';
import type { OfferEntity } from './offer.entity';

/**
 * Optimistic concurrency on offers over HTTP (RFC 9110 §8.8.3 ETag, §13.1 conditional requests).
 * An offer's ETag is its `version` column as a strong entity tag, e.g. `"7"`; every write to the offer
 * row bumps the version (OffersRepository), so a changed ETag means the offer changed.
 */

/** One parsed If-Match / If-None-Match header: `*`, or a list of entity tags. */
export type EntityTagCondition = { any: true } | { any: false; tags: Array<{ weak: boolean; opaque: string }> };

/** The conditional headers a request on an offer sent (absent = unconditional). */
export interface OfferPreconditions {
  ifMatch?: EntityTagCondition;
  /** PUT only: `*` = create only; a list = update only if the current ETag is none of them. */
  ifNoneMatch?: EntityTagCondition;
}

/** The strong ETag of an offer: its version, quoted (`"7"`). */
export function offerEtag(offer: Pick<OfferEntity, 'version'>): string {
  return `"${offer.version}"`;
}

/**
 * Parses the value of an If-Match or If-None-Match header (`*` or `#entity-tag`, RFC 9110 §13.1.1;
 * repeated headers arrive comma-joined). Absent or blank = undefined (unconditional).
 * @throws ApiError 400 InvalidHeader naming the header when the value is not `*` nor a comma-separated
 *   list of quoted entity tags (`"7"`, `W/"7"`).
 */
export function parseEntityTagCondition(header: 'If-Match' | 'If-None-Match', value: string | string[] | undefined): EntityTagCondition | undefined {
  const raw = (Array.isArray(value) ? value.join(', ') : value ?? '').trim();
  if (!raw) return undefined;
  if (raw === '*') return { any: true };
  const tags: Array<{ weak: boolean; opaque: string }> = [];
  const item = /(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/y;
  const separators = /[\s,]*/y;
  let pos = 0;
  for (;;) {
    separators.lastIndex = pos;
    separators.exec(raw);
    pos = separators.lastIndex; // empty list elements are allowed (RFC 9110 §5.6.1)
    if (pos >= raw.length) break;
    item.lastIndex = pos;
    const m = item.exec(raw);
    if (!m) break;
    tags.push({ weak: !!m[1], opaque: m[2] });
    pos = item.lastIndex;
  }
  if (pos < raw.length || !tags.length) {
    throw new ApiError(
      400,
      'InvalidHeader',
      `${header} must be "*" or a comma-separated list of quoted entity tags such as "3" (with the quotes, as the ETag header gives it; RFC 9110 §13.1).`,
      header,
    );
  }
  return { any: false, tags };
}

/**
 * Evaluates `pre` against the offer as read (`null`: it does not exist). Call after the access check
 * (another publisher's offer is 404, never 412) and before any change. If-Match uses the strong
 * comparison (a weak tag never matches), If-None-Match the weak one (RFC 9110 §13.1.1, §13.1.2).
 * @throws ApiError 412 PreconditionFailed naming the header: If-Match on a missing offer or not listing
 *   its current ETag (`*` only requires that it exists); If-None-Match `*` on an existing offer, or
 *   listing its current ETag.
 */
export function checkOfferPreconditions(offerId: string, offer: Pick<OfferEntity, 'version'> | null, pre: OfferPreconditions = {}): void {
  const current = offer ? offerEtag(offer) : undefined;
  const m = pre.ifMatch;
  if (m) {
    if (!offer) {
      throw preconditionFailed('If-Match', `If-Match: offer '${offerId}' does not exist, so no entity tag matches. Send the request without If-Match (PUT creates it).`);
    }
    if (!m.any && !m.tags.some((t) => !t.weak && `"${t.opaque}"` === current)) {
      if (m.tags.some((t) => t.weak && `"${t.opaque}"` === current)) {
        throw preconditionFailed(
          'If-Match',
          `If-Match: W/${current} is a weak entity tag, and If-Match compares strongly (RFC 9110 §13.1.1): send the ETag as given, ${current}, without W/.`,
        );
      }
      throw preconditionFailed(
        'If-Match',
        `If-Match: offer '${offerId}' has changed; its current ETag is ${current} (weak tags never match). GET it again, re-apply your change and retry with the new ETag.`,
      );
    }
  }
  const n = pre.ifNoneMatch;
  if (n && offer) {
    if (n.any) throw preconditionFailed('If-None-Match', `If-None-Match: * means create only, and offer '${offerId}' already exists (ETag ${current}).`);
    if (n.tags.some((t) => `"${t.opaque}"` === current)) {
      throw preconditionFailed('If-None-Match', `If-None-Match: offer '${offerId}' still has ETag ${current}, which the header lists.`);
    }
  }
}

/**
 * The error of a write that lost a race: the offer's version changed (or the offer was deleted)
 * between this request's read and its conditional write. 412 PreconditionFailed (target If-Match)
 * when the caller sent If-Match, else 409 OfferChanged; both say to read the offer again and retry.
 */
export function offerChangedError(offerId: string, deleted: boolean, pre: OfferPreconditions = {}): ApiError {
  const what = deleted ? 'was deleted' : 'changed';
  if (pre.ifMatch) {
    return preconditionFailed('If-Match', `If-Match: offer '${offerId}' ${what} while this request ran, so the ETag sent no longer matches; read it again and retry.`);
  }
  return ApiError.conflict('OfferChanged', `Offer '${offerId}' ${what} while this request ran; read it again and retry.`);
}

function preconditionFailed(header: 'If-Match' | 'If-None-Match', message: string): ApiError {
  return new ApiError(412, 'PreconditionFailed', message, header);
}
