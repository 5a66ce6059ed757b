import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one server instance (own registry: tests run several). */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'covenant_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'covenant_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly ledgerEntries = new Counter({
    name: 'covenant_ledger_entries_total',
    help: 'Ledger entries committed',
    registers: [this.registry],
  });
  /**
   * Requests refused before their sender was authenticated (a spent KBS session, an
   * expired or mismatched token, a gate call without its credential), by endpoint and
   * reason code. They are counted here and never ledgered: the ledger records what
   * authenticated actors did, and an anonymous sender must not be able to grow it.
   * KBS refusals the broker does ledger (policy says no to an attested instance) are
   * counted here too, so one series shows every refusal by reason.
   */
  readonly refusals = new Counter({
    name: 'covenant_refusals_total',
    help: 'Requests refused at the KBS and gate endpoints, by endpoint and reason code',
    labelNames: ['endpoint', 'reason'] as const,
    registers: [this.registry],
  });
  readonly ledgerBatch = new Histogram({
    name: 'covenant_ledger_batch_units',
    help: 'Commands sharing one ledger transaction (group commit)',
    buckets: [1, 2, 5, 10, 50, 100, 500, 2000],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'covenant_' });
  }

  onBatch = (units: number, entries: number): void => {
    this.ledgerBatch.observe(units);
    this.ledgerEntries.inc(entries);
  };
}
