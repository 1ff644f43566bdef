import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Address, Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { spottedConsumerAbi } from '../../contracts-abi/SpottedConsumer.ts';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { deploySpottedConsumer } from '../../src/adapters/chain-viem/deploy.ts';
import { createSystemClock } from '../../src/adapters/clock/system-clock.ts';
import {
  getProof,
  type ProofJson,
  SpottedApiError,
  submitProofRequest,
} from '../../src/adapters/http/spotted-client.ts';
import { peerIdOfKey } from '../../src/adapters/keystore/libp2p-identity.ts';
import { openPostgresRegistryStore } from '../../src/adapters/store-postgres/open-postgres-store.ts';
import { createPostgresStorePool } from '../../src/adapters/store-postgres/postgres-store-pool.ts';
import { replayQueueEvents } from '../../src/store/registry/queue-log.ts';
import { collect, startSpotted } from '../cli/support.ts';

/**
 * Issue 6, the real-process crash test: `spotted registry` runs as a child process against a
 * fresh database on the Postgres server, with operators as `spotted operator` processes, a
 * SpottedConsumer on chain 31337 and a callback server in this test. Requests ask for a webhook
 * and an on-chain submission; the registry is killed with SIGKILL right after the first request
 * is accepted and again when it logs a submission, and restarted with the same configuration
 * (same worker id) each time. The operator processes keep running throughout: they notice the
 * lost connection and join again by themselves, and the restarted registry's resumed rounds wait
 * for them. Then every accepted task must have completed exactly once (expired only when its
 * deadline passed while the registry was down; never failed), the consumer must store each
 * completed task once with no second transaction sent from the submitter (exactly once), and
 * every task's callback must have arrived (at least once; repeats only under one idempotency
 * key). Waits are on conditions with generous limits, so a loaded machine only makes it slower.
 */

