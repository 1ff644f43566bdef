import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Address, encodeAbiParameters, type Hex } from 'viem';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ProofJson } from '../../src/adapters/http/spotted-client.ts';
import { collect, ROOT, spotted, startSpotted } from '../cli/support.ts';

/**
 * The devnet end to end, driven only as a user would: `pnpm devnet` (the script), the `spotted`
 * CLI and HTTP. One devnet serves every case in order (2 cores: starting it is the expensive
 * part): a new operator created, registered and started from nothing; proofs requested and
 * verified on-chain; metrics scraped; an operator SIGKILLed, counted missing, restarted and
 * serving again; graceful stops; Ctrl-C leaving no process behind.
 */

interface Devnet {
  dir: string;
  database: string;
  password: string;
  ownerKey: string;
  chains: {
    main: { rpcUrl: string; chainId: number; stakeRegistry: Address };
  };
  sample: { user: Address; key: string; value: string; blocks: Record<string, number> };
  registry: {
    api: string;
    admin: string;
    nodeApi: string;
    metrics: string;
    pid: number;
    log: string;
    config: string;
  };
  operators: {
    name: string;
    address: Address;
    nodeApi: string;
    metrics: string;
    config: string;
    pid: number;
  }[];
  devnetPid: number;
  commands: Record<string, string[]>;
}

const STEP_TIMEOUT_MS = 120_000;
let workDir: string;
let devnetProcess: ChildProcess;
let devnetOutput = '';
let devnet: Devnet;
/** Processes this test started itself (stopped in the graceful-stop case, killed in afterAll). */
const ownNodes: { name: string; child: ChildProcess; exit: ReturnType<typeof collect> }[] = [];
let newOperator: { address: Address; nodeApi: string; metrics: string; config: string };

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'spotted-devnet-test-'));
  devnetProcess = spawn(
    process.execPath,
    [
      join(ROOT, 'scripts/devnet.ts'),
      '--dir',
      join(workDir, 'devnet'),
      '--block-time-ms',
      '250',
      '--log-level',
      'info',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  devnetProcess.stdout?.on('data', (chunk: Buffer) => {
    devnetOutput += chunk.toString();
  });
  devnetProcess.stderr?.on('data', (chunk: Buffer) => {
    devnetOutput += chunk.toString();
  });
  await waitFor(
    () => devnetOutput.includes('devnet ready'),
    'the devnet to be ready',
    240_000,
    () => {
      if (devnetProcess.exitCode !== null) throw new Error(`the devnet exited:\n${devnetOutput}`);
    },
  );
  devnet = JSON.parse(await readFile(join(workDir, 'devnet', 'devnet.json'), 'utf8')) as Devnet;
}, 300_000);

afterAll(async () => {
  for (const node of ownNodes) node.child.kill('SIGKILL');
  if (devnetProcess && devnetProcess.exitCode === null) {
    devnetProcess.kill('SIGINT');
    await new Promise((resolve) => devnetProcess.once('exit', resolve));
  }
  await rm(workDir, { recursive: true, force: true });
}, 120_000);

