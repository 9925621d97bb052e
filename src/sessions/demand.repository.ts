import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, MoreThanOrEqual } from 'typeorm';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { SessionEntity } from './session.entity';

/** One start request of an offer: when (epoch ms) and in which region (null: the customer named none). */
export interface StartRequest {
  at: number;
  region: string | null;
}

/**
 * Demand history of offers (issue 15: hot pools sized by forecast): every start request, not only the
 * successful claims. A request is a session row of any state (ready, provisioning, queued, failed,
 * ended: `requestedAt`) or a refused start (audit `session.refused`, which writes no session). Reads
 * index IX_session_offer_requested and IDX_audit_event_offer_at.
 */
@Injectable()
export class DemandRepository {
  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Start requests of `offerId` at or after `since` (epoch ms), oldest first. */
  async startRequests(offerId: string, since: number): Promise<StartRequest[]> {
    const [sessions, refused] = await Promise.all([
      this.ds.getRepository(SessionEntity).find({ select: { requestedAt: true, region: true }, where: { offerId, requestedAt: MoreThanOrEqual(since) } }),
      this.ds.getRepository(AuditEventEntity).find({ select: { at: true, details: true }, where: { offerId, action: 'session.refused', at: MoreThanOrEqual(since) } }),
    ]);
    const out: StartRequest[] = sessions.map((s) => ({ at: Number(s.requestedAt), region: s.region }));
    for (const e of refused) out.push({ at: Number(e.at), region: typeof e.details?.region === 'string' ? e.details.region : null });
    return out.sort((a, b) => a.at - b.at);
  }
}