const ADMIN_URL =
  process.env['SPOTTED_TEST_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const STATE_CHAIN_ID = 10;
const DESTINATION_CHAIN_ID = 31337;
const OPERATOR_COUNT = 3;
const WORKER_ID = 'sigkill-test-registry';
const BLOCK_TIME_MS = 250;
const KEYS = [1n, 2n, 3n, 4n];

interface LogLine {
  msg?: string;
  taskId?: string;
  [field: string]: unknown;
}

interface NodeRun {
  name: string;
  child: ChildProcess;
  lines: LogLine[];
  exit: ReturnType<typeof collect>;
}

let workDir: string;
let admin: pg.Client | undefined;
let databaseName: string | undefined;
let databaseUrl: string;
let testbed: Testbed | undefined;
let mining = false;
let miner: Promise<void> | undefined;
let callbackServer: Server | undefined;
const posts: { taskId: string; idempotencyKey: string; status: string }[] = [];
let callbackUrl: string;
let consumer: Address;
const submitterKey = generatePrivateKey();
const registryIdentityKey = generatePrivateKey();
let registryConfigFile: string;
let registryPorts: { api: number; nodeApi: number };
const operatorConfigs: { name: string; file: string; signingKey: Hex; nodeApi: number }[] = [];
const runs: NodeRun[] = [];
/** When each registry run was started and (for all but the last) killed (wall ms). */
const lifetimes: { startedAtMs: number; killedAtMs?: number }[] = [];
const operators = new Map<string, NodeRun>();
let user: Address;
let valueBlock: bigint;

beforeAll(async () => {
  admin = await connectAdmin();
  databaseName = `spotted_sigkill_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${databaseName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${databaseName}`;
  databaseUrl = url.toString();
  workDir = await mkdtemp(join(tmpdir(), 'spotted-sigkill-'));

  testbed = await startTestbed({
    stateChainIds: [STATE_CHAIN_ID],
    // 10 s epochs: a restart may span an epoch boundary; the restarted registry then refuses
    // requests (503 with Retry-After) until it caught up, and `submit` retries like a client.
    epochLengthBlocks: 40n,
    gracePeriodBlocks: 3n,
  });
  const bed = testbed;
  const stateChain = bed.stateChains.get(STATE_CHAIN_ID);
  const mainState = bed.stateChains.get(DESTINATION_CHAIN_ID);
  if (!stateChain || !mainState) throw new Error('the testbed has no state chains');

  // Operators: registered with a weight, each with a development signing key.
  const registeredOperators = [];
  for (let index = 1; index <= OPERATOR_COUNT; index++) {
    const signingKey = generatePrivateKey();
    const address = privateKeyToAccount(generatePrivateKey()).address;
    await bed.registry.registerOperator({
      operator: address,
      signingKey: privateKeyToAccount(signingKey).address,
      weight: 100n,
    });
    registeredOperators.push({ index, address, signingKey });
  }

  // The values proven: keys 1..4 of one user on the state chain.
  const userAccount = privateKeyToAccount(generatePrivateKey());
  user = userAccount.address;
  const writer = await stateChain.writerFor(userAccount);
  for (const key of KEYS) {
    const hash = await writer.setValue({ key, value: key * 100n });
    const receipt = await stateChain.anvil.publicClient.waitForTransactionReceipt({
      hash,
      pollingInterval: 50,
    });
    valueBlock = receipt.blockNumber;
  }

  // The destination: a SpottedConsumer checking signatures with the registry on chain 31337.
  consumer = await deploySpottedConsumer(bed.mainAnvil.writeContext(bed.deployer, 'main chain'), {
    registry: bed.deployment.stakeRegistry,
  });
  await bed.mainAnvil.fund(privateKeyToAccount(submitterKey).address);
  startMiner(bed);

  callbackServer = createHttpServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      const parsed = JSON.parse(body) as { status?: string };
      posts.push({
        taskId: String(request.headers['x-spotted-task-id']),
        idempotencyKey: String(request.headers['idempotency-key']),
        status: String(parsed.status),
      });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => callbackServer?.listen(0, '127.0.0.1', resolve));
  const address = callbackServer.address();
  if (typeof address !== 'object' || address === null) throw new Error('no callback port');
  callbackUrl = `http://127.0.0.1:${address.port}/spotted`;

  const chains = {
    main: {
      rpcUrl: bed.mainAnvil.rpcUrl,
      chainId: DESTINATION_CHAIN_ID,
      epochManager: bed.deployment.epochManager,
      stakeRegistry: bed.deployment.stakeRegistry,
    },
    state: [
      {
        rpcUrl: mainState.anvil.rpcUrl,
        chainId: DESTINATION_CHAIN_ID,
        stateManager: mainState.stateManager,
      },
      {
        rpcUrl: stateChain.anvil.rpcUrl,
        chainId: STATE_CHAIN_ID,
        stateManager: stateChain.stateManager,
      },
    ],
  };
  const common = (schema: string) => ({
    chains,
    database: { url: databaseUrl, schema, maxConnections: 4 },
    log: { level: 'info' },
    shutdown: { drainTimeoutMs: 5_000 },
  });
  const p2pPort = await freePort();
  registryPorts = { api: await freePort(), nodeApi: await freePort() };
  registryConfigFile = join(workDir, 'registry.yaml');
  await writeFile(
    registryConfigFile,
    stringify({
      node: { name: 'sigkill-registry' },
      ...common('registry'),
      registry: {
        startBlock: Number(bed.deployment.genesisBlock),
        confirmations: 2,
        chainPollIntervalMs: 200,
      },
      aggregator: { workerId: WORKER_ID, expiryMs: 60_000 },
      consumers: [{ chainId: DESTINATION_CHAIN_ID, address: consumer }],
      api: { host: '127.0.0.1', port: registryPorts.api },
      admin: { enabled: false },
      network: { listen: [`/ip4/127.0.0.1/tcp/${p2pPort}`], heartbeatIntervalMs: 250 },
      nodeApi: { host: '127.0.0.1', port: registryPorts.nodeApi },
      metrics: { enabled: false },
    }),
  );
  const bootstrap = `/ip4/127.0.0.1/tcp/${p2pPort}/p2p/${peerIdOfKey(registryIdentityKey)}`;
  for (const op of registeredOperators) {
    const file = join(workDir, `operator-${op.index}.yaml`);
    const nodeApi = await freePort();
    await writeFile(
      file,
      stringify({
        node: { name: `sigkill-operator-${op.index}` },
        operator: {
          address: op.address,
          registryBootstrap: [bootstrap],
          join: {
            retryInitialDelayMs: 200,
            retryMaxDelayMs: 1_000,
            notRegisteredRetryInitialDelayMs: 500,
            notRegisteredRetryMaxDelayMs: 1_000,
          },
        },
        ...common(`operator_${op.index}`),
        network: { listen: ['/ip4/127.0.0.1/tcp/0'], heartbeatIntervalMs: 250 },
        nodeApi: { host: '127.0.0.1', port: nodeApi },
        metrics: { enabled: false },
      }),
    );
    operatorConfigs.push({
      name: `operator-${op.index}`,
      file,
      signingKey: op.signingKey,
      nodeApi,
    });
  }
}, 180_000);

