import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiError } from '../common/api-error';
import { ApiErrorResponse, ApiZodQuery, ApiZodResponse } from '../common/openapi';
import { parseQueryOrThrow } from '../common/validation';
import { nextBeforeOf } from '../common/page-cursor';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { checkOfferAccess, ownsOffer } from '../auth/offer-access';
import { Role } from '../auth/roles';
import { AuditService } from '../audit/audit.service';
import { OffersRepository } from '../offers/offers.repository';
import { LeadListSchema, LeadQuerySchema, LeadView, leadView, LeadViewSchema } from './leads.dto';
import { LeadsService } from './leads.service';

/** Publisher API: an offer's leads and their delivery (issue 10). Operators read them without contact details. */
@ApiTags('leads')
@Controller('offers/:offerId/leads')
export class LeadsController {
  constructor(
    private readonly leads: LeadsService,
    private readonly offers: OffersRepository,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({ summary: "List an offer's leads (newest first; state, attempts, last error, deliveredAt)", description: 'Contact details only for the owning publisher.' })
  @ApiZodQuery(LeadQuerySchema)
  @ApiZodResponse(200, LeadListSchema, 'Leads, newest first, with `nextBefore` for the next page.')
  @ApiErrorResponse(400, 'ValidationFailed: a query parameter breaks its rule.')
  @ApiErrorResponse(404, 'OfferNotFound')
  async list(@Param('offerId') offerId: string, @Query() query: unknown, @CurrentCaller() caller: Caller): Promise<{ value: LeadView[]; nextBefore: string | null }> {
    const offer = checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'read');
    const q = parseQueryOrThrow(LeadQuerySchema, query);
    const rows = await this.leads.list(offerId, { state: q.state, limit: q.limit, before: q.before });
    const withContact = caller.isSystem || ownsOffer(caller, offer);
    return { value: rows.map((l) => leadView(l, withContact)), nextBefore: nextBeforeOf(rows, q.limit, (l) => l.createdAt, (l) => l.id) };
  }

  @Post(':leadId/redeliver')
  @Roles(Role.Publisher)
  @HttpCode(202)
  @ApiOperation({ summary: 'Deliver a lead again (it goes back to the queue, due now)' })
  @ApiZodResponse(202, LeadViewSchema, 'The lead, pending again.')
  @ApiErrorResponse(404, 'OfferNotFound or LeadNotFound')
  async redeliver(@Param('offerId') offerId: string, @Param('leadId') leadId: string, @CurrentCaller() caller: Caller): Promise<LeadView> {
    checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'manage');
    const lead = await this.leads.redeliver(offerId, leadId);
    if (!lead) throw ApiError.notFound('Lead', leadId);
    await this.audit.record(caller, 'lead.redelivered', { type: 'lead', id: leadId, offerId });
    return leadView(lead, true);
  }
}