describe('pnpm devnet, driven through the CLI and HTTP', () => {
  test(
    'behavior: a new operator is created, registered and started; health is 206 while it joins, 200 once joined',
    async () => {
      const keysDir = join(workDir, 'operator-5');
      const password = ['--password-file', devnet.password];
      const signing = await spotted([
        'keys',
        'create',
        '--kind',
        'signing',
        '--out',
        join(keysDir, 'signing.json'),
        ...password,
        '--light',
        '--json',
      ]);
      expect(signing.code).toBe(0);
      const identity = await spotted([
        'keys',
        'create',
        '--kind',
        'identity',
        '--out',
        join(keysDir, 'identity.json'),
        ...password,
        '--light',
        '--json',
      ]);
      expect(identity.code).toBe(0);

      const address = privateKeyToAddress(generatePrivateKey());
      const registered = await spotted([
        'testbed',
        'register',
        '--rpc-url',
        devnet.chains.main.rpcUrl,
        '--registry',
        devnet.chains.main.stakeRegistry,
        '--operator',
        address,
        '--signing-keystore',
        join(keysDir, 'signing.json'),
        '--weight',
        '100',
        '--owner-key-file',
        devnet.ownerKey,
      ]);
      expect(registered.stderr).toBe('');
      expect(registered.code).toBe(0);
      expect(JSON.parse(registered.stdout)).toMatchObject({
        operator: address,
        signingKey: JSON.parse(signing.stdout).address,
      });

      // Its config: operator-1's, with its own address, keys, ports and schema.
      const base = devnet.operators[0];
      if (!base) throw new Error('no operator in the devnet');
      const config = parse(await readFile(base.config, 'utf8'));
      const [nodeApiPort, metricsPort, p2pPort] = [
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      config.node.name = 'test-operator-5';
      config.operator.address = address;
      config.operator.signingKeystores = [join(keysDir, 'signing.json')];
      config.network.identityKeystore = join(keysDir, 'identity.json');
      config.network.listen = [`/ip4/127.0.0.1/tcp/${p2pPort}`];
      config.nodeApi.port = nodeApiPort;
      config.metrics.port = metricsPort;
      if (config.database.url) config.database.schema = 'operator_5';
      else config.database.pgliteDir = join(keysDir, 'data');
      const configFile = join(keysDir, 'operator.yaml');
      await writeFile(configFile, stringify(config));
      newOperator = {
        address,
        nodeApi: `http://127.0.0.1:${nodeApiPort}`,
        metrics: `http://127.0.0.1:${metricsPort}/metrics`,
        config: configFile,
      };

      const child = startSpotted(['operator', '--config', configFile, ...password]);
      ownNodes.push({ name: 'operator-5', child, exit: collect(child, 600_000) });
      const seen: number[] = [];
      await waitFor(
        async () => {
          const status = await healthStatus(newOperator.nodeApi);
          if (status !== undefined && seen.at(-1) !== status) seen.push(status);
          return status === 200;
        },
        'the new operator to be healthy',
        90_000,
        () => {
          if (child.exitCode !== null) throw new Error(`operator-5 exited with ${child.exitCode}`);
        },
        50,
      );
      expect(seen[0]).toBe(206);
      expect(seen.at(-1)).toBe(200);
      const node = await (await fetch(`${newOperator.nodeApi}/eigen/node`)).json();
      expect(node).toEqual({
        node_name: 'test-operator-5',
        spec_version: 'v0.0.1',
        node_version: '0.1.0',
      });
      const services = (await (
        await fetch(`${newOperator.nodeApi}/eigen/node/services`)
      ).json()) as {
        services: { id: string; status: string }[];
      };
      expect(services.services.find((s) => s.id === 'registry-join')?.status).toBe('Up');

      const status = await spotted([
        'status',
        '--api',
        devnet.registry.api,
        '--operator',
        address,
        '--json',
      ]);
      expect(status.code).toBe(0);
      expect(['waitingActive', 'active']).toContain(JSON.parse(status.stdout).status);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    'behavior: a proof requested through the CLI verifies on-chain, and the metrics count the work',
    async () => {
      const before = parsePrometheus(await scrape(devnet.registry.metrics));
      const proof = await requestProof(devnet.sample.blocks['10'] ?? 0);
      expect(proof.status).toBe('completed');
      expect(proof.value).toBe(devnet.sample.value);
      const proofFile = join(workDir, 'proof.json');
      await writeFile(proofFile, JSON.stringify(proof));

      const verified = await spotted([
        'verify',
        proofFile,
        '--rpc-url',
        devnet.chains.main.rpcUrl,
        '--registry',
        devnet.chains.main.stakeRegistry,
      ]);
      expect(verified.stdout).toBe('valid\n');
      expect(verified.code).toBe(0);
      const viaConfig = await spotted(['verify', '--config', devnet.registry.config], {
        input: JSON.stringify(proof),
      });
      expect(viaConfig.stdout).toBe('valid\n');

      // One signer is below the threshold: the contract names the reason.
      const signers = proof.proof;
      if (!signers) throw new Error('a completed proof without signatures');
      const weakened: ProofJson = {
        ...proof,
        proof: {
          ...signers,
          signatureData: encodeAbiParameters(
            [{ type: 'address[]' }, { type: 'bytes[]' }, { type: 'uint32' }],
            [[signers.operators[0] as Address], [signers.signatures[0] as Hex], proof.epoch],
          ),
        },
      };
      const weakFile = join(workDir, 'weak-proof.json');
      await writeFile(weakFile, JSON.stringify(weakened));
      const rejected = await spotted([
        'verify',
        weakFile,
        '--rpc-url',
        devnet.chains.main.rpcUrl,
        '--registry',
        devnet.chains.main.stakeRegistry,
      ]);
      expect(rejected.stdout).toBe('invalid: InsufficientSignedStake\n');
      expect(rejected.code).toBe(1);

      const after = parsePrometheus(await scrape(devnet.registry.metrics));
      const completed = 'spotted_tasks_total{outcome="completed"}';
      expect((after.get(completed) ?? 0) - (before.get(completed) ?? 0)).toBe(1);
      const signed = 'spotted_responses_total{outcome="signed"}';
      expect((after.get(signed) ?? 0) - (before.get(signed) ?? 0)).toBeGreaterThanOrEqual(3);
      expect(
        after.get('spotted_aggregation_latency_seconds_count{outcome="completed"}'),
      ).toBeGreaterThanOrEqual(1);
      expect(sum(after, 'eigen_rpc_request_total')).toBeGreaterThan(
        sum(before, 'eigen_rpc_request_total'),
      );
      expect(after.get('eigen_performance_score{avs_name="spotted"}')).toBe(100);
      expect(after.get('spotted_peers')).toBeGreaterThanOrEqual(4);
      expect(after.get('spotted_queue_depth{queue="live_tasks"}')).toBeGreaterThanOrEqual(0);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    'behavior: an operator killed with SIGKILL is counted missing, and serves again once restarted',
    async () => {
      const victim = devnet.operators[0];
      if (!victim) throw new Error('no operator');
      process.kill(victim.pid, 'SIGKILL');
      await waitFor(
        async () => (await healthStatus(victim.nodeApi)) === undefined,
        'the killed node to be gone',
      );

      const proof = await requestProof((devnet.sample.blocks['10'] ?? 0) + 1);
      expect(proof.status).toBe('completed');
      expect(proof.proof?.operators).not.toContain(victim.address);
      await waitFor(
        async () => (await operatorStatus(victim.address)).missing >= 1,
        'the registry to count the miss',
      );
      const missedOnce = (await operatorStatus(victim.address)).missing;

      // The user restarts it with the same command the devnet used.
      const command = devnet.commands[victim.name];
      if (!command) throw new Error('no command for the victim');
      const child = startSpotted(command.slice(2));
      ownNodes.push({ name: victim.name, child, exit: collect(child, 600_000) });
      await waitFor(
        async () => (await healthStatus(victim.nodeApi)) === 200,
        'the restarted node to be healthy',
        90_000,
      );

      // It signs again: its own counter of signed responses moves, and no new miss is counted.
      let block = (devnet.sample.blocks['10'] ?? 0) + 2;
      await waitFor(
        async () => {
          const next = await requestProof(block);
          block += 1;
          expect(next.status).toBe('completed');
          const scraped = parsePrometheus(await scrape(victim.metrics));
          return (scraped.get('spotted_responses_total{outcome="signed"}') ?? 0) >= 1;
        },
        'the restarted operator to sign',
        60_000,
      );
      expect((await operatorStatus(victim.address)).missing).toBe(missedOnce);
    },
    STEP_TIMEOUT_MS * 2,
  );

  test(
    'behavior: SIGTERM stops a node gracefully with exit code 0',
    async () => {
      const node = ownNodes.find((own) => own.name === 'operator-5');
      if (!node) throw new Error('operator-5 is not running');
      node.child.kill('SIGTERM');
      const run = await node.exit;
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/"reason":"SIGTERM".*"msg":"stopping"/);
      expect(run.stdout).toMatch(/"msg":"operator stopped"/);
      expect(await healthStatus(newOperator.nodeApi)).toBeUndefined();
      ownNodes.splice(ownNodes.indexOf(node), 1);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    'behavior: five misses suspend an operator; spotted admin unsuspend lifts it',
    async () => {
      // operator-5 is registered and active but stopped: every task counts a miss against it.
      const first = (devnet.sample.blocks['10'] ?? 0) + 20;
      await Promise.all([0, 1, 2, 3, 4].map((offset) => postProof(first + offset)));
      await waitFor(
        async () => (await operatorStatus(newOperator.address)).status === 'suspended',
        'operator-5 to be suspended',
      );
      const scraped = parsePrometheus(await scrape(devnet.registry.metrics));
      expect(scraped.get('spotted_operator_suspensions_total')).toBeGreaterThanOrEqual(1);
      expect(scraped.get('spotted_operators{status="suspended"}')).toBe(1);

      const lifted = await spotted([
        'admin',
        'unsuspend',
        newOperator.address,
        '--admin',
        devnet.registry.admin,
      ]);
      expect(lifted.stderr).toBe('');
      expect(lifted.code).toBe(0);
      expect(lifted.stdout).toMatch(
        new RegExp(
          `^unsuspended ${newOperator.address}: suspended → (active|waitingActive) \\(missing reset to 0\\)\n$`,
        ),
      );
      const after = await operatorStatus(newOperator.address);
      expect(after.missing).toBe(0);
      expect(after.status).not.toBe('suspended');

      const again = await spotted([
        'admin',
        'unsuspend',
        newOperator.address,
        '--admin',
        devnet.registry.admin,
      ]);
      expect(again.code).toBe(1);
      expect(again.stderr.trim().split('\n')).toEqual([
        `error: ${devnet.registry.admin}/admin/operators/${newOperator.address}/unsuspend: operator ${newOperator.address} is ${after.status}, not suspended: nothing to lift`,
      ]);
    },
    STEP_TIMEOUT_MS,
  );

  test(
    'behavior: SIGTERM on the registry stops new requests, drains the task in flight, exits 0',
    async () => {
      // operator-5 is active but stopped: the round stays open to its 3 s deadline.
      const { taskId } = await postProof((devnet.sample.blocks['10'] ?? 0) + 50);
      process.kill(devnet.registry.pid, 'SIGTERM');
      await waitFor(
        () => devnetOutput.includes('registry exited (code 0)'),
        'the registry to exit 0',
        60_000,
      );
      expect(
        await fetch(`${devnet.registry.api}/v1/network`).then(
          () => 'answered',
          () => 'refused',
        ),
      ).toBe('refused');

      const log = (await readFile(devnet.registry.log, 'utf8'))
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map(
          (line) =>
            JSON.parse(line) as { msg: string; taskId?: string; reason?: string; time: number },
        );
      const at = (predicate: (entry: (typeof log)[number]) => boolean) => log.findIndex(predicate);
      const stopping = at((entry) => entry.msg === 'stopping' && entry.reason === 'SIGTERM');
      // The task ends (completed once the others reach the threshold, or at operator-5's
      // deadline) before the node stops: on a loaded machine it may already have ended before
      // the signal arrived, so only the order against 'registry stopped' is certain.
      const ended = at(
        (entry) =>
          entry.taskId === taskId &&
          (entry.msg === 'task completed' ||
            entry.msg === 'task expired' ||
            entry.msg.startsWith('task failed')),
      );
      const stopped = at((entry) => entry.msg === 'registry stopped');
      expect(stopping).toBeGreaterThanOrEqual(0);
      expect(ended).toBeGreaterThanOrEqual(0);
      expect(stopped).toBeGreaterThan(Math.max(ended, stopping));
    },
    STEP_TIMEOUT_MS,
  );

  test(
    'behavior: Ctrl-C stops the devnet and every process it started, and drops its database',
    async () => {
      // The operator this test restarted is the user's to stop: SIGTERM, exit 0.
      for (const node of ownNodes) node.child.kill('SIGTERM');
      for (const node of ownNodes) expect((await node.exit).code).toBe(0);
      ownNodes.length = 0;

      const pids = [
        devnet.registry.pid,
        ...devnet.operators.slice(1).map((op) => op.pid),
        ...childrenOf(devnet.devnetPid),
      ];
      // The registry (stopped above), operators 2-4, two Anvil processes and the watchdog.
      expect(pids.length).toBeGreaterThanOrEqual(1 + 3 + 2);
      const exited = new Promise<number | null>((resolve) =>
        devnetProcess.once('exit', (code) => resolve(code)),
      );
      devnetProcess.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(devnetOutput).toContain('devnet: stopped');
      expect(devnetOutput).toMatch(/operator-2 stopped \(exit code 0\)/);
      await waitFor(
        () => pids.filter(isAlive).length === 0,
        'every devnet process to end',
        10_000,
      ).catch(() => {});
      expect(pids.filter(isAlive)).toEqual([]);
      if (devnet.database.startsWith('postgres')) {
        const name = devnet.database.split('/').at(-1) ?? '';
        const client = new pg.Client({
          connectionString: 'postgres://postgres@127.0.0.1:5432/postgres',
        });
        await client.connect();
        const rows = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        await client.end();
        expect(rows.rowCount).toBe(0);
      }
    },
    STEP_TIMEOUT_MS,
  );
});

async function requestProof(block: number): Promise<ProofJson> {
  const run = await spotted([
    'request',
    '--api',
    devnet.registry.api,
    '--chain-id',
    '10',
    '--target',
    devnet.sample.user,
    '--key',
    devnet.sample.key,
    '--block',
    String(block),
  ]);
  if (run.code !== 0)
    throw new Error(`spotted request failed (${run.code}):\n${run.stderr}\n${run.stdout}`);
  return JSON.parse(run.stdout) as ProofJson;
}

/** POST /v1/proofs without waiting, as a dApp would. */
async function postProof(block: number): Promise<{ taskId: string }> {
  const response = await fetch(`${devnet.registry.api}/v1/proofs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      chainId: 10,
      targetAddress: devnet.sample.user,
      key: devnet.sample.key,
      blockNumber: String(block),
    }),
  });
  expect([200, 202]).toContain(response.status);
  return (await response.json()) as { taskId: string };
}

async function operatorStatus(address: Address): Promise<{ status: string; missing: number }> {
  const run = await spotted([
    'status',
    '--api',
    devnet.registry.api,
    '--operator',
    address,
    '--json',
  ]);
  if (run.code !== 0) throw new Error(`spotted status failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

async function healthStatus(nodeApi: string): Promise<number | undefined> {
  try {
    return (await fetch(`${nodeApi}/eigen/node/health`, { signal: AbortSignal.timeout(2_000) }))
      .status;
  } catch {
    return undefined;
  }
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

/** Parses the Prometheus text format strictly: every line is a comment or a sample. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|NaN|\+Inf|-Inf))$/;
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) continue;
    const match = sample.exec(line);
    if (!match) throw new Error(`not Prometheus text format: ${JSON.stringify(line)}`);
    samples.set(match[1] ?? '', Number(match[2]));
  }
  return samples;
}

function sum(samples: Map<string, number>, name: string): number {
  let total = 0;
  for (const [key, value] of samples)
    if (key.startsWith(`${name}{`) || key === name) total += value;
  return total;
}

function childrenOf(pid: number): number[] {
  const file = `/proc/${pid}/task/${pid}/children`;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '')
    .map(Number);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  limitMs = 60_000,
  guard?: () => void,
  pollMs = 200,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    guard?.();
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
