import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { parseOrThrow } from '../common/validation';
import { IdempotencyKeySchema, SessionView, StartSessionSchema } from './session.dto';
import { SessionsService } from './sessions.service';
import { SessionsRepository } from './sessions.repository';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { checkOfferAccess } from '../auth/offer-access';
import { Role } from '../auth/roles';
import { OffersRepository } from '../offers/offers.repository';

const sessionExample = {
  id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  offerId: 'contoso-web',
  type: 'azure-resource-manager',
  state: 'ready',
  region: 'westeurope',
  instanceKind: 'hot',
  accessInformation: '<p>Open https://contoso-x.azurewebsites.net as admin68876</p>',
  outputs: { siteUrl: 'https://contoso-x.azurewebsites.net', userName: 'admin68876', password: '…' },
  durationHours: 2,
  requestedAt: '2026-11-21T10:00:00.000Z',
  readyAt: '2026-11-21T10:00:00.120Z',
  expiresAt: '2026-11-21T12:00:00.120Z',
  endedAt: null,
  endReason: null,
  failure: null,
};

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
      'else answers 409 NoCapacity. Idempotency-Key (per marketplace client and offer): a retry gets the first answer — the same session, or the same refusal; ' +
      'while the first request is still under way a retry waits up to 5 s, then gets 409 RequestInProgress with Retry-After.',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: '1-255 visible ASCII characters' })
  @ApiBody({
    schema: {
      type: 'object',
      required: ['customer'],
      properties: {
        customer: {
          type: 'object',
          required: ['email', 'firstName', 'lastName'],
          properties: {
            email: { type: 'string', example: 'ada@example.com' },
            firstName: { type: 'string', example: 'Ada' },
            lastName: { type: 'string', example: 'Lovelace' },
            company: { type: 'string', example: 'Analytical Engines Ltd' },
            country: { type: 'string', example: 'GB' },
          },
        },
        region: { type: 'string', example: 'westeurope' },
      },
    },
  })
  @ApiResponse({ status: 201, description: 'The session (ready at once when a hot instance was claimed)', schema: { example: sessionExample } })
  @ApiResponse({ status: 200, description: 'A retry with the Idempotency-Key of an earlier start: that session', schema: { example: sessionExample } })
  @ApiResponse({ status: 409, description: 'NoCapacity, OfferNotPublished, or RequestInProgress (a request with this Idempotency-Key is still under way; Retry-After)' })
  @ApiResponse({ status: 415, description: 'UnsupportedMediaType: send application/json' })
  @ApiResponse({ status: 422, description: 'IdempotencyKeyReused: the key was used with a different body' })
  async start(
    @Param('offerId') offerId: string,
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
    @CurrentCaller() caller: Caller,
  ): Promise<SessionView> {
    const key = idempotencyKey === undefined ? undefined : parseOrThrow(IdempotencyKeySchema, idempotencyKey, 'Idempotency-Key');
    const parsed = parseOrThrow(StartSessionSchema, body ?? {});
    const { session, created } = await this.sessions.start(offerId, parsed, key, caller);
    res.status(created ? 201 : 200);
    res.setHeader('Location', `/api/v1/sessions/${session.id}`);
    return this.sessions.view(session);
  }

  @Get('sessions/:id')
  @Roles(Role.Marketplace, Role.Publisher, Role.Operator)
  @ApiOperation({
    summary: 'Read a session (poll until state is ready)',
    description:
      'Access information (outputs, rendered instructions) only for the marketplace client that started the session (to other marketplace clients it does not exist); ' +
      'a publisher reads sessions of its own offers, an operator any, both without access information.',
  })
  @ApiResponse({ status: 200, schema: { example: sessionExample } })
  async get(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<SessionView> {
    const s = await this.sessions.getOrThrow(id, caller);
    return this.sessions.view(s, this.sessions.startedBy(s, caller));
  }

  @Delete('sessions/:id')
  @Roles(Role.Marketplace, Role.Operator)
  @HttpCode(202)
  @ApiOperation({ summary: 'End a session early; its resources are removed (state ending, then ended)' })
  async end(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<SessionView> {
    const s = await this.sessions.end(id, caller);
    return this.sessions.view(s, this.sessions.startedBy(s, caller));
  }

  @Get('offers/:offerId/sessions')
  @Roles(Role.Publisher, Role.Operator)
  @ApiOperation({ summary: "List an offer's sessions (newest first, at most 500; without access information)" })
  async list(@Param('offerId') offerId: string, @CurrentCaller() caller: Caller): Promise<{ value: SessionView[] }> {
    checkOfferAccess(caller, await this.offers.findById(offerId), offerId, 'sessions');
    const rows = await this.repo.listByOffer(offerId);
    return { value: await Promise.all(rows.map((s) => this.sessions.view(s, false))) };
  }
}
