import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Roles } from '../auth/decorators';
import { Role } from '../auth/roles';
import { ApiErrorResponse, ApiZodQuery, ApiZodResponse } from '../common/openapi';
import { parseOrThrow } from '../common/validation';
import { beforeQuerySchema, nextBeforeOf } from '../common/page-cursor';
import { AUDIT_ACTIONS, auditListSchema } from './audit.dto';
import { AUDIT_MAX_LIMIT, AuditEventView, AuditService } from './audit.service';

const AuditQuerySchema = z.strictObject({
  offerId: z
    .string()
    .regex(/^[a-z0-9_-]{1,50}$/, 'offerId must be an offer ID (1-50 of a-z, 0-9, "-", "_")')
    .optional()
    .meta({ description: 'Events of this offer only.', example: 'contoso-crm' }),
  action: z.enum(AUDIT_ACTIONS, { message: `action must be one of ${AUDIT_ACTIONS.join(', ')}` }).optional().meta({ description: 'Events of this action only.', example: 'session.started' }),
  limit: z.coerce
    .number({ message: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(AUDIT_MAX_LIMIT, `limit must be at most ${AUDIT_MAX_LIMIT}`)
    .default(100)
    .meta({ description: `At most this many events, 1-${AUDIT_MAX_LIMIT}, default 100.`, example: 100 }),
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
    const q = parseOrThrow(AuditQuerySchema, query ?? {});
    const value = await this.audit.list({ offerId: q.offerId, action: q.action, before: q.before, limit: q.limit });
    return { value, nextBefore: nextBeforeOf(value, q.limit, (e) => Date.parse(e.at), (e) => e.id) };
  }
}
