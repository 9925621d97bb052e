import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiErrorResponse, ApiJsonBodyErrors, ApiUnavailableResponse, ApiZodBody, ApiZodParam, ApiZodQuery, ApiZodResponse, jsonSchemaOf, RETRY_AFTER_HEADER } from '../common/openapi';
import { logOnCompletion } from '../common/logging';
import { parseOrThrow, parseQueryOrThrow } from '../common/validation';
import { nextBeforeOf } from '../common/page-cursor';
import { IdempotencyKeySchema, sessionIdParamSchema, SessionListQuerySchema, sessionListSchema, SessionView, sessionViewSchema, StartSessionSchema } from './session.dto';
import { offerIdParamSchema } from '../offers/offer.dto';
import { SessionsService } from './sessions.service';
import { SessionsRepository } from './sessions.repository';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { checkOfferAccess } from '../auth/offer-access';
import { Role } from '../auth/roles';
import { OffersRepository } from '../offers/offers.repository';

const OFFER_NOT_FOUND = "OfferNotFound: no such offer, or another publisher's (to a publisher it does not exist).";
const SESSION_NOT_FOUND =
  "SessionNotFound: no such session, or one the caller may not see (another marketplace client's, or a session of another publisher's offer).";
const LOCATION_HEADER = { Location: { description: 'URL of the session: poll it until state is ready.', schema: { type: 'string' as const } } };

/**
 * Marketplace API: start, poll and end test drive sessions. Publishers read the sessions of their own
 * offers (without access information); operators read any and may end any.
 */
