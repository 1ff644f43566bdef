import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePrivateKey } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { stringify } from 'yaml';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { spotted, stderrLines } from '../cli/support.ts';

/**
 * The registry's consumer contracts at start: a missing submitter key or a wrong consumer address
 * stops `spotted registry` with one line naming the configuration key; `spotted request` checks
 * its delivery flags before calling anyone.
 */
let dir: string;
let testbed: Testbed;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotted-consumer-config-'));
  testbed = await startTestbed({ stateChainIds: [] });
});

afterAll(async () => {
  await testbed?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function registryConfig(consumers: object[]): Promise<string> {
  const file = join(dir, `registry-${consumers.length}-${Math.random()}.yaml`);
  await writeFile(
    file,
    stringify({
      chains: {
        main: {
          rpcUrl: testbed.mainAnvil.rpcUrl,
          chainId: 31337,
          epochManager: testbed.deployment.epochManager,
          stakeRegistry: testbed.deployment.stakeRegistry,
        },
      },
      registry: { startBlock: 0 },
      consumers,
      api: { enabled: false },
      admin: { enabled: false },
      nodeApi: { enabled: false },
      metrics: { enabled: false },
      network: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      database: { pgliteDir: join(dir, 'data') },
    }),
  );
  return file;
}

describe('spotted registry: consumer contracts', () => {
  test('behavior: a consumer without a submitter key is refused before anything starts', async () => {
    const file = await registryConfig([
      { chainId: 31337, address: testbed.deployment.stakeRegistry },
    ]);
    const run = await spotted(['registry', '--config', file], {
      env: { SPOTTED_DEV_IDENTITY_KEY: generatePrivateKey() },
    });
    expect(run.code).toBe(2);
    expect(stderrLines(run)).toEqual([
      'error: consumers.0.submitterKeystore: give the keystore of the account that submits to the consumer on chain 31337 (spotted keys create --kind signing), or set SPOTTED_DEV_SUBMITTER_KEY for development',
    ]);
  });

  test('behavior: an address that holds no SpottedConsumer fails the start naming consumers.0.address', async () => {
    // The EpochManager answers no storedCount().
    const file = await registryConfig([
      { chainId: 31337, address: testbed.deployment.epochManager },
    ]);
    const submitterKey = generatePrivateKey();
    const run = await spotted(['registry', '--config', file], {
      env: {
        SPOTTED_DEV_IDENTITY_KEY: generatePrivateKey(),
        SPOTTED_DEV_SUBMITTER_KEY: submitterKey,
      },
    });
    expect(run.code).toBe(1);
    expect(stderrLines(run)).toEqual([
      `error: consumer chain 31337: connect: no SpottedConsumer contract at ${testbed.deployment.epochManager} (check the configured SpottedConsumer address) [config: consumers.0.address]`,
    ]);
    // The submitter's key is a secret: never in the output.
    expect(run.stdout + run.stderr).not.toContain(submitterKey.slice(2));
  });
});

describe('spotted request: delivery flags', () => {
  test('behavior: --callback-url must be http(s) and --submit-to-chain a number', async () => {
    const base = [
      'request',
      '--api',
      'http://127.0.0.1:1',
      '--chain-id',
      '10',
      '--target',
      '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
      '--key',
      '1',
      '--block',
      '5',
    ];
    const badUrl = await spotted([...base, '--callback-url', 'ftp://example.com/x']);
    expect(badUrl.code).toBe(2);
    expect(stderrLines(badUrl)).toEqual([
      'error: --callback-url: expected an http(s):// URL, got "ftp://example.com/x"',
    ]);
    const badChain = await spotted([...base, '--submit-to-chain', 'main']);
    expect(badChain.code).toBe(2);
    expect(stderrLines(badChain)).toEqual([
      'error: --submit-to-chain: expected a non-negative integer (decimal or 0x hex), got "main"',
    ]);
  });
});
