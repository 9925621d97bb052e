import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { pageLimitSchema, parseQueryOrThrow } from '../common/validation';
import { ApiErrorResponse, ApiJsonBodyErrors, ApiUnavailableResponse, ApiZodBody, ApiZodParam, ApiZodQuery, ApiZodResponse } from '../common/openapi';
import { OFFER_ID_PATTERN, offerIdParamSchema, OfferView } from './offer.dto';

/** Query of GET /offers (unknown parameters are refused). */
export const OfferListQuerySchema = z.strictObject({
  limit: pageLimitSchema(500, 100, 'Offers'),
  after: z
    .string()
    .regex(OFFER_ID_PATTERN, 'after must be the nextAfter of the previous page (an offer ID: 1-50 of a-z, 0-9, "-", "_")')
    .optional()
    .meta({ description: 'The `nextAfter` of the previous page: only offers whose ID sorts after it.', example: 'contoso-crm' }),
});
import { OffersService } from './offers.service';
import { offerEtag, OfferPreconditions, parseEntityTagCondition } from './offer-preconditions';
import type { OfferEntity } from './offer.entity';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { Role } from '../auth/roles';

// Lower case, as the @Headers() parameters read them, so the document lists each header once.
const IF_MATCH_HEADER = {
  name: 'if-match',
  required: false,
  description:
    'Optimistic concurrency: the ETag of the offer as you last read it (e.g. `"7"`, quoted; a list is allowed). ' +
    'If the offer changed since (or while this request ran), the answer is 412 PreconditionFailed and nothing changes. ' +
    '`*` only requires that the offer exists. Without If-Match a change lost to a concurrent one answers 409 OfferChanged.',
  schema: { type: 'string' as const },
};
const ETAG_RESPONSE_HEADER = { ETag: { description: 'Strong entity tag of the offer (its version, e.g. `"7"`): send it back in If-Match.', schema: { type: 'string' as const } } };
const PRECONDITION_FAILED = 'PreconditionFailed: If-Match (or If-None-Match) not met, or the offer changed while this request ran; target names the header. Nothing changed.';
const INVALID_HEADER = 'InvalidHeader: a malformed If-Match.';
const OFFER_NOT_FOUND = "OfferNotFound: no such offer, or another publisher's (to a publisher it does not exist).";
const OFFER_CHANGED = 'OfferChanged: the offer changed or was deleted while this request ran (no If-Match sent); read it again and retry.';

/** The conditional headers of a request on one offer (see offer-preconditions.ts). @throws ApiError 400 InvalidHeader. */
function preconditions(ifMatch: string | undefined, ifNoneMatch?: string): OfferPreconditions {
  return { ifMatch: parseEntityTagCondition('If-Match', ifMatch), ifNoneMatch: parseEntityTagCondition('If-None-Match', ifNoneMatch) };
}

/** Sets the offer's ETag on the response. */
function withEtag(res: Response, offer: OfferEntity): void {
  res.setHeader('ETag', offerEtag(offer));
}

/**
 * Publisher API: offers and their test drive configuration. Publishers manage their own offers (others'
 * are 404); operators read all and may unpublish any.
 */
@ApiTags('offers')
@Controller('offers')
export class OffersController {
  constructor(private readonly service: OffersService) {}

  @Put(':offerId')
  @Roles(Role.Publisher)
  @ApiOperation({
    summary: 'Create or update an offer',
    description:
      'Validates the common fields and the type-specific `testDrive` and `deployment` sections, listing every problem at once. ' +
      '`deployment.clientSecret` is required on create and optional on update; it is stored in Key Vault and never returned. ' +
      'The test drive type of an existing offer cannot change. ' +
      'An update never overwrites a change made since it was read: send If-Match with the ETag you read, or `If-None-Match: *` to create only.',
  })
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiHeader({
    name: 'if-none-match',
    required: false,
    description: '`*`: create only (412 PreconditionFailed if the offer exists). A list of ETags: update only if the current one is none of them.',
    schema: { type: 'string' },
  })
  @ApiZodBody('PutOfferBody')
  @ApiZodResponse(201, 'OfferView', 'Created.', { headers: ETAG_RESPONSE_HEADER })
  @ApiZodResponse(200, 'OfferView', 'Updated.', { headers: ETAG_RESPONSE_HEADER })
  @ApiErrorResponse(
    400,
    'ValidationFailed: details name each field path and rule (InvalidOfferId, InvalidField, UnknownField, UnknownTestDriveType, TestDriveTypeCannotChange, ' +
      'DuplicateRegion, OutboundUrlRefused...); InvalidJson: the body is not JSON; InvalidHeader: a malformed If-Match / If-None-Match.',
  )
  @ApiErrorResponse(404, "OfferNotFound: the offer ID is held by another publisher (offer IDs are global; to you it does not exist and cannot be used).")
  @ApiErrorResponse(409, `${OFFER_CHANGED} OfferConflict: created concurrently by another request; retry. OfferIdRetired: a deleted offer's sessions, leads or incidents are kept under this ID; choose another.`)
  @ApiErrorResponse(412, PRECONDITION_FAILED)
  @ApiJsonBodyErrors()
  @ApiUnavailableResponse('OutboundUrlCheckUnavailable: DNS did not answer for a URL the type will call (Dynamics 365); DependencyUnavailable: Key Vault did not answer')
  async put(
    @Param('offerId') offerId: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
    @CurrentCaller() caller: Caller,
    @Headers('if-match') ifMatch?: string,
    @Headers('if-none-match') ifNoneMatch?: string,
  ): Promise<OfferView> {
    const { offer, created } = await this.service.put(offerId, body, caller, preconditions(ifMatch, ifNoneMatch));
    res.status(created ? 201 : 200);
    withEtag(res, offer);
    return this.service.view(offer);
  }

