/**
 * Worker: honest request → proof latency, quiet vs under a flood of bogus tasks (the hardening
 * issue's "honest proof latency under flood stays within 2× of the quiet case").
 *
 * A real-time cluster (1 registry, N operators, libp2p over TCP on loopback, Anvil, PGlite, the
 * system clock: `test/e2e/cluster.ts`), so the flood costs real CPU in the real gossipsub,
 * validators and gates. Honest proofs are requested one at a time and timed from
 * `requestProof` to the aggregator's task-ended event: `samples` quiet and `samples` while
 * `flooders` hostile peers (never joined, fresh identities) each publish bogus tasks on the task
 * topic at `ratePerFlooderPerSec`, in `rounds` alternating quiet and flood blocks. A flooder
 * that no operator keeps connected (banned and hung up on, or refused) is replaced by a new
 * identity (a sybil flood), so the pressure lasts the whole flood block.
 * The flooders run in a child process of their own at the lowest CPU priority (nice 19): their
 * signing and encoding would otherwise share the nodes' event loop, or on a busy 2-core machine
 * their cores, and measure the attacker's CPU, not the defence's (a real attacker's CPU is on
 * another machine). `detached` runs the same flooders connected to nothing, as the control.
 * Reports both p50s, their ratio (target ≤ 2), bogus tasks sent, and the rejections the nodes
 * counted by reason.
 *
 * Started by `pnpm bench` (`--flood`); by hand:
 * node bench/flood-worker.ts --config '{"operators":4,"samples":15,"rounds":3,"flooders":4,"ratePerFlooderPerSec":250}' --result /tmp/flood.json
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setPriority } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { getAddress, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createLibp2pNetwork } from '../src/adapters/network-libp2p/libp2p-network.ts';
import type { TaskEndedEvent } from '../src/aggregator/aggregator.ts';
import { type Network, TOPICS } from '../src/ports/network.ts';
import type { Rejection } from '../src/ports/rejections.ts';
import { encodeTask, MAX_TASK_BYTES } from '../src/wire/task.ts';
import { type Cluster, STATE_CHAIN_ID, startCluster } from '../test/e2e/cluster.ts';
import type { FloodConfig, FloodResult } from './flood-worker-config.ts';
import { summarizeLatencies } from './lib/measure.ts';
import { progress, readWorkerArgs, writeWorkerResult } from './lib/worker-io.ts';

const KEY = 5n;

/** What the flooder process needs to know. */
interface FlooderPlan {
  flooders: number;
  ratePerFlooderPerSec: number;
  targets: string[];
  operatorPeers: string[];
  selected: string[];
  epoch: number;
  user: string;
}

if (process.argv[2] === '--flooder') {
  setPriority(19);
  await runFlooders(JSON.parse(process.argv[3] ?? '{}') as FlooderPlan);
  process.exit(0);
}

/**
 * Flooder mode: connects, then publishes bogus tasks while switched `on` (stdin lines `on` /
 * `off`) until stdin closes, then prints `sent identities`.
 */
