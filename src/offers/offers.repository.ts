import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ApiError } from '../common/api-error';
import { OfferEntity, OfferState } from './offer.entity';

/** Persistence of offers (TypeORM). */
@Injectable()
export class OffersRepository {
  constructor(@InjectRepository(OfferEntity) private readonly repo: Repository<OfferEntity>) {}

  /** The offer, or null. */
  findById(id: string): Promise<OfferEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** The offer. @throws ApiError 404 `OfferNotFound`. */
  async getOrThrow(id: string): Promise<OfferEntity> {
    const offer = await this.findById(id);
    if (!offer) throw ApiError.notFound('Offer', id);
    return offer;
  }

  /** Every offer, by id. */
  list(): Promise<OfferEntity[]> {
    return this.repo.find({ order: { id: 'ASC' } });
  }

  /** Offers in one of `states` (e.g. ['published'] for the pool reconciler), by id. */
  listByState(...states: OfferState[]): Promise<OfferEntity[]> {
    return this.repo.find({ where: states.map((state) => ({ state })), order: { id: 'ASC' } });
  }

  /** Inserts or updates (bumps `version`). */
  save(offer: OfferEntity): Promise<OfferEntity> {
    return this.repo.save(offer);
  }

  /** Inserts a new offer. @throws the driver's unique-violation error when the id exists. */
  insert(offer: OfferEntity): Promise<OfferEntity> {
    return this.repo.manager.transaction(async (m) => {
      await m.insert(OfferEntity, offer as QueryDeepPartialEntity<OfferEntity>);
      return m.findOneByOrFail(OfferEntity, { id: offer.id });
    });
  }

  /** Sets the package revision new instances deploy from. */
  async setCurrentRevision(id: string, revisionId: string, now: number): Promise<void> {
    await this.repo.update({ id }, { currentRevisionId: revisionId, updatedAt: now });
  }

  async delete(id: string): Promise<void> {
    await this.repo.delete({ id });
  }
}