  @Get()
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({ summary: 'List offers', description: 'A publisher sees its own offers; an operator sees all (never a secret). Pages by offer ID: `after=<nextAfter>`.' })
  @ApiZodQuery(OfferListQuerySchema)
  @ApiZodResponse(200, 'OfferList', 'A page of the offers the caller may read, by offer ID, with `nextAfter` for the next one.')
  @ApiErrorResponse(400, 'ValidationFailed: limit or after breaks its rule, or an unknown query parameter.')
  async list(@CurrentCaller() caller: Caller, @Query() query: unknown): Promise<{ value: OfferView[]; nextAfter: string | null }> {
    const q = parseQueryOrThrow(OfferListQuerySchema, query);
    return this.service.list(caller, { after: q.after, limit: q.limit });
  }

  @Get(':offerId')
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({ summary: 'Get an offer', description: 'The ETag header is the offer\'s version: send it as If-Match on PUT, publish, unpublish or DELETE.' })
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiZodResponse(200, 'OfferView', 'The offer.', { headers: ETAG_RESPONSE_HEADER })
  @ApiErrorResponse(404, OFFER_NOT_FOUND)
  async get(@Param('offerId') offerId: string, @Res({ passthrough: true }) res: Response, @CurrentCaller() caller: Caller): Promise<OfferView> {
    const offer = await this.service.getVisible(offerId, caller);
    withEtag(res, offer);
    return this.service.view(offer);
  }

  @Delete(':offerId')
  @Roles(Role.Publisher)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an offer', description: 'Only when not published, with no running sessions and no pool instances left. Deletes its client secret.' })
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiZodResponse(204, null, 'Deleted.')
  @ApiErrorResponse(400, INVALID_HEADER)
  @ApiErrorResponse(404, OFFER_NOT_FOUND)
  @ApiErrorResponse(409, `OfferPublished, OfferHasSessions, OfferHasDeprovisioningFailures or OfferHasInstances: unpublish and wait for sessions and instances to end. ${OFFER_CHANGED}`)
  @ApiErrorResponse(412, PRECONDITION_FAILED)
  async delete(@Param('offerId') offerId: string, @CurrentCaller() caller: Caller, @Headers('if-match') ifMatch?: string): Promise<void> {
    await this.service.delete(offerId, caller, preconditions(ifMatch));
  }

  @Post(':offerId/publish')
  @Roles(Role.Publisher)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Publish the test drive',
    description:
      'New sessions may start and the pools fill. Idempotent. The checks against the publisher\'s environment run on the offer as read; ' +
      'if it changes meanwhile (PUT, unpublish, package upload, delete) publishing is refused (409 OfferChanged, or 412 with If-Match).',
  })
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiZodResponse(200, 'OfferView', 'Published (also when it already was); `warnings` lists what the checks warn about.', { headers: ETAG_RESPONSE_HEADER })
  @ApiErrorResponse(400, INVALID_HEADER)
  @ApiErrorResponse(404, OFFER_NOT_FOUND)
  @ApiErrorResponse(409, 'OfferIncomplete: details name each missing thing (package, client secret, a check of the environment...); OfferChanged: changed while the checks ran (no If-Match sent).')
  @ApiErrorResponse(412, PRECONDITION_FAILED)
  async publish(@Param('offerId') offerId: string, @Res({ passthrough: true }) res: Response, @CurrentCaller() caller: Caller, @Headers('if-match') ifMatch?: string): Promise<OfferView> {
    const offer = await this.service.publish(offerId, caller, preconditions(ifMatch));
    withEtag(res, offer);
    const view = await this.service.view(offer);
    // Types that check the publisher's environment (Dynamics 365) return what they warn about.
    const warnings = [...(offer.health?.warnings ?? []), ...(this.service.publishWarnings.get(offer) ?? [])];
    return offer.health || warnings.length ? { ...view, warnings } : view;
  }

  @Post(':offerId/unpublish')
  @Roles(Role.Publisher, Role.Operator)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Unpublish the test drive',
    description: 'No new sessions; unassigned instances are removed; running sessions continue until they expire. Idempotent.',
  })
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiZodResponse(200, 'OfferView', 'Unpublished (also when it already was).', { headers: ETAG_RESPONSE_HEADER })
  @ApiErrorResponse(400, INVALID_HEADER)
  @ApiErrorResponse(404, OFFER_NOT_FOUND)
  @ApiErrorResponse(409, OFFER_CHANGED)
  @ApiErrorResponse(412, PRECONDITION_FAILED)
  async unpublish(@Param('offerId') offerId: string, @Res({ passthrough: true }) res: Response, @CurrentCaller() caller: Caller, @Headers('if-match') ifMatch?: string): Promise<OfferView> {
    const offer = await this.service.unpublish(offerId, caller, preconditions(ifMatch));
    withEtag(res, offer);
    return this.service.view(offer);
  }
}