async function runFlooders(plan: FlooderPlan): Promise<void> {
  let sent = 0;
  let identities = 0;
  let flooding = true;
  let paused = true;
  process.stdin.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line === 'on') paused = false;
      if (line === 'off') paused = true;
    }
  });
  process.stdin.on('close', () => {
    flooding = false;
  });
  process.stdin.resume();
  const operatorPeers = new Set(plan.operatorPeers);
  async function newFlooder(): Promise<Network> {
    const network = await createLibp2pNetwork({
      transport: 'tcp',
      gossip: { heartbeatIntervalMs: 200 },
    });
    await network.start();
    identities++;
    network.subscribe(TOPICS.task, () => 'ignore', { maxMessageBytes: MAX_TASK_BYTES });
    await Promise.all(plan.targets.map((address) => network.dial(address).catch(() => undefined)));
    return network;
  }
  await Promise.all(
    Array.from({ length: plan.flooders }, async () => {
      let network = await newFlooder();
      const intervalMs = 1000 / plan.ratePerFlooderPerSec;
      let nextMs = performance.now();
      while (flooding) {
        if (paused) {
          await sleep(20);
          nextMs = performance.now();
          continue;
        }
        const connected = network.connectedPeers().filter((peer) => operatorPeers.has(peer));
        if (connected.length === 0 && plan.targets.length > 0) {
          // Banned and hung up on everywhere: come back as someone else.
          await network.stop().catch(() => undefined);
          if (!flooding) return;
          network = await newFlooder();
        }
        const bogus = encodeTask({
          taskId: `0x${randomBytes(32).toString('hex')}`,
          chainId: STATE_CHAIN_ID,
          targetAddress: plan.user as Hex,
          key: BigInt(sent),
          blockNumber: 1n,
          timestampSec: 0n,
          byTimestamp: false,
          value: 0n,
          epoch: plan.epoch,
          round: 0,
          respondByMs: Date.now() + 10_000,
          selectedOperators: plan.selected as Hex[],
          historyBlockNumber: 1n,
          historyTimestampSec: 0n,
        });
        await network.publish(TOPICS.task, bogus).catch(() => undefined);
        sent++;
        nextMs += intervalMs;
        const waitMs = nextMs - performance.now();
        if (waitMs > 0) await sleep(waitMs);
        else if (sent % 50 === 0) await sleep(0);
      }
      await network.stop().catch(() => undefined);
    }),
  );
  process.stdout.write(`${sent} ${identities}\n`);
}

const { config, resultPath } = readWorkerArgs<FloodConfig>();
const startedMs = performance.now();
const rejections: Record<string, number> = {};
let counting = false;
const count = (rejection: Rejection) => {
  if (!counting) return;
  const key = `${rejection.reason} ${rejection.channel}`;
  rejections[key] = (rejections[key] ?? 0) + 1;
};

progress(`cluster: ${config.operators} operators over libp2p TCP`);
const cluster: Cluster = await startCluster({
  operators: Array.from({ length: config.operators }, () => ({ weight: 100n })),
  aggregator: { round: { responseDeadlineMs: 3_000, expiryMs: 15_000 } },
  reportRejection: { registry: count, operators: count },
});
const user = privateKeyToAccount(generatePrivateKey());
let honestFailures = 0;
let bogusTasksSent = 0;
let flooderIdentities = 0;
const result: FloodResult = {
  operators: config.operators,
  bogusTasksSent: 0,
  flooderIdentities: 0,
  rejections,
  honestFailures: 0,
  wallMs: 0,
};

