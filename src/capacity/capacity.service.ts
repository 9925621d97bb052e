import { Injectable } from '@nestjs/common';
import { OffersRepository } from '../offers/offers.repository';
import { OfferEntity } from '../offers/offer.entity';
import { LeadsRepository } from '../leads/leads.repository';
import { SessionsRepository } from '../sessions/sessions.repository';
import { TestDriveTypeRegistry } from '../test-drives/test-drive-type.registry';
import { Caller } from '../auth/caller';
import { mayAccessOffer } from '../auth/offer-access';
import type { CapacityRowView } from './capacity.dto';

/**
 * Capacity of offers from the database (never one process's view): each type's rows
 * (TestDriveType.capacity: ARM one per region) with the offer's id, state, type and lead counts.
 * Used by GET /capacity, the metrics gauges and the dashboard, so all three show the same numbers.
 */
@Injectable()
export class CapacityService {
  constructor(
    private readonly offers: OffersRepository,
    private readonly registry: TestDriveTypeRegistry,
    private readonly leads: LeadsRepository,
    private readonly sessions: SessionsRepository,
  ) {}

  /** Every offer `caller` may read (all for an operator or the system; a publisher its own). */
  async readableOffers(caller: Caller): Promise<OfferEntity[]> {
    return (await this.offers.list()).filter((o) => mayAccessOffer(caller, o, 'read'));
  }

  /** Capacity rows of `offers`, in their order (offers of an unknown type are skipped). */
  async rows(offers: readonly OfferEntity[]): Promise<CapacityRowView[]> {
    const value: CapacityRowView[] = [];
    const leadCounts = await this.leads.counts();
    const queued = await this.sessions.queuedByOffer();
    for (const offer of offers) {
      if (!this.registry.has(offer.type)) continue;
      const l = leadCounts.get(offer.id) ?? { pending: 0, failed: 0 };
      for (const row of await this.registry.get(offer.type).capacity(offer)) {
        value.push({ offerId: offer.id, offerState: offer.state, type: offer.type, ...row, queued: queued.get(offer.id) ?? 0, leadsPending: l.pending, leadsFailed: l.failed });
      }
    }
    return value;
  }
}
