import { Controller, Get, HttpCode, Param, Put, Req } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiError } from '../../../src/common/api-error';
import { ApiErrorResponse, ApiZodParam, ApiZodResponse } from '../../../src/common/openapi';
import { offerIdParamSchema } from '../../../src/offers/offer.dto';
import { packageResponseSchema } from './package.dto';
import { PACKAGE_CONTENT_TYPE, PACKAGE_CONTENT_TYPES, PACKAGE_MAX_BYTES } from './package-limits';
import { PackageRevisionView, PackageService, revisionView } from './package.service';
import { Caller } from '../../../src/auth/caller';
import { CurrentCaller, Roles } from '../../../src/auth/decorators';
import { Role } from '../../../src/auth/roles';

export { PACKAGE_CONTENT_TYPES };

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
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiConsumes(...PACKAGE_CONTENT_TYPES)
  @ApiBody({ schema: { type: 'string', format: 'binary' }, description: `The zip archive, at most ${PACKAGE_MAX_BYTES} bytes.` })
  @ApiZodResponse(201, packageResponseSchema, 'Stored: the new current revision.')
  @ApiErrorResponse(
    400,
    "ValidationFailed: details name each refused entry or parameter and the rule (paths, sizes, zip bombs, template JSON, metadata types); PackageNotSupported: the offer is not an ARM test drive.",
  )
  @ApiErrorResponse(404, "OfferNotFound: no such offer, or another publisher's (to a publisher it does not exist).")
  @ApiErrorResponse(413, `PayloadTooLarge: more than ${PACKAGE_MAX_BYTES} bytes.`)
  @ApiErrorResponse(415, `UnsupportedMediaType: send Content-Type: ${PACKAGE_CONTENT_TYPE}.`)
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
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiZodResponse(200, packageResponseSchema, 'The current revision.')
  @ApiErrorResponse(404, "OfferNotFound (also another publisher's offer) or PackageNotFound (none uploaded yet).")
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
