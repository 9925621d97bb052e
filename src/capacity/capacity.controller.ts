import { Controller, Get, Query } from '@nestjs/common';
import { ApiError } from '../common/api-error';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { OffersRepository } from '../offers/offers.repository';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { CapacityRow } from '../test-drives/test-drive-type';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { checkOfferAccess, mayAccessOffer } from '../auth/offer-access';
import { Role } from '../auth/roles';

/** Operators' view: per offer and region, targets vs. what is ready, deploying, assigned and failed. */
@ApiTags('capacity')
@Controller('capacity')
export class CapacityController {
  constructor(
    private readonly offers: OffersRepository,
    private readonly registry: TestDriveTypeRegistry,
  ) {}

  @Get()
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({
    summary: 'Capacity of every offer (or one), per region: hotTarget, hotReady, deploying, assigned, failed, limit',
    description: 'A publisher sees its own offers only (another publisher\'s offerId is 404); an operator sees all.',
  })
  @ApiQuery({ name: 'offerId', required: false })
  async capacity(@CurrentCaller() caller: Caller, @Query('offerId') offerId?: unknown): Promise<{ value: Array<CapacityRow & { offerId: string; offerState: string; type: string }> }> {
    if (offerId !== undefined && typeof offerId !== 'string') throw new ApiError(400, 'ValidationFailed', 'offerId: give one offer ID.', 'offerId', [{ code: 'InvalidField', target: 'offerId', message: 'Give one offer ID.' }]);
    const offers = offerId
      ? [checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'read')]
      : (await this.offers.list()).filter((o) => mayAccessOffer(caller, o, 'read'));
    const value: Array<CapacityRow & { offerId: string; offerState: string; type: string }> = [];
    for (const offer of offers) {
      if (!this.registry.has(offer.type)) continue;
      for (const row of await this.registry.get(offer.type).capacity(offer)) {
        value.push({ offerId: offer.id, offerState: offer.state, type: offer.type, ...row });
      }
    }
    return { value };
  }
}
