/**
 * `pnpm devnet`: a local Spotted network, each node a separate `spotted` process over libp2p/TCP.
 *
 *   pnpm devnet [--operators 4] [--dir .devnet] [--block-time-ms 1000] [--epoch-length 12]
 *               [--pglite] [--postgres-url postgres://postgres@127.0.0.1:5432/postgres]
 *
 * Starts Anvil (a main chain 31337 and a state chain 10), deploys the contracts, creates the keys
 * (encrypted keystores, light scrypt), registers the operators, stores a sample value, writes a
 * config per node and starts the registry and the operators with `spotted registry|operator`.
 * Storage: a fresh database on the Postgres server when one answers (dropped at the end), else a
 * PGlite directory per node. It prints the endpoints and writes them to <dir>/devnet.json.
 * Ctrl-C (or SIGTERM) stops every node gracefully, then Anvil, and exits 0; the nodes also stop
 * by themselves if this process dies (their stdin closes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { stringify } from 'yaml';
import { DEFAULT_DEPLOYER_KEY, startTestbed, type Testbed } from '../src/adapters/anvil/testbed.ts';
import {
  encryptKey,
  generatePrivateKey,
  SCRYPT_N_LIGHT,
  writeKeystoreFile,
} from '../src/adapters/keystore/keystore.ts';
import { peerIdOfKey } from '../src/adapters/keystore/libp2p-identity.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'src/cli/main.ts');
const STATE_CHAIN_ID = 10;
/** Anvil's second development account: the sample dApp user. */
const USER_KEY: Hex = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const SAMPLE = { key: 1n, value: 42n };
const OPERATOR_WEIGHT = 100n;
const STOP_TIMEOUT_MS = 30_000;