afterAll(async () => {
  const keepLogs = process.env['SPOTTED_TEST_KEEP_LOGS'];
  if (keepLogs) {
    for (const run of [...runs, ...operators.values()]) {
      await writeFile(
        join(keepLogs, `${run.name.replaceAll(' ', '-')}.jsonl`),
        run.lines.map((line) => JSON.stringify(line)).join('\n'),
      );
    }
  }
  for (const run of [...runs, ...operators.values()]) {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  }
  await Promise.allSettled([...runs, ...operators.values()].map((run) => run.exit));
  mining = false;
  await miner;
  await testbed?.stop();
  await new Promise((resolve) => (callbackServer ? callbackServer.close(resolve) : resolve(null)));
  if (admin && databaseName) {
    await admin.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => {});
  }
  await admin?.end().catch(() => {});
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

describe('bridge queue in production: spotted registry killed with SIGKILL', () => {
  test('behavior: after two SIGKILLs mid-flight and restarts, every accepted task ends once, is stored on-chain once and called back', async () => {
    // Run 1: the registry and the operators come up; the first request is accepted, then kill.
    let registry = await startRegistry();
    startOperators();
    await waitForOperatorsJoined();
    await waitForActiveOperators(registry);
    const first = await submit(KEYS[0] as bigint);
    expect(first.created).toBe(true);
    await kill(registry);

    // Run 2: restarted with the same config, operators untouched (they rejoin by themselves);
    // more requests at once (retried while it catches up with the chain's epochs); killed when a
    // proof is submitted.
    registry = await startRegistry();
    const rest = await Promise.all(KEYS.slice(1).map((key) => submit(key)));
    const accepted = [first, ...rest].map((outcome) => outcome.taskId);
    await waitFor(
      () => registry.lines.some((line) => line.msg === 'proof submitted'),
      'the registry to log a submission',
      60_000,
      () => guardAlive(registry),
    );
    await kill(registry);

    // Run 3: restarted again; everything accepted ends and every delivery settles.
    registry = await startRegistry();
    const finals = new Map<Hex, ProofJson>();
    await waitFor(
      async () => {
        for (const taskId of accepted) {
          const view = await getProof(api(), taskId).catch(() => undefined);
          if (!view || view.status === 'pending') return false;
          if (view.deliveries.some((d) => d.status !== 'delivered' && d.status !== 'failed')) {
            return false;
          }
          finals.set(taskId, view);
        }
        return true;
      },
      'every accepted task to end and its deliveries to settle',
      150_000,
      () => guardAlive(registry),
    );
    registry.child.kill('SIGTERM');
    expect((await registry.exit).code).toBe(0);

    await checkOutcome(accepted, finals);
    // The operators were never restarted: each rejoined the restarted registry by itself.
    for (const run of operators.values()) {
      expect(run.child.exitCode, `${run.name} still running`).toBeNull();
      const rejoins = run.lines.filter(
        (line) => line.msg === 'lost the connection to the registry; joining again',
      );
      expect(rejoins.length, `${run.name} rejoined after each kill`).toBeGreaterThanOrEqual(2);
    }
  }, 400_000);
});

async function checkOutcome(accepted: readonly Hex[], finals: ReadonlyMap<Hex, ProofJson>) {
  const allLines = runs.flatMap((run) => run.lines);
  const pool = createPostgresStorePool({ connectionString: databaseUrl, maxConnections: 2 });
  const store = await openPostgresRegistryStore(
    { pool, clock: createSystemClock() },
    { schema: 'registry' },
  );
  try {
    let completed = 0;
    const outcomes: string[] = [];
    const signedCompleted = new Map<string, number>();
    for (const taskId of accepted) {
      const task = await store.tasks.get(taskId);
      expect(task, `task ${taskId} lost`).toBeDefined();
      // A collection a restarted node took up again waits for the operators to rejoin, so it
      // completes like any other; it may expire only when its deadline passed during an outage
      // (with a 60 s expiry and short outages it should not). Never failed.
      const resumed = allLines.some(
        (line) => line.taskId === taskId && line.msg === 'task taken up again',
      );
      const expiredInOutage =
        task !== undefined &&
        lifetimes.some(
          (run, index) =>
            run.killedAtMs !== undefined &&
            task.expiresAtMs >= run.killedAtMs &&
            task.expiresAtMs <= (lifetimes[index + 1]?.startedAtMs ?? Number.POSITIVE_INFINITY),
        );
      const allowed = expiredInOutage ? ['completed', 'expired'] : ['completed'];
      expect(allowed, `task ${taskId} (resumed: ${resumed})`).toContain(task?.status);
      outcomes.push(`${taskId.slice(0, 10)}… ${task?.status}${resumed ? ' (resumed)' : ''}`);
      expect(finals.get(taskId)?.status).toBe(task?.status);
      // Ended once: no run logged a second completion or expiry of it (a kill between the
      // commit and the log line may leave none logged; the store's counters are checked below).
      const endings = allLines.filter(
        (line) =>
          line.taskId === taskId &&
          ((line.msg === 'task completed' && line['firstTime'] !== false) ||
            line.msg === 'task expired' ||
            line.msg === 'task failed'),
      );
      expect(endings.length, `endings logged for ${taskId}`).toBeLessThanOrEqual(1);
      expect(
        endings.every((line) => line.msg !== 'task failed'),
        `${taskId} never failed`,
      ).toBe(true);

      const jobs = await store.queue.list({ groupKey: taskId, limit: 100 });
      for (const job of jobs) expect(job.status, `${job.queue} job of ${taskId}`).toBe('done');
      const isStored = await readConsumer('isStored', [taskId]);
      if (task?.status === 'completed') {
        completed += 1;
        for (const signer of (await store.avsResponses.get(taskId))?.signers ?? []) {
          signedCompleted.set(signer.operator, (signedCompleted.get(signer.operator) ?? 0) + 1);
        }
        expect(isStored, `consumer stores ${taskId}`).toBe(true);
        expect(jobs.find((job) => job.queue === 'delivery.chain')?.result).toMatchObject({
          stored: true,
        });
      } else {
        expect(isStored, `consumer stores expired ${taskId}`).toBe(false);
      }

      const calls = posts.filter((post) => post.taskId === taskId);
      expect(calls.length, `callbacks for ${taskId}`).toBeGreaterThanOrEqual(1);
      // At most one repeat per crash, always under the same idempotency key.
      expect(calls.length, `callbacks for ${taskId}`).toBeLessThanOrEqual(1 + 2);
      expect(new Set(calls.map((call) => call.idempotencyKey)).size).toBe(1);
      expect(calls.at(-1)?.status).toBe(task?.status);
    }
    console.info(`sigkill: ${outcomes.join(', ')}; ${posts.length} callbacks`);
    // The crashes must not have made the run vacuous: tasks completed and were submitted, and at
    // least the first (accepted right before the first kill) was taken up again by a restart.
    expect(completed, 'completed tasks').toBeGreaterThanOrEqual(1);
    expect(
      allLines.some((line) => line.taskId === accepted[0] && line.msg === 'task taken up again'),
      'the first task was resumed by a restarted registry',
    ).toBe(true);
    // The submitting account's key came from the environment and is never logged.
    expect(JSON.stringify(allLines)).not.toContain(submitterKey.slice(2));

    // Exactly once on-chain: one stored value and one transaction per completed task.
    expect(await readConsumer('storedCount', [])).toBe(BigInt(completed));
    const nonce = await testbed?.mainAnvil.publicClient.getTransactionCount({
      address: privateKeyToAccount(submitterKey).address,
      blockTag: 'latest',
    });
    expect(nonce, 'transactions sent by the submitter').toBe(completed);

    // Completed once: success counters equal the proofs each operator is in.
    for (const operator of await store.operators.list()) {
      expect(operator.successfulResponseCount, `successes of ${operator.address}`).toBe(
        signedCompleted.get(operator.address) ?? 0,
      );
    }

    // Nothing left in the queue; its write log replays to its table.
    for (const queue of await store.queue.stats()) {
      expect(queue, `queue ${queue.queue}`).toMatchObject({ ready: 0, running: 0, failed: 0 });
    }
    const replayed = replayQueueEvents(await store.queue.events({ limit: 10_000 }));
    for (const job of await store.queue.list({ limit: 10_000 })) {
      expect(replayed.get(job.id)).toEqual({
        jobId: job.id,
        status: job.status,
        attempts: job.attempts,
        leasedBy: job.leasedBy,
      });
      expect(job.leasedBy === null || job.leasedBy === WORKER_ID).toBe(true);
    }
  } finally {
    await store.close();
    await pool.end();
  }
}

function readConsumer(functionName: 'storedCount', args: []): Promise<bigint>;
function readConsumer(functionName: 'isStored', args: [Hex]): Promise<boolean>;
function readConsumer(
  functionName: 'storedCount' | 'isStored',
  args: [] | [Hex],
): Promise<bigint | boolean> {
  const client = testbed?.mainAnvil.publicClient;
  if (!client) throw new Error('no testbed');
  return client.readContract({
    address: consumer,
    abi: spottedConsumerAbi,
    functionName,
    args,
  } as Parameters<typeof client.readContract>[0]) as Promise<bigint | boolean>;
}

function api(): string {
  return `http://127.0.0.1:${registryPorts.api}`;
}

/**
 * Submits like a client: a refusal with Retry-After (the registry starting, or catching up with
 * the chain's epochs after a restart) is asked again after it; the API itself may not be up yet.
 */
async function submit(key: bigint) {
  const giveUpAtMs = Date.now() + 90_000;
  for (;;) {
    try {
      return await submitProofRequest(api(), {
        chainId: STATE_CHAIN_ID,
        targetAddress: user,
        key,
        blockNumber: valueBlock,
        callbackUrl,
        submitToChainId: DESTINATION_CHAIN_ID,
      });
    } catch (error) {
      const retryAfterSec = error instanceof SpottedApiError ? error.retryAfterSec : undefined;
      const notListening = error instanceof TypeError; // fetch failed: the API is not up yet
      if ((retryAfterSec === undefined && !notListening) || Date.now() > giveUpAtMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, (retryAfterSec ?? 0.2) * 1000));
    }
  }
}

