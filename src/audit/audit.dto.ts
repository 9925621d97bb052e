import { z } from 'zod';
import { apiComponent } from '../common/openapi';
import type { AuditAction } from './audit-event.entity';

/** Every audited action (AuditAction), for the API description. */
export const AUDIT_ACTIONS = [
  'offer.created',
  'offer.updated',
  'offer.deleted',
  'offer.published',
  'offer.unpublished',
  'package.uploaded',
  'leads.destination-changed',
  'lead.redelivered',
  'session.started',
  'session.refused',
  'session.ended',
  'session.expired',
  'session.deprovisioning-acknowledged',
  'notifications.registered',
  'notifications.updated',
  'notifications.removed',
  'notifications.secret-rotated',
] as const satisfies readonly AuditAction[];
// Compile-time check that the list above names every AuditAction.
const _everyAction: readonly (typeof AUDIT_ACTIONS)[number][] = [] as AuditAction[];
void _everyAction;

/** An audit event as GET /api/v1/audit returns it. */
export const auditEventViewSchema = apiComponent(
  'AuditEvent',
  z
    .object({
      id: z.string().meta({ description: 'UUIDv7: sorts in recording order.', example: '01936b2e-7d4a-7c3e-9a1b-2f3c4d5e6f70' }),
      at: z.string().meta({ description: 'ISO 8601 UTC (service clock).', example: '2026-01-01T00:00:00.000Z' }),
      actor: z
        .object({
          type: z.enum(['client', 'system']).meta({ description: 'client: an API caller; system: the service itself (e.g. session expiry).' }),
          tenantId: z.string().nullable(),
          clientId: z.string().nullable(),
          roles: z.array(z.string()).meta({ description: 'App roles the caller held.' }),
        })
        .meta({ description: 'Who did it.' }),
      action: z.enum(AUDIT_ACTIONS),
      offerId: z.string().nullable(),
      target: z.object({ type: z.string().meta({ description: 'offer, package or session.' }), id: z.string() }),
      details: z.record(z.string(), z.unknown()).nullable().meta({ description: 'Small JSON without secrets (e.g. which fields changed, a package revision number).' }),
    })
    .meta({
      description: 'One audited change.',
      example: {
        id: '01936b2e-7d4a-7c3e-9a1b-2f3c4d5e6f70',
        at: '2026-01-01T00:00:00.000Z',
        actor: { type: 'client', tenantId: '00000000-0000-0000-0000-000000000002', clientId: '00000000-0000-0000-0000-000000000003', roles: ['TestDrive.Publisher'] },
        action: 'offer.published',
        offerId: 'contoso-crm',
        target: { type: 'offer', id: 'contoso-crm' },
        details: null,
      },
    }),
);

/** An audit event as GET /api/v1/audit returns it. */
export type AuditEventView = z.infer<typeof auditEventViewSchema>;

/** Body of GET /api/v1/audit: newest first. */
export const auditListSchema = apiComponent(
  'AuditList',
  z
    .object({
      value: z.array(auditEventViewSchema),
      nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for the next (older) page (`<at>~<event id>`); null at the end.' }),
    })
    .meta({ description: 'A page of audit events, newest first.' }),
);
