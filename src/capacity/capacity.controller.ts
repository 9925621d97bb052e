import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ApiErrorResponse, ApiZodQuery, ApiZodResponse } from '../common/openapi';
import { parseQueryOrThrow } from '../common/validation';
import { CapacityRowView } from './capacity.dto';
import { OffersRepository } from '../offers/offers.repository';
import { CapacityService } from './capacity.service';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { checkOfferAccess } from '../auth/offer-access';
import { Role } from '../auth/roles';

/** Query of GET /capacity (unknown parameters are refused, as on every list). */
const CapacityQuerySchema = z.strictObject({
  offerId: z.string({ message: 'Give one offer ID.' }).optional().meta({ description: 'One offer only (its ID).', example: 'sample-webapp' }),
});

/** Operators' view: per offer and region, targets vs. what is ready, deploying, assigned and failed. */
@ApiTags('capacity')
@Controller('capacity')
export class CapacityController {
  constructor(
    private readonly offers: OffersRepository,
    private readonly capacityService: CapacityService,
  ) {}

  @Get()
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({
    summary: 'Capacity of every offer (or one), per region: hotTarget, hotReady, deploying, assigned, failed, limit',
    description: 'A publisher sees its own offers only (another publisher\'s offerId is 404); an operator sees all.',
  })
  @ApiZodQuery(CapacityQuerySchema)
  @ApiZodResponse(200, 'CapacityList', 'Capacity rows, per offer (ARM: per region).')
  @ApiErrorResponse(400, 'ValidationFailed: offerId given more than once, or a query parameter other than offerId.')
  @ApiErrorResponse(404, "OfferNotFound: offerId names no offer the caller may read (another publisher's offer does not exist to a publisher).")
  async capacity(@CurrentCaller() caller: Caller, @Query() query: unknown): Promise<{ value: CapacityRowView[] }> {
    const { offerId } = parseQueryOrThrow(CapacityQuerySchema, query);
    const offers = offerId ? [checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'read')] : await this.capacityService.readableOffers(caller);
    const value = await this.capacityService.rows(offers);
    return { value };
  }
}
