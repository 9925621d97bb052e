import { z } from 'zod';
import { pageLimitSchema } from '../common/validation';
import { apiComponent } from '../common/openapi';
import { beforeQuerySchema } from '../common/page-cursor';
import type { LeadEntity } from './lead.entity';
import { leadSource } from './lead-format';

/** One lead as GET /offers/{offerId}/leads returns it. `contact` only to the owning publisher. */
export const LeadViewSchema = apiComponent(
  'Lead',
  z.object({
    id: z.string().meta({ description: 'Stable lead id: the destination de-duplicates on it (LeadId / RowKey / new_testdriveleadid).' }),
    offerId: z.string(),
    sessionId: z.string().nullable(),
    kind: z.enum(['lead', 'test']).meta({ description: 'test: a MSFT_TEST_ lead sent when the destination was configured.' }),
    leadSource: z.string().meta({ example: 'AzureMarketplace-StartTestDrive|72f988bf-86f1-41af-91ab-2d7cd011db47.contoso-crm' }),
    state: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastError: z.object({ code: z.string(), message: z.string(), status: z.number().int().optional(), at: z.string() }).nullable(),
    deliveredAt: z.string().nullable(),
    createdAt: z.string(),
    contact: z
      .object({ firstName: z.string(), lastName: z.string(), email: z.string(), phone: z.string().optional(), country: z.string().optional(), company: z.string().optional(), title: z.string().optional() })
      .nullable()
      .meta({ description: 'Contact details: null when the customer did not consent, for .edu addresses, and for callers other than the owning publisher.' }),
  }),
);
export type LeadView = z.infer<typeof LeadViewSchema>;

export const LeadListSchema = apiComponent('LeadList', z.object({ value: z.array(LeadViewSchema), nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for the next (older) page (`<date-time>~<lead id>`); null at the end.' }) }));

/** Query of GET /offers/{offerId}/leads. */
export const LeadQuerySchema = z.strictObject({
  state: z.enum(['pending', 'delivered', 'failed']).optional(),
  limit: pageLimitSchema(500, 100, 'Leads'),
  before: beforeQuerySchema.optional(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The view of a lead; `withContact` for the owning publisher. */
export function leadView(l: LeadEntity, withContact: boolean): LeadView {
  return {
    id: l.id,
    offerId: l.offerId,
    sessionId: l.sessionId,
    kind: l.kind,
    leadSource: `${l.kind === 'test' ? 'MSFT_TEST_' : ''}${leadSource(l.source, l.action, l.publisherId, l.offerId)}`,
    state: l.state,
    attempts: l.attempts,
    nextAttemptAt: l.state === 'pending' ? iso(l.nextAttemptAt) : null,
    lastError: l.lastError ? { ...l.lastError, at: new Date(l.lastError.at).toISOString() } : null,
    deliveredAt: iso(l.deliveredAt),
    createdAt: new Date(l.createdAt).toISOString(),
    contact: withContact ? l.contact : null,
  };
}
