import { Injectable, NestMiddleware } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/**
 * Whether sessions or offers changed since the last look (issue 14: the reconcile loop runs a task when
 * something changed or its own due time came, not every tick over the whole fleet).
 *
 * - In this replica: every API request that may write marks a change when it is done (ChangeMarkMiddleware).
 * - In any replica: one statement per call, served by indexes: the latest `session.updatedAt`
 *   (IX_session_updated), and the latest `updatedAt`, the number and the sum of versions of offers (a
 *   few hundred rows at most). A start, an end, an expiry, a session becoming ready or failing, a
 *   publish, an edit or a deletion of an offer move it. Two writes within one millisecond of the service
 *   clock, or a write that does not touch `updatedAt`, are caught by the loop's backstop instead.
 */
@Injectable()
export class ChangeWatch {
  private last: string | null = null;
  private marked = false;

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  /** Records a change made by this replica (the next changed() answers true). */
  mark(): void {
    this.marked = true;
  }

  /** True when this replica marked a change or the fingerprint differs from the previous call's (and on the first call). @throws database errors */
  async changed(): Promise<boolean> {
    const marked = this.marked;
    this.marked = false;
    const rows = await this.ds.query<Array<Record<string, unknown>>>(
      'SELECT (SELECT MAX("updatedAt") FROM "session") AS "s", (SELECT MAX("updatedAt") FROM "offer") AS "o", (SELECT COUNT(*) FROM "offer") AS "n", (SELECT SUM("version") FROM "offer") AS "v"',
    );
    const r = rows[0] ?? {};
    const fingerprint = `${String(r.s)}|${String(r.o)}|${String(r.n)}|${String(r.v)}`;
    const changed = marked || fingerprint !== this.last;
    this.last = fingerprint;
    return changed;
  }

  /** Forgets the last fingerprint: the next changed() answers true (a new leader starts from scratch). */
  reset(): void {
    this.last = null;
  }
}

/** Methods that only read. */
const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The part of Express' response that ChangeMarkMiddleware uses. */
interface Closable {
  once(event: 'close', listener: () => void): unknown;
}

/**
 * Marks a change in ChangeWatch when an API request that may write (POST, PUT, PATCH, DELETE) is done
 * (the response's `close`: sent, failed or abandoned by the client, whichever; it comes before the client can
 * read the answer): the reconcile loop of this replica then runs its tasks on the next tick (a start frees or
 * takes capacity, a publish wants pools, an end wants a teardown). A middleware, not a Nest interceptor (issue
 * 14): with any global interceptor Nest runs every request through two AsyncResource.bind (on Node 20 each
 * defines two deprecation wrappers) and an rxjs chain, 8 % of the CPU of a `/health/live` request.
 */
@Injectable()
export class ChangeMarkMiddleware implements NestMiddleware {
  constructor(private readonly changes: ChangeWatch) {}

  use(req: { method?: string }, res: Closable, next: () => void): void {
    if (!READS.has(req.method ?? 'GET')) res.once('close', () => this.changes.mark());
    next();
  }
}