function startNode(name: string, args: string[], env: Record<string, string>): NodeRun {
  const child = startSpotted(args, env);
  const lines: LogLine[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const text of complete) {
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ msg: text });
      }
    }
  });
  return { name, child, lines, exit: collect(child, 600_000) };
}

async function startRegistry(): Promise<NodeRun> {
  const run = startNode(
    `registry run ${runs.length + 1}`,
    ['registry', '--config', registryConfigFile],
    {
      SPOTTED_DEV_IDENTITY_KEY: registryIdentityKey,
      SPOTTED_DEV_SUBMITTER_KEY: submitterKey,
    },
  );
  runs.push(run);
  lifetimes.push({ startedAtMs: Date.now() });
  await waitFor(
    async () => (await healthStatus(registryPorts.nodeApi)) === 200,
    `${run.name} to serve`,
    60_000,
    () => guardAlive(run),
  );
  const running = run.lines.find((line) => line.msg === 'registry running');
  expect(running?.['workerId']).toBe(WORKER_ID);
  return run;
}

function startOperators(): void {
  for (const op of operatorConfigs) {
    operators.set(
      op.name,
      startNode(op.name, ['operator', '--config', op.file], {
        SPOTTED_DEV_SIGNING_KEYS: op.signingKey,
      }),
    );
  }
}

