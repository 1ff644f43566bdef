import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Rejection } from '../../ports/rejections.ts';

/**
 * Prometheus metrics of one node (prom-client, a registry per node, never the global one).
 *
 * Spotted's own metrics are prefixed `spotted_`; the EigenLayer AVS node metrics follow the
 * EigenLayer metrics spec as eigensdk-go implements it: `eigen_performance_score` (0–100),
 * `eigen_rpc_request_duration_seconds` and `eigen_rpc_request_total` labelled `method` and
 * `client_version`, each with the constant label `avs_name`. Gauges that mirror state are read
 * at scrape time from sources the wiring binds, so they are never stale.
 */

export type TaskOutcome = 'completed' | 'failed' | 'expired';
export type ResponseOutcome = 'signed' | 'refused' | 'malformed';

/** Per-operator counters the registry is the authority for (read from its store). */
export interface OperatorCountersView {
  operator: string;
  status: string;
  missing: number;
  successfulResponses: number;
}

export interface MetricSources {
  /** Connected libp2p peers. */
  peers(): number;
  /** The node's current epoch; undefined before it has one. */
  epoch(): number | undefined;
  /** 0–100, the node's own judgement of how well it serves (see the wiring). */
  performanceScore(): number | Promise<number>;
  /** Jobs waiting or running in each work queue, by name (live tasks, the durable queue's queues). */
  queueDepths(): Readonly<Record<string, number>> | Promise<Readonly<Record<string, number>>>;
  /** Registry only: every operator's status and counters. */
  operators(): Promise<readonly OperatorCountersView[]>;
  /** Registry with peers only: state-hash divergences with the other registries. */
  replication(): ReplicationView;
}

/** A registry's state-hash comparison with the other registries (src/registry/README.md). */
export interface ReplicationView {
  divergencesDetected: number;
  divergencesRepaired: number;
  /** Disagrees with the majority right now (not repaired yet). */
  diverged: boolean;
  /** Operator facts pulled from the other registries that were new here (since start). */
  factsMerged?: number;
}

export interface NodeMetrics {
  /** A task ended; `latencySeconds` from acceptance to the end, when known. */
  recordTaskEnded(outcome: TaskOutcome, latencySeconds?: number): void;
  /** A task response received (registry) or sent (operator). */
  recordResponse(outcome: ResponseOutcome): void;
  /** The registry counted a miss against an operator; `suspended` when it suspended it. */
  recordMiss(suspended: boolean): void;
  /**
   * A message or connection refused (hostile or over-limit input), from the network's gate or a
   * handler; a RejectionReporter, so node code can be handed this method.
   */
  recordRejection(rejection: Rejection): void;
  /** One chain RPC call through the Chains port. */
  recordRpcRequest(method: string, clientVersion: string, durationSeconds: number): void;
  /** Binds (or rebinds) the scrape-time sources. */
  bind(sources: Partial<MetricSources>): void;
  /** The text exposition format. */
  render(): Promise<string>;
  readonly contentType: string;
}

export interface NodeMetricsOptions {
  /** The `avs_name` constant label of the eigen_ metrics. */
  avsName?: string;
  /** Node.js process metrics (`process_*`, `nodejs_*`); on by default. */
  processMetrics?: boolean;
}

