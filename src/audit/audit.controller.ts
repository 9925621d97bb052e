import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Roles } from '../auth/decorators';
import { Role } from '../auth/roles';
import { ApiErrorResponse, ApiZodQuery, ApiZodResponse } from '../common/openapi';
import { pageLimitSchema, parseQueryOrThrow } from '../common/validation';
import { OFFER_ID_PATTERN } from '../offers/offer.dto';
import { beforeQuerySchema, nextBeforeOf } from '../common/page-cursor';
import { AUDIT_ACTIONS, auditListSchema } from './audit.dto';
import { AUDIT_MAX_LIMIT, AuditEventView, AuditService } from './audit.service';

const AuditQuerySchema = z.strictObject({
  offerId: z
    .string()
    .regex(OFFER_ID_PATTERN, 'offerId must be an offer ID (1-50 of a-z, 0-9, "-", "_")')
    .optional()
    .meta({ description: 'Events of this offer only.', example: 'contoso-crm' }),
  action: z.enum(AUDIT_ACTIONS, { message: `action must be one of ${AUDIT_ACTIONS.join(', ')}` }).optional().meta({ description: 'Events of this action only.', example: 'session.started' }),
  limit: pageLimitSchema(AUDIT_MAX_LIMIT, 100, 'Events'),
  before: beforeQuerySchema.optional(),
});

/** Operators: the audit trail of changes (who created, updated, published, started, ended what). */
@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Roles(Role.Operator)
  @ApiOperation({ summary: 'Audit trail, newest first (operators)' })
  @ApiZodQuery(AuditQuerySchema)
  @ApiZodResponse(200, auditListSchema, 'A page of audit events, newest first, with `nextBefore` for the next one.')
  @ApiErrorResponse(400, 'ValidationFailed: offerId, action, limit or before breaks its rule, or an unknown query parameter.')
  async list(@Query() query: unknown): Promise<{ value: AuditEventView[]; nextBefore: string | null }> {
    const q = parseQueryOrThrow(AuditQuerySchema, query);
    const value = await this.audit.list({ offerId: q.offerId, action: q.action, before: q.before, limit: q.limit });
    return { value, nextBefore: nextBeforeOf(value, q.limit, (e) => Date.parse(e.at), (e) => e.id) };
  }
}
