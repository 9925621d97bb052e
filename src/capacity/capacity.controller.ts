import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { OffersRepository } from '../offers/offers.repository';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { CapacityRow } from '../test-drives/test-drive-type';

/** Operators' view: per offer and region, targets vs. what is ready, deploying, assigned and failed. */
@ApiTags('capacity')
@Controller('capacity')
export class CapacityController {
  constructor(
    private readonly offers: OffersRepository,
    private readonly registry: TestDriveTypeRegistry,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Capacity of every offer (or one), per region: hotTarget, hotReady, deploying, assigned, failed, limit' })
  @ApiQuery({ name: 'offerId', required: false })
  async capacity(@Query('offerId') offerId?: string): Promise<{ value: Array<CapacityRow & { offerId: string; offerState: string; type: string }> }> {
    const offers = offerId ? [await this.offers.getOrThrow(offerId)] : await this.offers.list();
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
