import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiNoContentResponse, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ErrorBodyDoc, OfferListDoc, OfferView, OfferViewDoc, PutOfferDoc } from './offer.dto';
import { OffersService } from './offers.service';
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
      'The test drive type of an existing offer cannot change.',
  })
  @ApiParam(OFFER_ID_PARAM)
  @ApiBody({ type: PutOfferDoc, examples: { arm: { summary: 'ARM test drive', value: PUT_EXAMPLE } } })
  @ApiResponse({ status: 201, description: 'Created.', type: OfferViewDoc })
  @ApiResponse({ status: 200, description: 'Updated.', type: OfferViewDoc })
  @ApiResponse({ status: 400, description: 'ValidationFailed: details name each field path and rule.', type: ErrorBodyDoc })
  async put(@Param('offerId') offerId: string, @Body() body: unknown, @Res({ passthrough: true }) res: Response, @CurrentCaller() caller: Caller): Promise<OfferView> {
    const { offer, created } = await this.service.put(offerId, body, caller);
    res.status(created ? 201 : 200);
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
  @ApiOperation({ summary: 'Get an offer' })
  @ApiParam(OFFER_ID_PARAM)
  @ApiResponse({ status: 200, type: OfferViewDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  async get(@Param('offerId') offerId: string, @CurrentCaller() caller: Caller): Promise<OfferView> {
    return this.service.view(await this.service.getVisible(offerId, caller));
  }

  @Delete(':offerId')
  @Roles(Role.Publisher)
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an offer', description: 'Only when not published, with no running sessions and no pool instances left. Deletes its client secret.' })
  @ApiParam(OFFER_ID_PARAM)
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  @ApiResponse({ status: 409, description: 'OfferPublished, OfferHasSessions or OfferHasInstances', type: ErrorBodyDoc })
  async delete(@Param('offerId') offerId: string, @CurrentCaller() caller: Caller): Promise<void> {
    await this.service.delete(offerId, caller);
  }

  @Post(':offerId/publish')
  @Roles(Role.Publisher)
  @HttpCode(200)
  @ApiOperation({ summary: 'Publish the test drive', description: 'New sessions may start and the pools fill. Idempotent.' })
  @ApiParam(OFFER_ID_PARAM)
  @ApiResponse({ status: 200, type: OfferViewDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  @ApiResponse({ status: 409, description: 'OfferIncomplete: details name each missing thing (package, client secret...).', type: ErrorBodyDoc })
  async publish(@Param('offerId') offerId: string, @CurrentCaller() caller: Caller): Promise<OfferView> {
    const offer = await this.service.publish(offerId, caller);
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
  @ApiResponse({ status: 200, type: OfferViewDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  async unpublish(@Param('offerId') offerId: string, @CurrentCaller() caller: Caller): Promise<OfferView> {
    return this.service.view(await this.service.unpublish(offerId, caller));
  }
}
