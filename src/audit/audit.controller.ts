import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Roles } from '../auth/decorators';
import { Role } from '../auth/roles';
import { parseOrThrow } from '../common/validation';
import { AUDIT_MAX_LIMIT, AuditEventView, AuditService } from './audit.service';

const AuditQuerySchema = z.strictObject({
  offerId: z.string().regex(/^[a-z0-9_-]{1,50}$/, 'offerId must be an offer ID (1-50 of a-z, 0-9, "-", "_")').optional(),
  limit: z.coerce
    .number({ message: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(AUDIT_MAX_LIMIT, `limit must be at most ${AUDIT_MAX_LIMIT}`)
    .default(100),
});

/** Operators: the audit trail of changes (who created, updated, published, started, ended what). */
@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Roles(Role.Operator)
  @ApiOperation({ summary: 'Audit trail, newest first (operators)' })
  @ApiQuery({ name: 'offerId', required: false })
  @ApiQuery({ name: 'limit', required: false, description: `1-${AUDIT_MAX_LIMIT}, default 100` })
  async list(@Query() query: unknown): Promise<{ value: AuditEventView[] }> {
    const q = parseOrThrow(AuditQuerySchema, query ?? {});
    return { value: await this.audit.list({ offerId: q.offerId, limit: q.limit }) };
  }
}
