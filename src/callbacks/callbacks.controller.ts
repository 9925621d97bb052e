import { Body, Controller, Delete, Get, HttpCode, Post, Put, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { z } from 'zod';
import { ApiError } from '../common/api-error';
import { apiComponent, ApiErrorResponse, ApiJsonBodyErrors, ApiZodBody, ApiZodResponse } from '../common/openapi';
import { httpsUrlSchema, parseOrThrow } from '../common/validation';
import { Caller } from '../auth/caller';
import { CurrentCaller, Roles } from '../auth/decorators';
import { Role } from '../auth/roles';
import { AuditService } from '../audit/audit.service';
import { CALLBACK_EVENTS } from './callback.entity';
import { CallbackRegistration, CallbacksService, DEFAULT_PREVIOUS_SECRET_HOURS, MAX_PREVIOUS_SECRET_HOURS } from './callbacks.service';

/** PUT /notifications body. */
export const CallbackRegistrationBodySchema = apiComponent(
  'NotificationRegistrationBody',
  z
    .strictObject({
      url: httpsUrlSchema('url')
        .meta({ description: 'Where events are POSTed (public https host).', example: 'https://marketplace.example.com/testdrive/events' }),
      events: z
        .array(z.enum(CALLBACK_EVENTS, { message: `each event must be one of ${CALLBACK_EVENTS.join(', ')}` }))
        .min(1, 'events must name at least one event')
        .max(CALLBACK_EVENTS.length)
        .meta({ description: 'Events to receive.', example: ['session.ready', 'session.ended', 'session.failed', 'session.queued.position'] }),
    })
    .meta({ description: "The calling marketplace client's callback: URL and events." }),
);

/** A registration in answers. */
export const CallbackRegistrationSchema = apiComponent(
  'NotificationRegistration',
  z.object({
    url: z.string(),
    events: z.array(z.enum(CALLBACK_EVENTS)),
    createdAt: z.string(),
    updatedAt: z.string(),
    previousSecretExpiresAt: z
      .string()
      .nullable()
      .meta({ description: 'Until when the secret before the last rotation still signs deliveries (a second v1 in X-TestDrive-Signature); null when it no longer does.' }),
    secret: z
      .string()
      .optional()
      .meta({ description: 'HMAC-SHA256 key of X-TestDrive-Signature: only in the answer of the PUT that created the registration and of a rotation. A PUT that replaces URL or events keeps the secret.' }),
  }),
);

/** POST /notifications/rotate-secret body (optional). */
export const RotateSecretBodySchema = apiComponent(
  'NotificationSecretRotationBody',
  z
    .strictObject({
      previousSecretHours: z
        .number({ message: `previousSecretHours must be a number of whole hours (0-${MAX_PREVIOUS_SECRET_HOURS})` })
        .int(`previousSecretHours must be a whole number of hours (0-${MAX_PREVIOUS_SECRET_HOURS})`)
        .min(0, `previousSecretHours must be 0-${MAX_PREVIOUS_SECRET_HOURS} hours`)
        .max(MAX_PREVIOUS_SECRET_HOURS, `previousSecretHours must be 0-${MAX_PREVIOUS_SECRET_HOURS} hours`)
        .optional()
        .meta({
          description: `How long the current secret goes on signing beside the new one, in whole hours (default ${DEFAULT_PREVIOUS_SECRET_HOURS}; 0: it stops at once).`,
          example: DEFAULT_PREVIOUS_SECRET_HOURS,
        }),
    })
    .meta({ description: 'How the rotation treats the secret it replaces.' }),
);

/**
 * Marketplace callbacks (issue 12): the calling marketplace client registers one URL for session events
 * of the sessions it started. Signed JSON, at least once, with an event id (docs/operations.md "Marketplace callbacks").
 */
@ApiTags('notifications')
@Controller('notifications')
@Roles(Role.Marketplace)
export class CallbacksController {
  constructor(
    private readonly callbacks: CallbacksService,
    private readonly audit: AuditService,
  ) {}

  /** The audit target of the caller's registration (one per marketplace client), details without the URL (it may carry a key). */
  private async record(caller: Caller, action: 'notifications.registered' | 'notifications.updated' | 'notifications.removed' | 'notifications.secret-rotated', details?: Record<string, unknown>): Promise<void> {
    await this.audit.record(caller, action, { type: 'notifications', id: caller.clientId, offerId: null }, details);
  }

  @Put()
  @ApiOperation({ summary: 'Register the callback of the calling marketplace client (its signing secret is shown once), or replace its URL and events (the secret is kept)' })
  @ApiZodBody(CallbackRegistrationBodySchema)
  @ApiZodResponse(201, CallbackRegistrationSchema, 'Registered; `secret` is shown only here.')
  @ApiZodResponse(200, CallbackRegistrationSchema, 'Replaced URL and events; the signing secret is unchanged (no `secret`; POST /notifications/rotate-secret changes it).')
  @ApiErrorResponse(400, 'ValidationFailed: url or events break their rules; OutboundUrlRefused: the URL is not a public https host.')
  @ApiJsonBodyErrors()
  async register(@Body() body: unknown, @CurrentCaller() caller: Caller, @Res({ passthrough: true }) res: Response): Promise<CallbackRegistration> {
    const b = parseOrThrow(CallbackRegistrationBodySchema, body ?? {});
    const refused = await this.callbacks.checkUrl(b.url);
    if (refused.length) throw ApiError.validation(refused);
    const { registration, created } = await this.callbacks.register(caller, b.url, b.events);
    await this.record(caller, created ? 'notifications.registered' : 'notifications.updated', { events: registration.events });
    res.status(created ? 201 : 200);
    return registration;
  }

  @Post('rotate-secret')
  @HttpCode(200)
  @ApiOperation({ summary: 'Issue a new signing secret; the current one goes on signing beside it for previousSecretHours' })
  @ApiZodBody(RotateSecretBodySchema)
  @ApiZodResponse(200, CallbackRegistrationSchema, 'Rotated; the new `secret` is shown only here.')
  @ApiErrorResponse(400, 'ValidationFailed: previousSecretHours is not a whole number of hours from 0 to 72.')
  @ApiErrorResponse(404, 'NotificationsNotFound: no callback is registered.')
  @ApiErrorResponse(409, 'ConcurrentChange: other changes of the registration kept winning; try again.')
  @ApiJsonBodyErrors()
  async rotateSecret(@Body() body: unknown, @CurrentCaller() caller: Caller): Promise<CallbackRegistration> {
    const b = parseOrThrow(RotateSecretBodySchema, body ?? {});
    const r = await this.callbacks.rotateSecret(caller, b.previousSecretHours ?? DEFAULT_PREVIOUS_SECRET_HOURS);
    if (!r) throw new ApiError(404, 'NotificationsNotFound', 'No callback is registered for this client.');
    await this.record(caller, 'notifications.secret-rotated', { previousSecretExpiresAt: r.previousSecretExpiresAt });
    return r;
  }

  @Get()
  @ApiOperation({ summary: 'The callback of the calling marketplace client (without its secret)' })
  @ApiZodResponse(200, CallbackRegistrationSchema, 'The registration.')
  @ApiErrorResponse(404, 'NotificationsNotFound: no callback is registered.')
  async get(@CurrentCaller() caller: Caller): Promise<CallbackRegistration> {
    const r = await this.callbacks.find(caller);
    if (!r) throw new ApiError(404, 'NotificationsNotFound', 'No callback is registered for this client.');
    return r;
  }

  @Delete()
  @HttpCode(204)
  @ApiOperation({ summary: 'Unregister the callback of the calling marketplace client' })
  @ApiZodResponse(204, null, 'Unregistered.')
  @ApiErrorResponse(404, 'NotificationsNotFound: no callback is registered.')
  async remove(@CurrentCaller() caller: Caller): Promise<void> {
    if (!(await this.callbacks.remove(caller))) throw new ApiError(404, 'NotificationsNotFound', 'No callback is registered for this client.');
    await this.record(caller, 'notifications.removed');
  }
}
