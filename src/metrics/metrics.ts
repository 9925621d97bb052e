import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { onRemoteCall } from '../remote/observe';

/** The `result` label of testdrive_session_starts_total. */
export type StartResult = 'hot' | 'warm' | 'cold' | 'ready' | 'provisioning' | 'queued' | 'dequeued' | 'no_capacity' | 'queue_full' | 'refused' | 'failed';

/** Labels of the pool gauges. Offer and region are bounded by configuration; never a session id or an e-mail. */
type PoolLabels = 'offer' | 'region';

/**
 * Sampling period of the event loop delay metrics (nodejs_eventloop_lag_*), ms. prom-client's default, 10 ms,
 * wakes the process 100 times a second: idle with nothing due that was most of the service's CPU (issue 14:
 * the main thread used 1.7 % of a core, 0.5 % at 100 ms). A stall still shows as the delay of the next sample.
 */
export const EVENT_LOOP_RESOLUTION_MS = 100;

/**
 * The service's Prometheus metrics (prom-client, issue 11), one registry per application: default
 * process metrics (`process_*`, `nodejs_*`), counters and histograms this process observes, and gauges
 * computed from the database at scrape time (MetricsCollector.refresh), so a scrape of any replica gives
 * the fleet's pool numbers. Names follow Prometheus conventions: `testdrive_` prefix, base units
 * (seconds), `_total` counters, snake_case, bounded label sets (offer, region, type, kind, state,
 * result, service, operation, outcome). Counters are per process (sum them over replicas).
 *
 * Catalogue (docs/operations.md "Metrics"):
 * - testdrive_session_starts_total{offer,type,result}: POST /sessions answers (hot, cold, ready,
 *   provisioning, no_capacity, refused, failed); replays of an Idempotency-Key are not counted.
 * - testdrive_session_time_to_ready_seconds{type,kind}: request to ready (observed by the leader).
 * - testdrive_session_expiry_lag_seconds{type}: ended (expired) minus expiresAt (leader).
 * - testdrive_remote_requests_total{service,operation,outcome} and
 *   testdrive_remote_request_duration_seconds{service,operation}: every Azure SDK request attempt and
 *   every RemoteHttp call (Graph, Dataverse, Logic App triggers, lead destinations); outcome success,
 *   throttled (429), client_error, server_error, error (no answer).
 * - testdrive_reconcile_duration_seconds{task} and testdrive_reconcile_errors_total{task}: each type's
 *   reconcile pass, expiry, lead delivery and escalation passes.
 * - testdrive_lead_deliveries_total{destination,outcome}: delivered, retry, failed.
 * - Gauges (database, at scrape): testdrive_pool_instances{offer,region,kind,state},
 *   testdrive_pool_hot_target, testdrive_pool_hot_forecast_starts (issue 15), testdrive_pool_cold_limit, testdrive_pool_cold_in_use,
 *   testdrive_region_backoff_seconds, testdrive_region_consecutive_failures (per offer, region),
 *   testdrive_session_slots{offer,type,state=in_use|limit}, testdrive_licenses{offer,state=free|used},
 *   testdrive_sessions{offer,type,state}, testdrive_offer_degraded{offer}, testdrive_leads{offer,state},
 *   testdrive_lead_pending_age_seconds{offer}, testdrive_incidents_open{offer,kind}.
 */
@Injectable()
export class Metrics implements OnModuleDestroy {
  readonly registry = new Registry();

