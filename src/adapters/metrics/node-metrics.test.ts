import { describe, expect, test } from 'vitest';
import type { Chains, MainChain, StateChain } from '../../ports/chain.ts';
import { instrumentChains } from './instrument-chains.ts';
import { createNodeMetrics } from './node-metrics.ts';

/** Sample lines `name{labels} value` of a text exposition, as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('node metrics', () => {
  test('behavior: counters and the latency histogram move with the recorded work', async () => {
    const metrics = createNodeMetrics({ processMetrics: false });
    const before = samples(await metrics.render());
    expect(before.get('spotted_tasks_total{outcome="completed"}')).toBe(0);
    metrics.recordTaskEnded('completed', 0.2);
    metrics.recordTaskEnded('expired', 15);
    metrics.recordResponse('signed');
    metrics.recordResponse('refused');
    metrics.recordMiss(false);
    metrics.recordMiss(true);
    const after = samples(await metrics.render());
    expect(after.get('spotted_tasks_total{outcome="completed"}')).toBe(1);
    expect(after.get('spotted_tasks_total{outcome="expired"}')).toBe(1);
    expect(
      after.get('spotted_aggregation_latency_seconds_bucket{le="0.25",outcome="completed"}'),
    ).toBe(1);
    expect(after.get('spotted_aggregation_latency_seconds_count{outcome="expired"}')).toBe(1);
    expect(after.get('spotted_responses_total{outcome="signed"}')).toBe(1);
    expect(after.get('spotted_operator_misses_total')).toBe(2);
    expect(after.get('spotted_operator_suspensions_total')).toBe(1);
  });

  test('behavior: rejections are counted by reason and channel', async () => {
    const metrics = createNodeMetrics({ processMetrics: false });
    metrics.recordRejection({ reason: 'oversize', channel: '/spotted/response/1', peer: 'p' });
    metrics.recordRejection({ reason: 'oversize', channel: '/spotted/response/1', peer: 'q' });
    metrics.recordRejection({ reason: 'blacklisted', channel: 'connection', peer: 'p' });
    const after = samples(await metrics.render());
    expect(
      after.get('spotted_rejected_messages_total{reason="oversize",channel="/spotted/response/1"}'),
    ).toBe(2);
    expect(
      after.get('spotted_rejected_messages_total{reason="blacklisted",channel="connection"}'),
    ).toBe(1);
  });

  test('behavior: gauges read their sources at scrape time', async () => {
    const metrics = createNodeMetrics({ processMetrics: false, avsName: 'spotted-test' });
    let peers = 2;
    metrics.bind({
      peers: () => peers,
      epoch: () => 7,
      performanceScore: async () => 50,
      queueDepths: () => ({ live_tasks: 3 }),
      operators: async () => [
        { operator: '0xA', status: 'active', missing: 1, successfulResponses: 4 },
        { operator: '0xB', status: 'suspended', missing: 5, successfulResponses: 0 },
      ],
    });
    let scraped = samples(await metrics.render());
    expect(scraped.get('spotted_peers')).toBe(2);
    expect(scraped.get('spotted_epoch')).toBe(7);
    expect(scraped.get('eigen_performance_score{avs_name="spotted-test"}')).toBe(50);
    expect(scraped.get('spotted_queue_depth{queue="live_tasks"}')).toBe(3);
    expect(scraped.get('spotted_operators{status="suspended"}')).toBe(1);
    expect(scraped.get('spotted_operator_missing{operator="0xA"}')).toBe(1);
    expect(scraped.get('spotted_operator_successful_responses{operator="0xA"}')).toBe(4);
    peers = 5;
    scraped = samples(await metrics.render());
    expect(scraped.get('spotted_peers')).toBe(5);
  });

  test('behavior: the registry replication gauges read the replication at scrape time', async () => {
    const metrics = createNodeMetrics({ processMetrics: false, avsName: 'spotted-test' });
    const view = { divergencesDetected: 0, divergencesRepaired: 0, diverged: false };
    metrics.bind({ replication: () => ({ ...view }) });
    let scraped = samples(await metrics.render());
    expect(scraped.get('spotted_registry_diverged')).toBe(0);
    Object.assign(view, { divergencesDetected: 2, divergencesRepaired: 1, diverged: true });
    scraped = samples(await metrics.render());
    expect(scraped.get('spotted_registry_divergences_detected')).toBe(2);
    expect(scraped.get('spotted_registry_divergences_repaired')).toBe(1);
    expect(scraped.get('spotted_registry_diverged')).toBe(1);
  });

  test('behavior: the chains decorator times every call with the EigenLayer RPC labels', async () => {
    const metrics = createNodeMetrics({ processMetrics: false });
    const main = {
      chainId: 31337,
      label: 'main chain 31337',
      getBlockNumber: async () => 12n,
      getCurrentEpoch: async () => {
        throw new Error('rpc down');
      },
    } as unknown as MainChain;
    const state = { chainId: 10, getBlockNumber: async () => 5n } as unknown as StateChain;
    const chains: Chains = { main, stateChainIds: [10], state: () => state };
    const instrumented = instrumentChains(
      chains,
      (method, version, seconds) => metrics.recordRpcRequest(method, version, seconds),
      (chainId) => (chainId === 10 ? 'geth/1.0' : 'anvil/1.7.1'),
    );
    expect(await instrumented.main.getBlockNumber()).toBe(12n);
    expect(instrumented.main.chainId).toBe(31337);
    await expect(instrumented.main.getCurrentEpoch()).rejects.toThrow('rpc down');
    expect(await instrumented.state(10).getBlockNumber()).toBe(5n);
    const scraped = samples(await metrics.render());
    const total = (method: string, version: string) =>
      scraped.get(
        `eigen_rpc_request_total{method="${method}",client_version="${version}",avs_name="spotted"}`,
      );
    expect(total('getBlockNumber', 'anvil/1.7.1')).toBe(1);
    expect(total('getCurrentEpoch', 'anvil/1.7.1')).toBe(1);
    expect(total('getBlockNumber', 'geth/1.0')).toBe(1);
    expect(
      scraped.get(
        'eigen_rpc_request_duration_seconds_count{method="getBlockNumber",client_version="geth/1.0",avs_name="spotted"}',
      ),
    ).toBe(1);
  });
});