try {
  const writer = await cluster.testbed.stateChains.get(STATE_CHAIN_ID)?.writerFor(user);
  if (!writer) throw new Error('no state chain');
  await writer.setValue({ key: KEY, value: 1n });
  await cluster.waitUntilReady(config.operators);
  progress('cluster ready');

  const ended = new Map<Hex, (event: TaskEndedEvent) => void>();
  cluster.registry.aggregator.onTaskEnded((event) => ended.get(event.taskId)?.(event));
  const stateChain = cluster.testbed.chains.state(STATE_CHAIN_ID);

  /** One honest proof, timed from the request to the task's end (ms). */
  async function timedProof(): Promise<number> {
    const blockNumber = await stateChain.getBlockNumber();
    const startMs = performance.now();
    let resolveEnd: (event: TaskEndedEvent) => void = () => {};
    const end = new Promise<TaskEndedEvent>((resolve) => {
      resolveEnd = resolve;
    });
    const outcome = await cluster.registry.aggregator.requestProof({
      chainId: STATE_CHAIN_ID,
      targetAddress: user.address,
      key: KEY,
      blockNumber,
    });
    if (outcome.status === 'pending') {
      ended.set(outcome.taskId, resolveEnd);
      const event = await end;
      ended.delete(outcome.taskId);
      if (event.status !== 'completed') honestFailures++;
    } else if (outcome.status !== 'completed') {
      honestFailures++;
    }
    return performance.now() - startMs;
  }

  /** `count` honest proofs one after another (ms each). */
  async function block(count: number): Promise<number[]> {
    const latencies: number[] = [];
    for (let index = 0; index < count; index++) {
      latencies.push(await timedProof());
      // A new block between requests, so each is a new task rather than the same one again.
      await sleep(120);
    }
    return latencies;
  }

  await timedProof(); // warm-up, unmeasured

  // The flood.
  const selected = cluster.operators
    .map((op) => getAddress(op.address))
    .sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  const epoch = cluster.operators[0]?.node.status().epoch?.epoch ?? 1;
  const plan: FlooderPlan = {
    flooders: config.flooders,
    ratePerFlooderPerSec: config.ratePerFlooderPerSec,
    targets: config.detached
      ? []
      : [
          cluster.registryNetwork.listenAddresses()[0],
          ...cluster.operators.map((op) => op.network.listenAddresses()[0]),
        ].filter((address): address is string => address !== undefined),
    operatorPeers: cluster.operators.map((op) => op.network.peerId),
    selected,
    epoch,
    user: user.address,
  };
  const child = spawn(
    process.execPath,
    [fileURLToPath(import.meta.url), '--flooder', JSON.stringify(plan)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  let childOutput = '';
  child.stdout.on('data', (chunk: Buffer) => {
    childOutput += chunk.toString();
  });
  const childExit = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  // Quiet and flood blocks alternate (`rounds` of each), so that a change in the machine's
  // background load during the run weighs on both sides alike.
  await sleep(1000); // the flooders connect (idle) before the first block
  const quiet: number[] = [];
  const flood: number[] = [];
  const rounds = config.rounds ?? 3;
  const perBlock = Math.ceil(config.samples / rounds);
  let floodMs = 0;
  for (let round = 0; round < rounds; round++) {
    quiet.push(...(await block(perBlock)));
    const onMs = performance.now();
    child.stdin.write('on\n');
    counting = true;
    await sleep(1000); // let the flood start before measuring
    flood.push(...(await block(perBlock)));
    counting = false;
    child.stdin.write('off\n');
    floodMs += performance.now() - onMs;
    await sleep(500); // messages in flight drain
    progress(`round ${round + 1}/${rounds}`);
  }
  const quietSummary = summarizeLatencies(quiet);
  const floodSummary = summarizeLatencies(flood);
  if (quietSummary) result.quiet = quietSummary;
  if (floodSummary) result.flood = floodSummary;
  progress(
    `quiet: p50 ${quietSummary?.p50Ms.toFixed(1)} ms, p95 ${quietSummary?.p95Ms.toFixed(1)} ms; flood: p50 ${floodSummary?.p50Ms.toFixed(1)} ms, p95 ${floodSummary?.p95Ms.toFixed(1)} ms`,
  );
  child.stdin.end();
  await childExit;
  const floodSeconds = floodMs / 1000;
  const [sentText, identitiesText] = childOutput.trim().split(' ');
  bogusTasksSent = Number(sentText ?? 0);
  flooderIdentities = Number(identitiesText ?? 0);
  result.bogusTasksPerSec = bogusTasksSent / floodSeconds;

  if (result.quiet && result.flood) result.p50Ratio = result.flood.p50Ms / result.quiet.p50Ms;
  progress(
    `flood/quiet p50 ratio ${result.p50Ratio?.toFixed(2)} (target ≤ 2); ${bogusTasksSent} bogus tasks (${result.bogusTasksPerSec.toFixed(0)}/s of ${config.flooders * config.ratePerFlooderPerSec}/s) from ${flooderIdentities} identities`,
  );
} finally {
  result.bogusTasksSent = bogusTasksSent;
  result.flooderIdentities = flooderIdentities;
  result.honestFailures = honestFailures;
  result.wallMs = performance.now() - startedMs;
  await cluster.stop();
  writeWorkerResult(resultPath, result);
}
process.exit(0);