async function waitForOperatorsJoined(): Promise<void> {
  for (const op of operatorConfigs) {
    const run = operators.get(op.name) as NodeRun;
    await waitFor(
      async () => (await healthStatus(op.nodeApi)) === 200,
      `${op.name} to join`,
      60_000,
      () => guardAlive(run),
    );
  }
}

async function waitForActiveOperators(registry: NodeRun): Promise<void> {
  await waitFor(
    async () => {
      const response = await fetch(`${api()}/v1/network`).catch(() => undefined);
      const body = (await response?.json().catch(() => undefined)) as
        | { operatorsByStatus?: Record<string, number> }
        | undefined;
      return (body?.operatorsByStatus?.['active'] ?? 0) >= OPERATOR_COUNT;
    },
    'the operators to be active',
    120_000,
    () => guardAlive(registry),
  );
}

/**
 * A restarted registry advances the epochs the chain moved through while it was down one by one;
 * a request accepted meanwhile is of an epoch the rejoining operators skip (they adopt the
 * newest state), and they refuse it as stale. So the requests wait until the registry's epoch is
 * the chain's. (The resumed task was accepted at the then current epoch: operators keep the state
 * before the newest one, so they still answer it.)
 */
async function kill(run: NodeRun): Promise<void> {
  const lifetime = lifetimes.at(-1);
  if (lifetime) lifetime.killedAtMs = Date.now();
  run.child.kill('SIGKILL');
  expect((await run.exit).signal).toBe('SIGKILL');
}