  readonly sessionStarts = new Counter({ name: 'testdrive_session_starts_total', help: 'Session start requests answered, by offer, type and result (hot, cold, ready, provisioning, no_capacity, refused, failed).', labelNames: ['offer', 'type', 'result'] as const, registers: [this.registry] });
  readonly timeToReady = new Histogram({
    name: 'testdrive_session_time_to_ready_seconds',
    help: 'Time from the start request to the session being ready, by type and instance kind (hot, cold, none).',
    labelNames: ['type', 'kind'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600],
    registers: [this.registry],
  });
  readonly expiryLag = new Histogram({ name: 'testdrive_session_expiry_lag_seconds', help: 'How late expired sessions ended: endedAt minus expiresAt.', labelNames: ['type'] as const, buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900], registers: [this.registry] });
  readonly remoteRequests = new Counter({ name: 'testdrive_remote_requests_total', help: 'Requests to remote services (Azure SDKs, Graph, Dataverse, lead destinations) by service, operation and outcome (success, throttled, client_error, server_error, error).', labelNames: ['service', 'operation', 'outcome'] as const, registers: [this.registry] });
  readonly remoteDuration = new Histogram({ name: 'testdrive_remote_request_duration_seconds', help: 'Duration of requests to remote services.', labelNames: ['service', 'operation'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  readonly reconcileDuration = new Histogram({ name: 'testdrive_reconcile_duration_seconds', help: 'Duration of background passes by task (a test drive type, expiry, leads, escalation).', labelNames: ['task'] as const, buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  readonly reconcileErrors = new Counter({ name: 'testdrive_reconcile_errors_total', help: 'Background passes that failed, by task.', labelNames: ['task'] as const, registers: [this.registry] });
  readonly leadDeliveries = new Counter({ name: 'testdrive_lead_deliveries_total', help: 'Lead delivery attempts by destination type and outcome (delivered, retry, failed).', labelNames: ['destination', 'outcome'] as const, registers: [this.registry] });
  readonly alertNotifications = new Counter({ name: 'testdrive_alert_notifications_total', help: 'Escalation notifications by channel (email, webhook), event (opened, resolved) and outcome (sent, retry, failed).', labelNames: ['channel', 'event', 'outcome'] as const, registers: [this.registry] });

  // Gauges set from the database by MetricsCollector.refresh() before each scrape.
  readonly poolInstances = new Gauge({ name: 'testdrive_pool_instances', help: 'ARM pool instances by offer, region, kind (hot, cold) and state (pending, deploying, ready, assigned, failed, deleting).', labelNames: ['offer', 'region', 'kind', 'state'] as const, registers: [this.registry] });
  readonly hotTarget = new Gauge<PoolLabels>({ name: 'testdrive_pool_hot_target', help: 'Hot instances to keep ready, by offer and region.', labelNames: ['offer', 'region'], registers: [this.registry] });
  /** Issue 15: start requests the forecast expects within the lead time (hot policy forecast only). */
  readonly hotForecastStarts = new Gauge<PoolLabels>({ name: 'testdrive_pool_hot_forecast_starts', help: 'Start requests expected within the lead time by the hot pool forecast, by offer and region (forecast policy only).', labelNames: ['offer', 'region'], registers: [this.registry] });
  readonly coldLimit = new Gauge<PoolLabels>({ name: 'testdrive_pool_cold_limit', help: 'Cold instances allowed at once, by offer and region.', labelNames: ['offer', 'region'], registers: [this.registry] });
  readonly coldInUse = new Gauge<PoolLabels>({ name: 'testdrive_pool_cold_in_use', help: 'Cold instances deployed or deploying, by offer and region.', labelNames: ['offer', 'region'], registers: [this.registry] });
  readonly backoffSeconds = new Gauge<PoolLabels>({ name: 'testdrive_region_backoff_seconds', help: 'Seconds until a region starts new hot instances again after failures (0: not backing off).', labelNames: ['offer', 'region'], registers: [this.registry] });
  readonly consecutiveFailures = new Gauge<PoolLabels>({ name: 'testdrive_region_consecutive_failures', help: 'Failed deployments in a row in a region (resets on a success).', labelNames: ['offer', 'region'], registers: [this.registry] });
  readonly sessionSlots = new Gauge({ name: 'testdrive_session_slots', help: 'Session slots of Dynamics 365 and Logic app offers: in_use and limit (maxConcurrent).', labelNames: ['offer', 'type', 'state'] as const, registers: [this.registry] });
  readonly licenses = new Gauge({ name: 'testdrive_licenses', help: 'Dynamics 365 licences of an offer: free and used (from the last health check).', labelNames: ['offer', 'state'] as const, registers: [this.registry] });
  readonly sessions = new Gauge({ name: 'testdrive_sessions', help: 'Sessions by offer, type and state (ended and failed sessions of the last 24 hours).', labelNames: ['offer', 'type', 'state'] as const, registers: [this.registry] });
  readonly offerDegraded = new Gauge({ name: 'testdrive_offer_degraded', help: '1 when the offer\'s last health check found problems, else 0.', labelNames: ['offer'] as const, registers: [this.registry] });
  readonly leads = new Gauge({ name: 'testdrive_leads', help: 'Leads not delivered, by offer and state (pending, failed).', labelNames: ['offer', 'state'] as const, registers: [this.registry] });
  readonly leadPendingAge = new Gauge({ name: 'testdrive_lead_pending_age_seconds', help: 'Age of the oldest lead still pending, by offer (0: none pending).', labelNames: ['offer'] as const, registers: [this.registry] });
  readonly incidentsOpen = new Gauge({ name: 'testdrive_incidents_open', help: 'Open escalation incidents by offer and kind.', labelNames: ['offer', 'kind'] as const, registers: [this.registry] });

  private readonly unsubscribe: () => void;

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
    this.unsubscribe = onRemoteCall((e) => {
      this.remoteRequests.inc({ service: e.service, operation: e.operation, outcome: e.outcome });
      this.remoteDuration.observe({ service: e.service, operation: e.operation }, e.seconds);
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  /** Times `body` as a background pass of `task` (duration histogram; a throw counts an error and is rethrown). */
  async timePass<T>(task: string, body: () => Promise<T>): Promise<T> {
    const end = this.reconcileDuration.startTimer({ task });
    try {
      return await body();
    } catch (err) {
      this.reconcileErrors.inc({ task });
      throw err;
    } finally {
      end();
    }
  }
}
