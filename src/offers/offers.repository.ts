import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ApiError } from '../common/api-error';
import { OfferEntity, OfferHealth, OfferState } from './offer.entity';

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

  /**
   * Writes the offer's mutable fields (alias, state, testDrive, deployment, client secret reference,
   * package revision, health, publishedAt, updatedAt) if its row still has `expectedVersion` (the
   * version this request read): `UPDATE offer SET ..., version = version + 1 WHERE id = :id AND
   * version = :expected`. Never inserts, so an offer deleted meanwhile stays deleted.
   * On success `offer.version` becomes the new version.
   * @returns false when no row matched: the offer changed or was deleted since it was read.
   */
  async update(offer: OfferEntity, expectedVersion: number): Promise<boolean> {
    const fields: Partial<OfferEntity> = {
      alias: offer.alias,
      state: offer.state,
      testDrive: offer.testDrive,
      deployment: offer.deployment,
      clientSecretName: offer.clientSecretName,
      clientSecretVersion: offer.clientSecretVersion,
      currentRevisionId: offer.currentRevisionId,
      publishedAt: offer.publishedAt,
      updatedAt: offer.updatedAt,
      ...(offer.health !== undefined ? { health: offer.health } : {}),
      ...(offer.leads !== undefined ? { leads: offer.leads } : {}),
      ...(offer.escalation !== undefined ? { escalation: offer.escalation } : {}),
    };
    const applied = await this.conditionalUpdate(offer.id, expectedVersion, fields);
    if (applied) offer.version = expectedVersion + 1;
    return applied;
  }

  /**
   * Stores the result of a periodic health check (TestDriveType.checkHealth) if the offer still has
   * `expectedVersion` (the version the check ran against); bumps the version. Never inserts.
   * @returns false when the offer changed or was deleted meanwhile: the result is dropped (it may
   *   describe settings that no longer apply); the next check runs on the current offer.
   */
  updateHealth(id: string, health: OfferHealth, expectedVersion: number): Promise<boolean> {
    return this.conditionalUpdate(id, expectedVersion, { health });
  }

  /** Inserts a new offer. @throws the driver's unique-violation error when the id exists. */
  insert(offer: OfferEntity): Promise<OfferEntity> {
    return this.repo.manager.transaction(async (m) => {
      await m.insert(OfferEntity, offer as QueryDeepPartialEntity<OfferEntity>);
      return m.findOneByOrFail(OfferEntity, { id: offer.id });
    });
  }

  /**
   * Sets the package revision new instances deploy from (a targeted column write whatever the version,
   * so a concurrent PUT's fields stay); bumps `version`, so a request that read the offer before (e.g.
   * a publish whose preflight checked the previous package) loses its conditional write. Never inserts.
   * @returns false when the offer does not exist (deleted meanwhile).
   */
  async setCurrentRevision(id: string, revisionId: string, now: number): Promise<boolean> {
    const r = await this.repo
      .createQueryBuilder()
      .update(OfferEntity)
      .set({ currentRevisionId: revisionId, updatedAt: now, version: () => `${this.versionColumn()} + 1` })
      .where({ id })
      .execute();
    return (r.affected ?? 0) > 0;
  }

  /**
   * Deletes the offer if its row still has `expectedVersion` (`DELETE ... WHERE id AND version`), so a
   * change made since it was read (e.g. a publish) is never deleted unseen.
   * @returns false when no row matched: the offer changed or is already gone.
   */
  async delete(id: string, expectedVersion: number): Promise<boolean> {
    const r = await this.repo.createQueryBuilder().delete().from(OfferEntity).where({ id, version: expectedVersion }).execute();
    return (r.affected ?? 0) > 0;
  }

  private async conditionalUpdate(id: string, expectedVersion: number, fields: Partial<OfferEntity>): Promise<boolean> {
    const r = await this.repo
      .createQueryBuilder()
      .update(OfferEntity)
      .set({ ...(fields as QueryDeepPartialEntity<OfferEntity>), version: () => `${this.versionColumn()} + 1` })
      .where({ id, version: expectedVersion })
      .execute();
    return (r.affected ?? 0) > 0;
  }

  private versionColumn(): string {
    return this.repo.manager.connection.driver.escape('version');
  }
}
