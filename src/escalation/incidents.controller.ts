import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { apiComponent, ApiErrorResponse, ApiZodQuery, ApiZodResponse } from '../common/openapi';
import { pageLimitSchema, parseQueryOrThrow } from '../common/validation';
import { OFFER_ID_PATTERN } from '../offers/offer.dto';
import { beforeQuerySchema, nextBeforeOf } from '../common/page-cursor';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { Role } from '../auth/roles';
import { checkOfferAccess } from '../auth/offer-access';
import { OffersRepository } from '../offers/offers.repository';
import { CapacityService } from '../capacity/capacity.service';
import { INCIDENT_KINDS, IncidentEntity, IncidentKind } from './incident.entity';
import { IncidentsRepository } from './incidents.repository';

/** One incident as GET /incidents returns it. */
export const IncidentViewSchema = apiComponent(
  'Incident',
  z.object({
    id: z.string(),
    offerId: z.string(),
    kind: z.enum(INCIDENT_KINDS as [string, ...string[]]).meta({ description: 'pool_backoff, offer_degraded, deprovisioning_failed, client_secret_expiring, lead_delivery_failing.' }),
    subject: z.string().nullable().meta({ description: 'The region (pool_backoff); null otherwise.', example: 'westeurope' }),
    state: z.enum(['open', 'resolved']),
    summary: z.string().meta({ example: 'Region westeurope of offer contoso-crm: 3 deployments failed in a row; new hot instances back off. Azure error QuotaExceeded: …' }),
    details: z.record(z.string(), z.unknown()).nullable(),
    openedAt: z.string(),
    resolvedAt: z.string().nullable(),
  }),
);
export type IncidentView = z.infer<typeof IncidentViewSchema>;
export const IncidentListSchema = apiComponent(
  'IncidentList',
  z.object({
    value: z.array(IncidentViewSchema),
    nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for the next (older) page (`<openedAt>~<incident id>`); null at the end.' }),
  }),
);

/** Query of GET /incidents. */
export const IncidentQuerySchema = z.strictObject({
  offerId: z
    .string()
    .regex(OFFER_ID_PATTERN, 'offerId must be an offer ID (1-50 of a-z, 0-9, "-", "_")')
    .optional()
    .meta({ description: 'One offer only.', example: 'contoso-crm' }),
  state: z.enum(['open', 'resolved'], { message: 'state must be open or resolved' }).optional().meta({ description: 'Only incidents in this state.' }),
  kind: z
    .enum(INCIDENT_KINDS as [IncidentKind, ...IncidentKind[]], { message: `kind must be one of ${INCIDENT_KINDS.join(', ')}` })
    .optional()
    .meta({ description: 'Only incidents of this kind.', example: 'pool_backoff' }),
  limit: pageLimitSchema(500, 100, 'Incidents'),
  before: beforeQuerySchema.optional(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The API view of an incident. */
export function incidentView(i: IncidentEntity): IncidentView {
  return { id: i.id, offerId: i.offerId, kind: i.kind, subject: i.subject || null, state: i.state, summary: i.summary, details: i.details, openedAt: iso(i.openedAt)!, resolvedAt: iso(i.resolvedAt) };
}

/** Escalation incidents (issue 11): operators see all, publishers their own offers'. */
@ApiTags('incidents')
@Controller('incidents')
export class IncidentsController {
  constructor(private readonly incidents: IncidentsRepository, private readonly offers: OffersRepository, private readonly capacity: CapacityService) {}

  @Get()
  @ApiOperation({ summary: 'Incidents (newest first): pools backing off, degraded offers, failed deprovisioning, expiring secrets, failing leads', description: "A publisher sees its own offers' incidents only." })
  @ApiZodResponse(200, IncidentListSchema, 'A page of incidents, newest first (openedAt), with `nextBefore` for the next one.')
  @ApiErrorResponse(404, 'OfferNotFound: offerId names no offer the caller may read.')
  @ApiErrorResponse(400, 'ValidationFailed: a query parameter breaks its rule.')
  @ApiZodQuery(IncidentQuerySchema)
  @Roles(Role.Publisher, Role.Operator)
  async list(@Query() query: unknown, @CurrentCaller() caller: Caller): Promise<{ value: IncidentView[]; nextBefore: string | null }> {
    const q = parseQueryOrThrow(IncidentQuerySchema, query);
    const offerIds = q.offerId
      ? [checkOfferAccess(caller, await this.offers.findById(q.offerId), q.offerId, 'read').id]
      : caller.isOperator
        ? undefined
        : (await this.capacity.readableOffers(caller)).map((o) => o.id);
    const rows = await this.incidents.list({ offerIds, state: q.state, kind: q.kind, before: q.before, limit: q.limit });
    return { value: rows.map(incidentView), nextBefore: nextBeforeOf(rows, q.limit, (i) => i.openedAt, (i) => i.id) };
  }
}
