import { z } from 'zod';
import type { CapacityRow, TestDriveType } from '../test-drives/test-drive-type';

/**
 * One row of GET /capacity: an offer (ARM: one row per region) with the fields every type gives
 * (CapacityRow) and the type's own (TestDriveSchemas.capacityRow, documented by capacityApiComponents).
 */
export const capacityRowViewSchema = z.looseObject({
  offerId: z.string().meta({ example: 'contoso-crm' }),
  offerState: z.enum(['draft', 'published', 'unpublished']),
  type: z.string().meta({ description: 'Test drive type.', example: 'azure-resource-manager' }),
  region: z.string().nullable().meta({ description: 'ARM location (ARM: one row per region; Logic app: its region); null for types without regions.', example: 'westeurope' }),
  hotTarget: z.number().int().meta({ description: 'Hot instances to keep ready (ARM; 0 for other types).', example: 2 }),
  hotReady: z.number().int().meta({ description: 'Hot instances ready now.', example: 2 }),
  deploying: z.number().int().meta({ description: 'Instances / sessions being provisioned.', example: 0 }),
  assigned: z.number().int().meta({ description: 'Instances / sessions in use by customers.', example: 1 }),
  failed: z.number().int().meta({ description: 'Failed instances (ARM) or sessions requested in the last 24 hours that failed (Logic app).', example: 0 }),
  limit: z.number().int().meta({ description: 'Most sessions this offer / region can hold at once.', example: 7 }),
  queued: z.number().int().meta({ description: "The offer's start requests waiting in its queue (whenFull=queue; same on each row of the offer).", example: 0 }),
  leadsPending: z.number().int().meta({ description: "The offer's leads not yet delivered (same on each row of the offer).", example: 0 }),
  leadsFailed: z.number().int().meta({ description: "The offer's leads given up on (fix the destination, then redeliver).", example: 0 }),
});

/** One row of GET /capacity. */
export type CapacityRowView = CapacityRow & { offerId: string; offerState: string; type: string; queued: number; leadsPending: number; leadsFailed: number };

/**
 * The OpenAPI components of GET /capacity: `CapacityRow` (the common fields, and each registered
 * type's own as optional fields, described with the type names) and `CapacityList`.
 */
export function capacityApiComponents(types: readonly TestDriveType[]): Record<string, z.ZodType> {
  const extras: Record<string, z.ZodType> = {};
  for (const t of types) for (const [field, schema] of Object.entries(t.schemas?.capacityRow ?? {})) extras[field] ??= schema.optional();
  const row = capacityRowViewSchema.extend(extras).meta({
    description: 'Capacity of one offer (ARM: of one of its regions): what is targeted, ready, deploying, in use and failed. Fields beyond the common ones depend on the type.',
    example: { offerId: 'contoso-crm', offerState: 'published', type: 'azure-resource-manager', region: 'westeurope', hotTarget: 2, hotReady: 2, deploying: 0, assigned: 1, failed: 0, limit: 7, queued: 0, leadsPending: 0, leadsFailed: 0 },
  });
  return { CapacityRow: row, CapacityList: z.object({ value: z.array(row) }).meta({ description: 'Capacity of every offer the caller may read (or of one).' }) };
}