@ApiTags('sessions')
@Controller()
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly repo: SessionsRepository,
    private readonly offers: OffersRepository,
  ) {}

  @Post('offers/:offerId/sessions')
  @Roles(Role.Marketplace)
  @ApiOperation({
    summary: 'Start a test drive',
    description:
      'Claims a ready hot instance (the requested region, else any), else starts a cold deployment within the limit, ' +
      'else answers 409 NoCapacity with Retry-After (or, with "whenFull": "queue", 202 and a queued session served first in, first out). Idempotency-Key (per marketplace client and offer): a retry gets the first answer — the same session, or the same refusal; ' +
      'while the first request is still under way a retry waits up to 5 s, then gets 409 RequestInProgress with Retry-After.',
  })
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: '1-255 visible ASCII characters, per marketplace client and offer: a retry with the same key and body gets the first answer (kept 24 h).',
    schema: jsonSchemaOf(IdempotencyKeySchema),
  })
  @ApiZodBody(StartSessionSchema)
  @ApiZodResponse(201, sessionViewSchema, 'The session (ready at once when a hot instance was claimed; else provisioning: poll it).', { headers: LOCATION_HEADER })
  @ApiZodResponse(200, sessionViewSchema, 'A retry with the Idempotency-Key of an earlier start: that session.', { headers: LOCATION_HEADER })
  @ApiZodResponse(202, sessionViewSchema, 'whenFull=queue and nothing free: the session waits, state queued, with queuePosition and estimatedReadyAt (poll it, or get callbacks).', { headers: LOCATION_HEADER })
  @ApiErrorResponse(
    400,
    'ValidationFailed: details name each field and rule (customer fields, region, Idempotency-Key; RegionNotOffered: the offer has no such region); InvalidJson: the body is not JSON.',
  )
  @ApiErrorResponse(404, OFFER_NOT_FOUND)
  @ApiErrorResponse(
    409,
    'NoCapacity: nothing free right now, try again later; OfferNotPublished: the test drive accepts no sessions; ' +
      'RequestInProgress: a request with this Idempotency-Key is still under way (Retry-After); QueueFull: whenFull=queue but QUEUE_MAX_LENGTH requests already wait. ' +
      'NoCapacity carries Retry-After: the estimated seconds until a start would succeed. A retry of a refused start gets the same refusal.',
    { headers: RETRY_AFTER_HEADER },
  )
  @ApiJsonBodyErrors()
  @ApiErrorResponse(422, 'IdempotencyKeyReused: the key was used with a different body.')
  @ApiUnavailableResponse("LicensesUnavailable: the publisher's Dynamics 365 licenses could not be checked; DependencyUnavailable: an Azure service did not answer; OfferChanging: the offer changed under each of 3 attempts to start (Retry-After)")
  async start(
    @Param('offerId') offerId: string,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
    @CurrentCaller() caller: Caller,
  ): Promise<SessionView> {
    const key = idempotencyKey === undefined ? undefined : parseOrThrow(IdempotencyKeySchema, idempotencyKey, 'Idempotency-Key');
    const parsed = parseOrThrow(StartSessionSchema, body ?? {});
    const { session, created, view } = await this.sessions.start(offerId, parsed, key, caller);
    res.status(!created ? 200 : session.state === 'queued' ? 202 : 201);
    res.setHeader('Location', `/api/v1/sessions/${session.id}`);
    if (created) logOnCompletion(res, 'session started', { sessionId: session.id, offerId, state: view.state, region: session.region, kind: session.instanceKind });
    return view;
  }

  @Get('sessions/:id')
  @Roles(Role.Marketplace, Role.Publisher, Role.Operator)
  @ApiOperation({
    summary: 'Read a session (poll until state is ready)',
    description:
      'Access information (outputs, rendered instructions) only for the marketplace client that started the session (to other marketplace clients it does not exist); ' +
      'a publisher reads sessions of its own offers, an operator any, both without access information.',
  })
  @ApiZodParam('id', sessionIdParamSchema)
  @ApiZodResponse(200, sessionViewSchema, 'The session.')
  @ApiErrorResponse(404, SESSION_NOT_FOUND)
  async get(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<SessionView> {
    const s = await this.sessions.getOrThrow(id, caller);
    return this.sessions.view(s, this.sessions.startedBy(s, caller), undefined, this.sessions.customerVisibleTo(s, caller));
  }

  @Delete('sessions/:id')
  @Roles(Role.Marketplace, Role.Operator)
  @HttpCode(202)
  @ApiOperation({ summary: 'End a session early; its resources are removed (state ending, then ended)', description: 'Idempotent: ending an ended session returns it.' })
  @ApiZodParam('id', sessionIdParamSchema)
  @ApiZodResponse(202, sessionViewSchema, 'Accepted: the session, ending (teardown continues; poll until ended).')
  @ApiErrorResponse(404, SESSION_NOT_FOUND)
  async end(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<SessionView> {
    const s = await this.sessions.end(id, caller);
    return this.sessions.view(s, this.sessions.startedBy(s, caller), undefined, this.sessions.customerVisibleTo(s, caller));
  }

  @Post('sessions/:id/acknowledge-deprovisioning')
  @Roles(Role.Publisher, Role.Operator)
  @HttpCode(200)
  @ApiOperation({
    summary: "Acknowledge a session's failed deprovisioning (what it left behind is dealt with)",
    description:
      "When a session's teardown gave up after every attempt (deprovisioningFailedAt), resources may be left behind and the offer has an open " +
      'deprovisioning_failed incident until each such session is acknowledged. A publisher acknowledges sessions of its own offers, an operator any. ' +
      'Idempotent: a failure acknowledged already is answered as it is. Audited (session.deprovisioning-acknowledged).',
  })
  @ApiZodParam('id', sessionIdParamSchema)
  @ApiZodResponse(200, sessionViewSchema, 'The session, deprovisioningAcknowledgedAt set.')
  @ApiErrorResponse(404, SESSION_NOT_FOUND)
  @ApiErrorResponse(409, 'DeprovisioningNotFailed: the session\'s deprovisioning did not give up; there is nothing to acknowledge.')
  async acknowledgeDeprovisioning(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<SessionView> {
    const s = await this.sessions.acknowledgeDeprovisioning(id, caller);
    return this.sessions.view(s, false, undefined, this.sessions.customerVisibleTo(s, caller));
  }

  @Get('offers/:offerId/sessions')
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({ summary: "List an offer's sessions, a page at a time (newest first; without access information)" })
  @ApiZodParam('offerId', offerIdParamSchema)
  @ApiZodQuery(SessionListQuerySchema)
  @ApiZodResponse(200, sessionListSchema, "A page of the offer's sessions, with `nextBefore` for the next one.")
  @ApiErrorResponse(400, 'ValidationFailed: a query parameter breaks its rule, or is not one of state, limit, before.')
  @ApiErrorResponse(404, OFFER_NOT_FOUND)
  async list(@Param('offerId') offerId: string, @Query() query: unknown, @CurrentCaller() caller: Caller): Promise<{ value: SessionView[]; nextBefore: string | null }> {
    checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'sessions');
    const q = parseQueryOrThrow(SessionListQuerySchema, query);
    const rows = await this.repo.page(offerId, { state: q.state, limit: q.limit, before: q.before });
    return { value: await Promise.all(rows.map((s) => this.sessions.view(s, false, undefined, this.sessions.customerVisibleTo(s, caller)))), nextBefore: nextBeforeOf(rows, q.limit, (s) => s.requestedAt, (s) => s.id) };
  }
}