const { values: args } = parseArgs({
  options: {
    operators: { type: 'string', default: '4' },
    dir: { type: 'string', default: '.devnet' },
    'block-time-ms': { type: 'string', default: '1000' },
    'epoch-length': { type: 'string', default: '12' },
    pglite: { type: 'boolean', default: false },
    'postgres-url': {
      type: 'string',
      default:
        process.env['SPOTTED_DEVNET_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    },
    'log-level': { type: 'string', default: 'info' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(
    `${readFileSync(import.meta.filename, 'utf8')
      .split('*/')[0]
      ?.replace(/^\/\*\*?|^ \* ?/gm, '')}\n`,
  );
  process.exit(0);
}

const operatorCount = positive('--operators', args.operators);
const blockTimeMs = positive('--block-time-ms', args['block-time-ms']);
const epochLengthBlocks = BigInt(positive('--epoch-length', args['epoch-length']));
const dir = resolve(args.dir);

interface NodeEntry {
  name: string;
  role: 'registry' | 'operator';
  config: string;
  log: string;
  command: string[];
  child?: ChildProcess;
  exited?: Promise<void>;
}

const nodes: NodeEntry[] = [];
let testbed: Testbed | undefined;
let mining = false;
let miner: Promise<void> | undefined;
let dropDatabase: (() => Promise<void>) | undefined;
let shuttingDown: Promise<void> | undefined;
let watchdog: ChildProcess | undefined;

process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  await main();
} catch (error) {
  process.stderr.write(
    `devnet: error: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  await shutdown('start failed', 1);
}

async function main() {
  await prepareDir();
  say(
    `starting Anvil (main chain 31337, state chain ${STATE_CHAIN_ID}) and deploying the contracts`,
  );
  testbed = await startTestbed({
    stateChainIds: [STATE_CHAIN_ID],
    epochLengthBlocks,
    gracePeriodBlocks: epochLengthBlocks >= 6n ? 3n : 1n,
  });
  startMiner(testbed);
  startWatchdog(childPids());
  const stateChain = testbed.stateChains.get(STATE_CHAIN_ID);
  const mainState = testbed.stateChains.get(31337);
  if (!stateChain || !mainState) throw new Error('the testbed has no state chains');

  const database = await chooseDatabase();
  watchdog?.stdin?.write(`${JSON.stringify({ dropDatabase: database.adminDrop })}\n`);
  const password = randomBytes(16).toString('hex');
  await secretFile('password', password);
  await secretFile('owner.key', DEFAULT_DEPLOYER_KEY);
  await secretFile('user.key', USER_KEY);

  // Keys: a registry identity; per operator an address, a signing key and an identity.
  const registryIdentity = await keystore('registry-identity.json', 'identity', password);
  const operators = [];
  for (let index = 1; index <= operatorCount; index++) {
    const signing = await keystore(`operator-${index}-signing.json`, 'signing', password);
    const identity = await keystore(`operator-${index}-identity.json`, 'identity', password);
    const address = privateKeyToAccount(generatePrivateKey()).address;
    operators.push({ index, address, signing, identity });
  }
  say(`registering ${operatorCount} operators (weight ${OPERATOR_WEIGHT} each)`);
  for (const op of operators) {
    await testbed.registry.registerOperator({
      operator: op.address,
      signingKey: op.signing.address,
      weight: OPERATOR_WEIGHT,
    });
  }
  const user = privateKeyToAccount(USER_KEY);
  const sampleBlocks: Record<number, number> = {};
  for (const chain of [stateChain, mainState]) {
    const hash = await (await chain.writerFor(user)).setValue(SAMPLE);
    const receipt = await chain.anvil.publicClient.waitForTransactionReceipt({
      hash,
      pollingInterval: 50,
    });
    sampleBlocks[chain.anvil.chainId] = Number(receipt.blockNumber);
  }

  const chains = {
    main: {
      rpcUrl: testbed.mainAnvil.rpcUrl,
      chainId: 31337,
      epochManager: testbed.deployment.epochManager,
      stakeRegistry: testbed.deployment.stakeRegistry,
    },
    state: [
      { rpcUrl: mainState.anvil.rpcUrl, chainId: 31337, stateManager: mainState.stateManager },
      {
        rpcUrl: stateChain.anvil.rpcUrl,
        chainId: STATE_CHAIN_ID,
        stateManager: stateChain.stateManager,
      },
    ],
  };
  const shared = (name: string, schema: string) => ({
    chains,
    database: database.section(name, schema),
    log: { level: args['log-level'] },
    shutdown: { drainTimeoutMs: 5_000 },
  });

  const registryPorts = {
    p2p: await freePort(),
    api: await freePort(),
    admin: await freePort(),
    nodeApi: await freePort(),
    metrics: await freePort(),
  };
  const registryPeerId = registryIdentity.peerId;
  const registryP2p = `/ip4/127.0.0.1/tcp/${registryPorts.p2p}/p2p/${registryPeerId}`;
  const registryConfig = {
    node: { name: 'devnet-registry' },
    ...shared('registry', 'registry'),
    registry: {
      startBlock: Number(testbed.deployment.genesisBlock),
      confirmations: 2,
      chainPollIntervalMs: Math.max(100, Math.floor(blockTimeMs / 2)),
    },
    api: { host: '127.0.0.1', port: registryPorts.api },
    admin: { host: '127.0.0.1', port: registryPorts.admin },
    network: {
      listen: [`/ip4/127.0.0.1/tcp/${registryPorts.p2p}`],
      identityKeystore: registryIdentity.file,
      heartbeatIntervalMs: 250,
    },
    nodeApi: { host: '127.0.0.1', port: registryPorts.nodeApi },
    metrics: { host: '127.0.0.1', port: registryPorts.metrics },
  };
  await addNode('registry', 'registry', registryConfig);

  const operatorEndpoints: {
    name: string;
    address: Address;
    signingKey: Address;
    peerId: string;
    nodeApi: string;
    metrics: string;
  }[] = [];
  for (const op of operators) {
    const ports = { p2p: await freePort(), nodeApi: await freePort(), metrics: await freePort() };
    await addNode(`operator-${op.index}`, 'operator', {
      node: { name: `devnet-operator-${op.index}` },
      operator: {
        address: op.address,
        signingKeystores: [op.signing.file],
        registryBootstrap: [registryP2p],
        join: {
          retryInitialDelayMs: 200,
          retryMaxDelayMs: 2_000,
          notRegisteredRetryInitialDelayMs: 500,
          notRegisteredRetryMaxDelayMs: 2_000,
        },
      },
      ...shared(`operator-${op.index}`, `operator_${op.index}`),
      network: {
        listen: [`/ip4/127.0.0.1/tcp/${ports.p2p}`],
        identityKeystore: op.identity.file,
        heartbeatIntervalMs: 250,
      },
      nodeApi: { host: '127.0.0.1', port: ports.nodeApi },
      metrics: { host: '127.0.0.1', port: ports.metrics },
    });
    operatorEndpoints.push({
      name: `operator-${op.index}`,
      address: op.address,
      signingKey: op.signing.address,
      peerId: op.identity.peerId,
      nodeApi: `http://127.0.0.1:${ports.nodeApi}`,
      metrics: `http://127.0.0.1:${ports.metrics}/metrics`,
    });
  }

  const [registryNode, ...operatorNodes] = nodes;
  if (!registryNode) throw new Error('no registry node');
  const api = `http://127.0.0.1:${registryPorts.api}`;
  await writeFile(join(dir, 'devnet.json'), `${JSON.stringify(describe(), null, 2)}\n`);
  say('starting the registry');
  await launch(registryNode);
  await waitFor('the registry to serve', registryNode, () =>
    healthIs(`http://127.0.0.1:${registryPorts.nodeApi}`, 200),
  );
  say(`starting ${operatorNodes.length} operators`);
  for (const node of operatorNodes) await launch(node);
  for (const [index, node] of operatorNodes.entries()) {
    const url = operatorEndpoints[index]?.nodeApi ?? '';
    await waitFor(`${node.name} to join`, node, () => healthIs(url, 200));
  }
  await waitFor(`${operatorCount} operators active`, registryNode, async () => {
    const response = await fetch(`${api}/v1/network`).catch(() => undefined);
    const body = (await response?.json().catch(() => undefined)) as
      | { operatorsByStatus?: Record<string, number> }
      | undefined;
    return (body?.operatorsByStatus?.['active'] ?? 0) >= operatorCount;
  });
  await writeFile(join(dir, 'devnet.json'), `${JSON.stringify(describe(), null, 2)}\n`);
  printSummary();
  say('devnet ready (Ctrl-C stops it)');

  function describe() {
    return {
      dir,
      blockTimeMs,
      epochLengthBlocks: Number(epochLengthBlocks),
      database: database.description,
      password: join(dir, 'password'),
      ownerKey: join(dir, 'owner.key'),
      userKey: join(dir, 'user.key'),
      chains: { ...chains, deployBlock: Number(testbed?.deployment.genesisBlock ?? 0n) },
      sample: {
        user: user.address,
        key: SAMPLE.key.toString(),
        value: SAMPLE.value.toString(),
        /** The block each chain stored it in: prove it at this block or later. */
        blocks: sampleBlocks,
      },
      registry: {
        api,
        admin: `http://127.0.0.1:${registryPorts.admin}`,
        nodeApi: `http://127.0.0.1:${registryPorts.nodeApi}`,
        metrics: `http://127.0.0.1:${registryPorts.metrics}/metrics`,
        p2p: registryP2p,
        peerId: registryPeerId,
        config: registryNode?.config,
        log: registryNode?.log,
        pid: registryNode?.child?.pid ?? null,
      },
      operators: operatorEndpoints.map((op, index) => ({
        ...op,
        config: operatorNodes[index]?.config,
        log: operatorNodes[index]?.log,
        pid: operatorNodes[index]?.child?.pid ?? null,
      })),
      anvil: testbed ? [testbed.mainAnvil.rpcUrl, stateChain?.anvil.rpcUrl] : [],
      devnetPid: process.pid,
      commands: Object.fromEntries(nodes.map((node) => [node.name, node.command])),
    };
  }

  function printSummary() {
    const lines = [
      '',
      `  main chain 31337   ${chains.main.rpcUrl}`,
      `  state chain ${STATE_CHAIN_ID}     ${stateChain?.anvil.rpcUrl}`,
      `  EpochManager       ${chains.main.epochManager}`,
      `  ECDSAStakeRegistry ${chains.main.stakeRegistry}`,
      `  StateManager       ${chains.state[1]?.stateManager} (chain ${STATE_CHAIN_ID}), ${chains.state[0]?.stateManager} (chain 31337)`,
      `  database           ${database.description}`,
      '',
      `  registry  proof API ${api}   node API http://127.0.0.1:${registryPorts.nodeApi}/eigen/node   metrics http://127.0.0.1:${registryPorts.metrics}/metrics`,
      `            admin ${`http://127.0.0.1:${registryPorts.admin}`}   p2p ${registryP2p}`,
      ...operatorEndpoints.map(
        (op) =>
          `  ${op.name.padEnd(10)} ${op.address}   node API ${op.nodeApi}/eigen/node   metrics ${op.metrics}`,
      ),
      '',
      `  sample value: key ${SAMPLE.key} = ${SAMPLE.value} for ${user.address} on chains ${STATE_CHAIN_ID} and 31337`,
      `  try:  pnpm spotted request --api ${api} --chain-id ${STATE_CHAIN_ID} --target ${user.address} --key ${SAMPLE.key} --block ${sampleBlocks[STATE_CHAIN_ID]} > proof.json`,
      `        pnpm spotted verify proof.json --rpc-url ${chains.main.rpcUrl} --registry ${chains.main.stakeRegistry}`,
      `        pnpm spotted status --api ${api}`,
      `  logs and configs: ${dir}`,
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

async function addNode(name: string, role: NodeEntry['role'], config: unknown) {
  const file = join(dir, `${name}.yaml`);
  nodes.push({
    name,
    role,
    config: file,
    log: join(dir, 'logs', `${name}.log`),
    command: [
      process.execPath,
      CLI,
      role,
      '--config',
      file,
      '--password-file',
      join(dir, 'password'),
    ],
  });
  await writeFile(file, `# generated by pnpm devnet\n${stringify(config)}`);
}

async function launch(node: NodeEntry) {
  await mkdir(join(dir, 'logs'), { recursive: true });
  const out = openSync(node.log, 'a');
  const [command, ...rest] = node.command;
  const child = spawn(command ?? process.execPath, [...rest, '--exit-on-stdin-close'], {
    cwd: ROOT,
    stdio: ['pipe', out, out],
    // Its own process group: Ctrl-C reaches this process, which stops the nodes in order.
    detached: true,
  });
  node.child = child;
  node.exited = new Promise((resolveExit) => {
    child.once('exit', (code, signal) => {
      if (!shuttingDown) {
        say(`${node.name} exited (${signal ?? `code ${code}`}); see ${node.log}`);
      }
      resolveExit();
    });
  });
}

async function shutdown(reason: string, exitCode = 0): Promise<void> {
  shuttingDown ??= (async () => {
    say(`stopping (${reason})`);
    const running = nodes.filter(
      (node) => node.child && node.child.exitCode === null && node.child.signalCode === null,
    );
    // Operators first, then the registry, each given time to drain.
    const operators = running.filter((node) => node.role === 'operator');
    const registries = running.filter((node) => node.role === 'registry');
    for (const group of [operators, registries]) {
      await Promise.all(group.map((node) => stopNode(node)));
    }
    mining = false;
    await miner;
    await testbed?.stop();
    await dropDatabase?.().catch((error: unknown) =>
      say(`could not drop the database: ${String(error)}`),
    );
    watchdog?.stdin?.end('clean\n');
    say('stopped');
    process.exit(exitCode);
  })();
  return shuttingDown;
}

async function stopNode(node: NodeEntry) {
  const child = node.child;
  if (!child?.pid) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    say(`${node.name} did not stop within ${STOP_TIMEOUT_MS} ms: killing it`);
    child.kill('SIGKILL');
  }, STOP_TIMEOUT_MS);
  await node.exited;
  clearTimeout(timer);
  say(`${node.name} stopped (${child.signalCode ?? `exit code ${child.exitCode}`})`);
}

/** This process's children (Linux): right after the testbed starts, the Anvil processes. */
function childPids(): number[] {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((pid) => pid !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * A small detached process that cleans up if this one dies without shutting down (SIGKILL, a
 * crash): its stdin is a pipe from us, so it sees the end; unless told `clean` first it stops
 * Anvil and drops the devnet database. The nodes need no help: they stop when their stdin closes.
 */
function startWatchdog(anvilPids: readonly number[]) {
  const code = `
    let clean = false; let drop; let input = '';
    process.stdin.on('data', (chunk) => {
      input += chunk;
      const lines = input.split('\\n');
      input = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'clean') clean = true;
        else if (line.startsWith('{')) drop = JSON.parse(line).dropDatabase;
      }
    });
    process.stdin.on('end', async () => {
      if (clean || input === 'clean') return;
      for (const pid of ${JSON.stringify(anvilPids)}) { try { process.kill(pid, 'SIGTERM'); } catch {} }
      if (drop) {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: drop.url, connectionTimeoutMillis: 2000 });
        try { await client.connect(); await client.query('DROP DATABASE IF EXISTS ' + drop.name + ' WITH (FORCE)'); } catch {}
        await client.end().catch(() => {});
      }
    });`;
  watchdog = spawn(process.execPath, ['--input-type=module', '-e', code], {
    cwd: ROOT,
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  watchdog.unref();
}

function startMiner(bed: Testbed) {
  mining = true;
  const anvils = [bed.mainAnvil, ...[...bed.stateChains.values()].map((s) => s.anvil)];
  const unique = [...new Set(anvils)];
  miner = (async () => {
    while (mining) {
      await Promise.all(unique.map((anvil) => anvil.mine(1).catch(() => {})));
      await new Promise((resolveSleep) => setTimeout(resolveSleep, blockTimeMs));
    }
  })();
}

async function chooseDatabase(): Promise<{
  description: string;
  section(name: string, schema: string): Record<string, unknown>;
  /** For the watchdog: the admin URL and the database to drop. */
  adminDrop?: { url: string; name: string };
}> {
  if (!args.pglite) {
    const adminUrl = args['postgres-url'] ?? '';
    const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
    try {
      await admin.connect();
      const name = `spotted_devnet_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      dropDatabase = async () => {
        const again = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
        await again.connect();
        await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await again.end();
      };
      say(
        `database: ${name} on the Postgres server at ${url.host} (dropped when the devnet stops)`,
      );
      return {
        description: `postgres ${url.host}/${name}`,
        section: (_node, schema) => ({ url: url.toString(), schema, maxConnections: 4 }),
        adminDrop: { url: adminUrl, name },
      };
    } catch (error) {
      await admin.end().catch(() => {});
      say(
        `no Postgres server at ${adminUrl.replace(/\/\/[^@]*@/, '//')} (${(error as Error).message}): using PGlite`,
      );
    }
  }
  return {
    description: `PGlite directories under ${join(dir, 'data')}`,
    section: (node, schema) => ({ pgliteDir: join(dir, 'data', node), schema }),
  };
}

async function keystore(file: string, kind: 'signing' | 'identity', password: string) {
  const privateKey = generatePrivateKey();
  const path = join(dir, 'keys', file);
  await writeKeystoreFile(
    path,
    await encryptKey({ privateKey, password, kind, scryptN: SCRYPT_N_LIGHT }),
  );
  return {
    file: path,
    address: privateKeyToAccount(privateKey).address as Address,
    peerId: kind === 'identity' ? peerIdOfKey(privateKey) : '',
  };
}

async function secretFile(name: string, content: string) {
  await writeFile(join(dir, name), `${content}\n`, { mode: 0o600 });
}

/** A fresh directory; an existing one is reused only if a devnet made it. */
async function prepareDir() {
  if (existsSync(dir)) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !entries.includes('devnet.json')) {
      throw new Error(`${dir} exists and was not made by pnpm devnet: choose another --dir`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
}

async function waitFor(
  what: string,
  node: NodeEntry,
  check: () => Promise<boolean>,
  limitMs = 120_000,
) {
  const deadline = Date.now() + limitMs;
  while (!(await check().catch(() => false))) {
    if (node.child && (node.child.exitCode !== null || node.child.signalCode !== null)) {
      throw new Error(`${node.name} exited while waiting for ${what}:\n${tail(node.log)}`);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${tail(node.log)}`);
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 200));
  }
}

async function healthIs(nodeApi: string, status: number): Promise<boolean> {
  const response = await fetch(`${nodeApi}/eigen/node/health`, {
    signal: AbortSignal.timeout(2_000),
  });
  return response.status === status;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

function positive(flag: string, value: string | undefined): number {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) {
    process.stderr.write(
      `devnet: error: ${flag}: expected a positive whole number, got ${value}\n`,
    );
    process.exit(2);
  }
  return parsed;
}

function say(message: string) {
  process.stdout.write(`devnet: ${message}\n`);
}
