import { Controller, Get, HttpCode, Param, Put, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiProperty, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiError } from '../../../src/common/api-error';
import { ErrorBodyDoc } from '../../../src/offers/offer.dto';
import { PACKAGE_CONTENT_TYPE, PACKAGE_CONTENT_TYPES, PACKAGE_MAX_BYTES } from './package-limits';
import { PackageRevisionView, PackageService, revisionView } from './package.service';
import { Caller } from '../../../src/auth/caller';
import { CurrentCaller, Roles } from '../../../src/auth/decorators';
import { Role } from '../../../src/auth/roles';

export { PACKAGE_CONTENT_TYPES };

class RecognisedParameterDoc {
  @ApiProperty({ example: 'adminPassword' })
  name!: string;
  @ApiProperty({ example: 'securestring' })
  armType!: string;
  @ApiProperty({ example: 'password', nullable: true, enum: ['baseuri', 'sessionid', 'username', 'password'] })
  metadataType!: string | null;
  @ApiProperty({ example: false })
  hasDefault!: boolean;
}

class PackageFileDoc {
  @ApiProperty({ example: 'nested/webapp.json' })
  path!: string;
  @ApiProperty({ example: 2048 })
  bytes!: number;
}

class PackageRevisionDoc {
  @ApiProperty({ example: '6f1c2f0e-0c55-4c1b-9d67-3f0f9b3a2d11' })
  id!: string;
  @ApiProperty({ example: 1 })
  number!: number;
  @ApiProperty({ example: 'http://127.0.0.1:10000/devstoreaccount1/pkg-contoso-crm-1-1a2b3c4d/' })
  baseUri!: string;
  @ApiProperty({ type: [PackageFileDoc] })
  files!: PackageFileDoc[];
  @ApiProperty({ example: 4096 })
  totalBytes!: number;
  @ApiProperty({ type: [RecognisedParameterDoc] })
  parameters!: RecognisedParameterDoc[];
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' })
  createdAt!: string;
}

class PackageResponseDoc {
  @ApiProperty({ type: PackageRevisionDoc })
  revision!: PackageRevisionDoc;
}

/** Publisher API: the ARM template package of an offer. */
@ApiTags('packages')
@Controller('offers/:offerId/package')
export class PackagesController {
  constructor(private readonly packages: PackageService) {}

  @Put()
  @Roles(Role.Publisher)
  @HttpCode(201)
  @ApiOperation({
    summary: 'Upload the ARM template package (.zip)',
    description:
      'Raw zip body (Content-Type: application/zip) with main-template.json at its root. Validated (paths, sizes, zip bombs, ' +
      'template JSON and parameter metadata types), unzipped into a new blob container, and made the current revision.',
  })
  @ApiParam({ name: 'offerId', example: 'contoso-crm' })
  @ApiConsumes(PACKAGE_CONTENT_TYPE)
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 201, type: PackageResponseDoc })
  @ApiResponse({ status: 400, description: 'ValidationFailed: details name each refused entry or parameter and the rule.', type: ErrorBodyDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound', type: ErrorBodyDoc })
  @ApiResponse({ status: 413, description: `PayloadTooLarge (more than ${PACKAGE_MAX_BYTES} bytes)`, type: ErrorBodyDoc })
  @ApiResponse({ status: 415, description: 'UnsupportedMediaType: send application/zip', type: ErrorBodyDoc })
  async upload(@Param('offerId') offerId: string, @Req() req: Request, @CurrentCaller() caller: Caller): Promise<{ revision: PackageRevisionView }> {
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!PACKAGE_CONTENT_TYPES.includes(contentType)) {
      throw new ApiError(415, 'UnsupportedMediaType', `Send the package as a raw zip body with Content-Type: ${PACKAGE_CONTENT_TYPE} (got '${contentType || 'none'}').`, 'Content-Type');
    }
    const body = Buffer.isBuffer(req.body) ? req.body : await readRaw(req);
    const rev = await this.packages.upload(offerId, body, caller);
    return { revision: revisionView(rev) };
  }

  @Get()
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({ summary: 'Get the current package revision' })
  @ApiParam({ name: 'offerId', example: 'contoso-crm' })
  @ApiResponse({ status: 200, type: PackageResponseDoc })
  @ApiResponse({ status: 404, description: 'OfferNotFound or PackageNotFound', type: ErrorBodyDoc })
  async get(@Param('offerId') offerId: string, @CurrentCaller() caller: Caller): Promise<{ revision: PackageRevisionView }> {
    return { revision: revisionView(await this.packages.current(offerId, caller)) };
  }
}

/** Reads the body when no raw parser ran (up to PACKAGE_MAX_BYTES, else 413). */
async function readRaw(req: Request): Promise<Buffer> {
  if (req.readableEnded) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > PACKAGE_MAX_BYTES) throw new ApiError(413, 'PayloadTooLarge', `The package is larger than the limit of ${PACKAGE_MAX_BYTES} bytes.`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