/** Aggregation latency buckets in seconds: sub-second to the 15 s expiry. */
const LATENCY_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 12, 15, 30];
const RPC_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createNodeMetrics(options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  const avsName = options.avsName ?? 'spotted';
  const sources: Partial<MetricSources> = {};
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const tasks = new Counter({
    name: 'spotted_tasks_total',
    help: 'Proof tasks ended, by outcome (completed, failed, expired).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['completed', 'failed', 'expired'] as const) tasks.inc({ outcome }, 0);

  const latency = new Histogram({
    name: 'spotted_aggregation_latency_seconds',
    help: 'From a proof request accepted to its task ended, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS_SECONDS,
    registers: [registry],
  });

  const responses = new Counter({
    name: 'spotted_responses_total',
    help: 'Task responses (received by the registry, sent by an operator), by outcome.',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of ['signed', 'refused'] as const) responses.inc({ outcome }, 0);

  const rejections = new Counter({
    name: 'spotted_rejected_messages_total',
    help: 'Messages and connections refused, by reason (src/ports/rejections.ts) and channel (protocol, topic or connection).',
    labelNames: ['reason', 'channel'] as const,
    registers: [registry],
  });

  const misses = new Counter({
    name: 'spotted_operator_misses_total',
    help: 'Misses the registry counted against operators (no answer in time, invalid signature).',
    registers: [registry],
  });
  const suspensions = new Counter({
    name: 'spotted_operator_suspensions_total',
    help: 'Operators suspended after reaching the miss limit.',
    registers: [registry],
  });

  const queueDepth = new Gauge({
    name: 'spotted_queue_depth',
    help: 'Work waiting or in progress, by queue.',
    labelNames: ['queue'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'spotted_peers',
    help: 'Connected libp2p peers.',
    registers: [registry],
    collect() {
      this.set(sources.peers?.() ?? 0);
    },
  });
  new Gauge({
    name: 'spotted_epoch',
    help: 'The current epoch of this node (-1 before it has one).',
    registers: [registry],
    collect() {
      this.set(sources.epoch?.() ?? -1);
    },
  });

  const replication = (pick: (view: ReplicationView) => number) =>
    function (this: Gauge) {
      const view = sources.replication?.();
      if (view !== undefined) this.set(pick(view));
    };
  new Gauge({
    name: 'spotted_registry_divergences_detected',
    help: 'Epochs whose state hash this registry found to differ from the registries’ majority (since start).',
    registers: [registry],
    collect: replication((view) => view.divergencesDetected),
  });
  new Gauge({
    name: 'spotted_registry_divergences_repaired',
    help: 'Divergent epochs this registry repaired from the majority (since start).',
    registers: [registry],
    collect: replication((view) => view.divergencesRepaired),
  });
  new Gauge({
    name: 'spotted_registry_facts_merged',
    help: 'Operator facts (misses, successes, unsuspends) pulled from the other registries that were new here (since start).',
    registers: [registry],
    collect: replication((view) => view.factsMerged ?? 0),
  });
  new Gauge({
    name: 'spotted_registry_diverged',
    help: '1 while this registry disagrees with the registries’ majority and refuses requests, else 0.',
    registers: [registry],
    collect: replication((view) => (view.diverged ? 1 : 0)),
  });

  const operatorGauges = {
    byStatus: new Gauge({
      name: 'spotted_operators',
      help: 'Registered operators by status (registry).',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    missing: new Gauge({
      name: 'spotted_operator_missing',
      help: "An operator's current miss count (5 suspends it), as the registry stores it.",
      labelNames: ['operator'] as const,
      registers: [registry],
    }),
    successes: new Gauge({
      name: 'spotted_operator_successful_responses',
      help: "An operator's signatures included in completed proofs, as the registry stores it.",
      labelNames: ['operator'] as const,
      registers: [registry],
    }),
  };

  const performance = new Gauge({
    name: 'eigen_performance_score',
    help: 'The performance metric is a score between 0 and 100: 100 when the node serves, 50 while it starts or joins, 0 when it cannot serve.',
    labelNames: ['avs_name'] as const,
    registers: [registry],
  });
  performance.set({ avs_name: avsName }, 100);

  const rpcDuration = new Histogram({
    name: 'eigen_rpc_request_duration_seconds',
    help: 'Duration of json-rpc <method> in seconds',
    labelNames: ['method', 'client_version', 'avs_name'] as const,
    buckets: RPC_BUCKETS_SECONDS,
    registers: [registry],
  });
  const rpcTotal = new Counter({
    name: 'eigen_rpc_request_total',
    help: 'Total number of json-rpc <method> requests',
    labelNames: ['method', 'client_version', 'avs_name'] as const,
    registers: [registry],
  });

  return {
    recordTaskEnded(outcome, latencySeconds) {
      tasks.inc({ outcome });
      if (latencySeconds !== undefined) latency.observe({ outcome }, latencySeconds);
    },
    recordResponse(outcome) {
      responses.inc({ outcome });
    },
    recordMiss(suspended) {
      misses.inc();
      if (suspended) suspensions.inc();
    },
    recordRejection(rejection) {
      // Labels are bounded: reasons are a fixed list, channels our protocols and topics.
      rejections.inc({ reason: rejection.reason, channel: rejection.channel });
    },
    recordRpcRequest(method, clientVersion, durationSeconds) {
      const labels = { method, client_version: clientVersion, avs_name: avsName };
      rpcDuration.observe(labels, durationSeconds);
      rpcTotal.inc(labels);
    },
    bind(next) {
      Object.assign(sources, next);
    },
    async render() {
      // Async sources are read here rather than in a gauge's collect(), so a slow store read
      // cannot interleave two scrapes' resets.
      if (sources.performanceScore) {
        const score = await Promise.resolve(sources.performanceScore()).catch(() => 0);
        performance.set({ avs_name: avsName }, score);
      }
      if (sources.queueDepths) {
        const depths = await Promise.resolve(sources.queueDepths()).catch(() => undefined);
        if (depths) {
          queueDepth.reset();
          for (const [queue, depth] of Object.entries(depths)) queueDepth.set({ queue }, depth);
        }
      }
      if (sources.operators) {
        const operators = await sources.operators().catch(() => undefined);
        if (operators) {
          operatorGauges.byStatus.reset();
          operatorGauges.missing.reset();
          operatorGauges.successes.reset();
          const counts = new Map<string, number>();
          for (const op of operators) {
            counts.set(op.status, (counts.get(op.status) ?? 0) + 1);
            operatorGauges.missing.set({ operator: op.operator }, op.missing);
            operatorGauges.successes.set({ operator: op.operator }, op.successfulResponses);
          }
          for (const [status, count] of counts) operatorGauges.byStatus.set({ status }, count);
        }
      }
      return registry.metrics();
    },
    contentType: registry.contentType,
  };
}
