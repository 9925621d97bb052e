import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiHeader, ApiNoContentResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ErrorBodyDoc, OfferListDoc, OfferView, OfferViewDoc, PutOfferDoc } from './offer.dto';
import { OffersService } from './offers.service';
import { offerEtag, OfferPreconditions, parseEntityTagCondition } from './offer-preconditions';
import type { OfferEntity } from './offer.entity';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { Role } from '../auth/roles';

const OFFER_ID_PARAM = {
  name: 'offerId',
  description: 'Partner Center offer ID: lowercase letters, digits, "-" and "_", at most 50 characters; cannot change.',
  example: 'contoso-crm',
};

const PUT_EXAMPLE = {
  alias: 'Contoso CRM demo',
  testDrive: {
    type: 'azure-resource-manager',
    durationHours: 2,
    regions: [
      { name: 'westeurope', hot: 2, cold: 5 },
      { name: 'eastus', hot: 0, cold: 3 },
    ],
    description: 'Try Contoso CRM for two hours.',
    accessInformation: '<p>Open {{siteUrl}} and sign in as {{userName}} / {{password}}.</p>',
  },
  deployment: {
    subscriptionId: '00000000-0000-0000-0000-000000000001',
    tenantId: '00000000-0000-0000-0000-000000000002',
    clientId: '00000000-0000-0000-0000-000000000003',
    clientSecret: 'app-client-secret',
  },
};

const IF_MATCH_HEADER = {
  name: 'If-Match',
  required: false,
  description:
    'Optimistic concurrency: the ETag of the offer as you last read it (e.g. `"7"`, quoted; a list is allowed). ' +
    'If the offer changed since (or while this request ran), the answer is 412 PreconditionFailed and nothing changes. ' +
    '`*` only requires that the offer exists. Without If-Match a change lost to a concurrent one answers 409 OfferChanged.',
};
const ETAG_RESPONSE_HEADER = { ETag: { description: 'Strong entity tag of the offer (its version, e.g. `"7"`): send it back in If-Match.', schema: { type: 'string' } } };
const PRECONDITION_FAILED = { status: 412, description: 'PreconditionFailed: If-Match (or If-None-Match) not met; target names the header.', type: ErrorBodyDoc };
const OFFER_CHANGED = { status: 409, description: 'OfferChanged: the offer changed or was deleted while this request ran (no If-Match sent); read it again and retry.', type: ErrorBodyDoc };

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
@ApiExtraModels(ErrorBodyDoc)
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
  @ApiParam(OFFER_ID_PARAM)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiHeader({ name: 'If-None-Match', required: false, description: '`*`: create only (412 PreconditionFailed if the offer exists). A list of ETags: update only if the current one is none of them.' })
  @ApiBody({ type: PutOfferDoc, examples: { arm: { summary: 'ARM test drive', value: PUT_EXAMPLE } } })
  @ApiResponse({ status: 201, description: 'Created.', type: OfferViewDoc, headers: ETAG_RESPONSE_HEADER })
  @ApiResponse({ status: 200, description: 'Updated.', type: OfferViewDoc, headers: ETAG_RESPONSE_HEADER })
  @ApiResponse({ status: 400, description: 'ValidationFailed: details name each field path and rule; InvalidHeader: a malformed If-Match / If-None-Match.', type: ErrorBodyDoc })
  @ApiResponse(OFFER_CHANGED)
  @ApiResponse(PRECONDITION_FAILED)
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
  @ApiOperation({ summary: 'List offers', description: 'A publisher sees its own offers; an operator sees all (never a secret).' })
  @ApiResponse({ status: 200, type: OfferListDoc })
  async list(@CurrentCaller() caller: Caller): Promise<{ value: OfferView[] }> {
    return { value: await this.service.list(caller) };
  }

  @Get(':offerId')
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({ summary: 'Get an offer', description: 'The ETag header is the offer\'s version: send it as If-Match on PUT, publish, unpublish or DELETE.' })
  @ApiParam(OFFER_ID_PARAM)
  @ApiResponse({ status: 200, type: OfferViewDoc, headers: ETAG_RESPONSE_HEADER })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  async get(@Param('offerId') offerId: string, @Res({ passthrough: true }) res: Response, @CurrentCaller() caller: Caller): Promise<OfferView> {
    const offer = await this.service.getVisible(offerId, caller);
    withEtag(res, offer);
    return this.service.view(offer);
  }

  @Delete(':offerId')
  @Roles(Role.Publisher)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an offer', description: 'Only when not published, with no running sessions and no pool instances left. Deletes its client secret.' })
  @ApiParam(OFFER_ID_PARAM)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiResponse({ status: 400, description: 'InvalidHeader: a malformed If-Match.', type: ErrorBodyDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  @ApiResponse({ status: 409, description: 'OfferPublished, OfferHasSessions or OfferHasInstances; OfferChanged (changed while this request ran, no If-Match sent)', type: ErrorBodyDoc })
  @ApiResponse(PRECONDITION_FAILED)
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
  @ApiParam(OFFER_ID_PARAM)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiResponse({ status: 200, type: OfferViewDoc, headers: ETAG_RESPONSE_HEADER })
  @ApiResponse({ status: 400, description: 'InvalidHeader: a malformed If-Match.', type: ErrorBodyDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  @ApiResponse({ status: 409, description: 'OfferIncomplete: details name each missing thing (package, client secret...); OfferChanged: changed while the checks ran (no If-Match sent).', type: ErrorBodyDoc })
  @ApiResponse(PRECONDITION_FAILED)
  async publish(@Param('offerId') offerId: string, @Res({ passthrough: true }) res: Response, @CurrentCaller() caller: Caller, @Headers('if-match') ifMatch?: string): Promise<OfferView> {
    const offer = await this.service.publish(offerId, caller, preconditions(ifMatch));
    withEtag(res, offer);
    const view = await this.service.view(offer);
    // Types that check the publisher's environment (Dynamics 365) return what they warn about.
    return offer.health ? { ...view, warnings: offer.health.warnings } : view;
  }

  @Post(':offerId/unpublish')
  @Roles(Role.Publisher, Role.Operator)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Unpublish the test drive',
    description: 'No new sessions; unassigned instances are removed; running sessions continue until they expire. Idempotent.',
  })
  @ApiParam(OFFER_ID_PARAM)
  @ApiHeader(IF_MATCH_HEADER)
  @ApiResponse({ status: 200, type: OfferViewDoc, headers: ETAG_RESPONSE_HEADER })
  @ApiResponse({ status: 400, description: 'InvalidHeader: a malformed If-Match.', type: ErrorBodyDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  @ApiResponse(OFFER_CHANGED)
  @ApiResponse(PRECONDITION_FAILED)
  async unpublish(@Param('offerId') offerId: string, @Res({ passthrough: true }) res: Response, @CurrentCaller() caller: Caller, @Headers('if-match') ifMatch?: string): Promise<OfferView> {
    const offer = await this.service.unpublish(offerId, caller, preconditions(ifMatch));
    withEtag(res, offer);
    return this.service.view(offer);
  }
}
