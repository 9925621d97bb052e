import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { In, Repository } from 'typeorm';
import { ApiError, ErrorDetail } from '../../../src/common/api-error';
import { Clock, iso } from '../../../src/common/clock';
import { isUniqueViolation } from '../../../src/persistence/data-source';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { OffersRepository } from '../../../src/offers/offers.repository';
import { ARM_TEST_DRIVE_TYPE } from '../arm-config';
import { PackageRevisionEntity } from './package-revision.entity';
import { readPackageZip, DEFAULT_ZIP_LIMITS, ZipLimits } from './package-zip';
import { analyseMainTemplate } from './template-parameters';
import { countVirtualMachines, declaredResourceTypes, warmWithoutVirtualMachines } from './virtual-machines';
import { MAIN_TEMPLATE } from './package-limits';
import { containerNameFor, PackageStorage } from './package-storage';
import { Caller } from '../../../src/auth/caller';
import { checkOfferAccess } from '../../../src/auth/offer-access';
import { AuditService } from '../../../src/audit/audit.service';
import type { PackageRevisionView } from './package.dto';

/** JSON shape of a package revision in responses (its schema: package.dto.ts). */
export type { PackageRevisionView };

/**
 * ARM template packages: validation, storage (one blob container per revision) and revisions.
 * Used by the packages controller and by the ARM test drive type (preflight, revision lookup).
 */
@Injectable()
export class PackageService {
  private readonly logger = new Logger(PackageService.name);
  /** Limits applied to uploads (tests may lower them). */
  limits: ZipLimits = DEFAULT_ZIP_LIMITS;

  constructor(
    @InjectRepository(PackageRevisionEntity) private readonly revisions: Repository<PackageRevisionEntity>,
    private readonly offers: OffersRepository,
    private readonly storage: PackageStorage,
    private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  /**
   * Validates a package (see readPackageZip and analyseMainTemplate), unzips it into a new blob
   * container, records revision number previous + 1 and makes it the offer's current revision.
   * Only the offer's owner may upload (`caller` undefined = internal).
   * @throws ApiError 404 OfferNotFound (also another publisher's offer); 400 PackageNotSupported for
   *   non-ARM offers; 400 ValidationFailed listing each refused entry / parameter and the rule.
   */
  async upload(offerId: string, zip: Buffer, caller?: Caller): Promise<PackageRevisionEntity> {
    const offer = checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'manage');
    if (offer.type !== ARM_TEST_DRIVE_TYPE) {
      throw new ApiError(400, 'PackageNotSupported', `Offer '${offerId}' is a '${offer.type}' test drive; only '${ARM_TEST_DRIVE_TYPE}' offers take a template package.`);
    }
    const { files, parameters, totalBytes } = await validatePackage(zip, this.limits);
    const virtualMachines = countVirtualMachines(files);
    const regions = (offer.testDrive as { regions?: Array<{ name: string; warm?: number }> }).regions ?? [];
    const warmProblems = warmWithoutVirtualMachines(regions, virtualMachines);
    if (warmProblems.length) throw ApiError.validation(warmProblems);

    for (let attempt = 0; ; attempt++) {
      const last = await this.revisions.findOne({ where: { offerId }, order: { number: 'DESC' } });
      const number = (last?.number ?? 0) + 1;
      const containerName = containerNameFor(offerId, number);
      const baseUri = await this.storage.upload(containerName, files);
      const rev = Object.assign(new PackageRevisionEntity(), {
        id: randomUUID(),
        offerId,
        number,
        containerName,
        baseUri,
        parameters,
        files: files.map((f) => ({ path: f.path, bytes: f.data.length })),
        totalBytes,
        virtualMachines,
        resourceTypes: declaredResourceTypes(files),
        createdAt: this.clock.now(),
      } satisfies PackageRevisionEntity);
      try {
        await this.revisions.insert(rev);
      } catch (err) {
        await this.storage.deleteContainer(containerName);
        if (isUniqueViolation(err) && attempt < 3) continue; // a concurrent upload took this number
        throw err;
      }
      await this.offers.setCurrentRevision(offerId, rev.id, this.clock.now());
      this.logger.log(`Offer '${offerId}': package revision ${number} stored in container '${containerName}' (${files.length} files, ${totalBytes} bytes).`);
      await this.audit.record(caller, 'package.uploaded', { type: 'package', id: rev.id, offerId }, { number, files: files.length, totalBytes });
      return rev;
    }
  }

  /**
   * The offer's current revision, if `caller` may read the offer (owner or operator).
   * @throws ApiError 404 OfferNotFound / PackageNotFound.
   */
  async current(offerId: string, caller?: Caller): Promise<PackageRevisionEntity> {
    const offer = checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'read');
    const rev = offer.currentRevisionId ? await this.getRevision(offer.currentRevisionId) : null;
    if (!rev) throw new ApiError(404, 'PackageNotFound', `Offer '${offerId}' has no template package yet: PUT one to /offers/${offerId}/package.`);
    return rev;
  }

  /** A revision by id, or null. */
  /** Revisions by id (one query), for views of many offers. */
  async getRevisions(ids: string[]): Promise<Map<string, PackageRevisionEntity>> {
    const rows = ids.length ? await this.revisions.findBy({ id: In(ids) }) : [];
    return new Map(rows.map((r) => [r.id, r]));
  }

  getRevision(id: string): Promise<PackageRevisionEntity | null> {
    return this.revisions.findOneBy({ id });
  }

  /** Every revision of an offer, newest first. */
  listRevisions(offerId: string): Promise<PackageRevisionEntity[]> {
    return this.revisions.find({ where: { offerId }, order: { number: 'DESC' } });
  }

  /**
   * What forbids publishing an ARM offer as far as its package goes: none uploaded (or its revision
   * row is gone). Empty when fine.
   */
  async preflight(offer: OfferEntity): Promise<ErrorDetail[]> {
    const rev = offer.currentRevisionId ? await this.getRevision(offer.currentRevisionId) : null;
    if (!rev) {
      return [{ code: 'PackageMissing', target: 'package', message: `No template package: PUT a .zip with ${MAIN_TEMPLATE} at its root to /offers/${offer.id}/package.` }];
    }
    return warmWithoutVirtualMachines((offer.testDrive as { regions?: Array<{ name: string; warm?: number }> }).regions ?? [], rev.virtualMachines);
  }
}

/**
 * Checks a package without storing anything: zip structure and limits, then main-template.json and
 * its parameters.
 * @throws ApiError 400 ValidationFailed listing every problem (entry / parameter and rule).
 */
export async function validatePackage(zip: Buffer, limits: ZipLimits = DEFAULT_ZIP_LIMITS) {
  const read = await readPackageZip(zip, limits);
  if (!read.ok) throw ApiError.validation(read.problems);
  const main = read.files.find((f) => f.path === MAIN_TEMPLATE)!;
  const analysis = analyseMainTemplate(main.data);
  if (!analysis.ok) throw ApiError.validation(analysis.problems);
  return { files: read.files, totalBytes: read.totalBytes, parameters: analysis.parameters, template: analysis.template };
}

/** Revision entity -> response JSON. */
export function revisionView(rev: PackageRevisionEntity): PackageRevisionView {
  return {
    id: rev.id,
    number: rev.number,
    baseUri: rev.baseUri,
    files: rev.files,
    totalBytes: rev.totalBytes,
    // metadataType was lower-cased and checked against METADATA_TYPES when the package was analysed.
    parameters: rev.parameters as PackageRevisionView['parameters'],
    createdAt: iso(rev.createdAt)!,
  };
}
