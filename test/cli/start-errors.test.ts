import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import {
  encryptKey,
  generatePrivateKey,
  SCRYPT_N_LIGHT,
} from '../../src/adapters/keystore/keystore.ts';
import { spotted, stderrLines } from './support.ts';

/**
 * Each mistake an operator can make when starting a node is one line on stderr that says what to
 * fix, and a non-zero exit code: before anything listens or connects, or as soon as the chains
 * are checked.
 */
let dir: string;
let testbed: Testbed;
let passwordFile: string;
let signingKeystore: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotted-cli-errors-'));
  testbed = await startTestbed({ stateChainIds: [] });
  passwordFile = join(dir, 'password');
  await writeFile(passwordFile, 'right password\n');
  signingKeystore = join(dir, 'signing.json');
  await writeFile(
    signingKeystore,
    await encryptKey({
      privateKey: generatePrivateKey(),
      password: 'right password',
      kind: 'signing',
      scryptN: SCRYPT_N_LIGHT,
    }),
  );
});

afterAll(async () => {
  await testbed?.stop();
  await rm(dir, { recursive: true, force: true });
});

function operatorConfig(overrides: { chains?: object; operator?: object; extra?: object } = {}) {
  return {
    operator: {
      address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      signingKeystores: [signingKeystore],
      registryBootstrap: [
        '/ip4/127.0.0.1/tcp/9000/p2p/16Uiu2HAm7y4wLLNsMjdvS9dKgbXmmmDr8TaiL2HWZrd6sRFZqGZM',
      ],
      ...overrides.operator,
    },
    chains: overrides.chains ?? {
      main: {
        rpcUrl: testbed.mainAnvil.rpcUrl,
        chainId: 31337,
        epochManager: testbed.deployment.epochManager,
        stakeRegistry: testbed.deployment.stakeRegistry,
      },
      state: [
        {
          rpcUrl: testbed.mainAnvil.rpcUrl,
          chainId: 31337,
          stateManager: testbed.deployment.stateManager,
        },
      ],
      retryCount: 0,
    },
    network: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    database: { pgliteDir: join(dir, 'data') },
    nodeApi: { port: 0 },
    metrics: { port: 0 },
    ...overrides.extra,
  };
}

let configCounter = 0;
async function startOperator(config: object, password = passwordFile) {
  configCounter += 1;
  const file = join(dir, `operator-${configCounter}.yaml`);
  await writeFile(file, stringify(config));
  const run = await spotted(['operator', '--config', file, '--password-file', password]);
  return { run, file, lines: stderrLines(run) };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('spotted operator: start errors', () => {
  test('behavior: an unknown config key names the key, its line and the likely fix', async () => {
    const { run, file, lines } = await startOperator(
      operatorConfig({ extra: { metrics: { prot: 9191 } } }),
    );
    expect(run.code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^error: ${file}:\\d+:\\d+: metrics\\.prot: unknown key \\(did you mean port\\?\\)$`,
      ),
    );
  });

  test('behavior: a wrong keystore password names the keystore', async () => {
    const wrong = join(dir, 'wrong-password');
    await writeFile(wrong, 'not it\n');
    const { run, lines } = await startOperator(operatorConfig(), wrong);
    expect(run.code).not.toBe(0);
    expect(lines).toEqual([
      `error: keystore ${signingKeystore}: wrong password (the MAC check failed; if the password is right, the file was modified)`,
    ]);
  });

  test('behavior: a corrupt keystore says it is not a keystore', async () => {
    const corrupt = join(dir, 'corrupt.json');
    await writeFile(corrupt, '{"version": 3, "Crypto": {"cipher": "aes-128-ctr"');
    const { run, lines } = await startOperator(
      operatorConfig({ operator: { signingKeystores: [corrupt] } }),
    );
    expect(run.code).not.toBe(0);
    expect(lines).toEqual([`error: keystore ${corrupt}: is not JSON (a damaged or wrong file?)`]);
  });

  test('behavior: an unreachable RPC names the chain, the URL and the key to check', async () => {
    const port = await closedPort();
    const config = operatorConfig();
    const chains = config.chains as { main: { rpcUrl: string } };
    chains.main.rpcUrl = `http://127.0.0.1:${port}`;
    const { run, lines } = await startOperator(config);
    expect(run.code).not.toBe(0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `^error: main chain 31337: connect: RPC request to http://127\\.0\\.0\\.1:${port} failed: .*\\(is the node running\\? check chains\\.main\\.rpcUrl\\)$`,
      ),
    );
  });

  test('behavior: a wrong contract address names the contract, the address and the key', async () => {
    const config = operatorConfig();
    const wrong = '0x000000000000000000000000000000000000dEaD';
    (config.chains as { main: { stakeRegistry: string } }).main.stakeRegistry = wrong;
    const { run, lines } = await startOperator(config);
    expect(run.code).not.toBe(0);
    expect(lines).toEqual([
      `error: main chain 31337: getMinimumWeight: no ECDSAStakeRegistry contract at ${wrong} (check the configured ECDSAStakeRegistry address) [config: chains.main.stakeRegistry]`,
    ]);
  });
});