function guardAlive(run: NodeRun): void {
  if (
    run.child.exitCode !== null ||
    (run.child.signalCode !== null && run.child.signalCode !== 'SIGKILL')
  ) {
    const tail = run.lines
      .slice(-15)
      .map((line) => JSON.stringify(line))
      .join('\n');
    throw new Error(`${run.name} exited (${run.child.exitCode ?? run.child.signalCode}):\n${tail}`);
  }
}

function startMiner(bed: Testbed) {
  mining = true;
  const anvils = [
    ...new Set([bed.mainAnvil, ...[...bed.stateChains.values()].map((s) => s.anvil)]),
  ];
  miner = (async () => {
    while (mining) {
      await Promise.all(anvils.map((anvil) => anvil.mine(1).catch(() => {})));
      await new Promise((resolve) => setTimeout(resolve, BLOCK_TIME_MS));
    }
  })();
}

async function connectAdmin(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw new Error(
      [
        `PostgreSQL is not reachable at ${ADMIN_URL.replace(/\/\/[^@]*@/, '//…@')}: ${(error as Error).message}`,
        'The SIGKILL test runs the registry against a real server. Start the local one with:',
        '  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
        'or point SPOTTED_TEST_POSTGRES_URL at a server whose user may CREATE DATABASE.',
      ].join('\n'),
      { cause: error },
    );
  }
}

async function healthStatus(port: number): Promise<number | undefined> {
  try {
    return (
      await fetch(`http://127.0.0.1:${port}/eigen/node/health`, {
        signal: AbortSignal.timeout(2_000),
      })
    ).status;
  } catch {
    return undefined;
  }
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs: number,
  guard?: () => void,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    guard?.();
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}
