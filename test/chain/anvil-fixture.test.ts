import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { getContractAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AnvilChain, startAnvil } from '../../src/adapters/anvil/anvil.ts';
import { startTestbed } from '../../src/adapters/anvil/testbed.ts';

let anvil: AnvilChain;

beforeAll(async () => {
  anvil = await startAnvil({ chainId: 777, automine: false, genesisTimestampSec: 1_000_000n });
});

afterAll(async () => {
  await anvil?.stop();
});

/** Runs an ES module script in a child Node process from the repository root. */
async function runScript(
  script: string,
): Promise<{ exitCode: number | null; output: string; exitedAtMs: number }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { exitCode, output, exitedAtMs: Date.now() };
}

function portIsOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Processes whose command line mentions Anvil and `needle`. */
function anvilProcessesWith(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(join('/proc', entry, 'cmdline'), 'utf8')
        .split('\0')
        .join(' ');
      if (cmdline.includes('anvil') && cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

describe('Anvil fixture', () => {
  test('behavior: listens on a free loopback port with the requested chain id', async () => {
    expect(anvil.rpcUrl).toBe(`http://127.0.0.1:${anvil.port}`);
    expect(anvil.port).toBeGreaterThan(0);
    expect(await anvil.publicClient.getChainId()).toBe(777);
  });

  test('behavior: manual mining only moves when told, with controlled timestamps', async () => {
    const start = await anvil.publicClient.getBlockNumber();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await anvil.publicClient.getBlockNumber()).toBe(start);
    await anvil.setNextBlockTimestamp(2_000_000n);
    await anvil.mine(1);
    const block = await anvil.publicClient.getBlock({ blockTag: 'latest' });
    expect(block.number).toBe(start + 1n);
    expect(block.timestamp).toBe(2_000_000n);
    await anvil.mine(3, { intervalSec: 12 });
    const later = await anvil.publicClient.getBlock({ blockTag: 'latest' });
    expect(later.number).toBe(start + 4n);
    expect(later.timestamp).toBeGreaterThan(block.timestamp);
    await anvil.mineBlockAt(later.timestamp + 100n);
    const stamped = await anvil.publicClient.getBlock({ blockTag: 'latest' });
    expect(stamped.number).toBe(start + 5n);
    expect(stamped.timestamp).toBe(later.timestamp + 100n);
  });

  test('behavior: snapshot and revert restore the chain', async () => {
    const before = await anvil.publicClient.getBlockNumber();
    const id = await anvil.snapshot();
    await anvil.mine(5);
    expect(await anvil.publicClient.getBlockNumber()).toBe(before + 5n);
    await anvil.revert(id);
    expect(await anvil.publicClient.getBlockNumber()).toBe(before);
  });

  test('behavior: a reorg replaces the last blocks with new ones at the same heights', async () => {
    await anvil.mine(4);
    const head = await anvil.publicClient.getBlock({ blockTag: 'latest' });
    const parent = await anvil.publicClient.getBlock({ blockNumber: head.number - 1n });
    const grandparent = await anvil.publicClient.getBlock({ blockNumber: head.number - 2n });
    await anvil.reorg(2);
    const newHead = await anvil.publicClient.getBlock({ blockTag: 'latest' });
    const newParent = await anvil.publicClient.getBlock({ blockNumber: head.number - 1n });
    const keptGrandparent = await anvil.publicClient.getBlock({ blockNumber: head.number - 2n });
    expect(newHead.number).toBe(head.number);
    expect(newHead.hash).not.toBe(head.hash);
    expect(newParent.hash).not.toBe(parent.hash);
    expect(keptGrandparent.hash).toBe(grandparent.hash);
  });

  test('behavior: stop() ends Anvil and leaves nothing that keeps the process alive', async () => {
    const script = [
      "import { startAnvil } from './src/adapters/anvil/anvil.ts';",
      'const anvil = await startAnvil({ chainId: 4243 });',
      "console.log('PORT ' + anvil.port);",
      'await anvil.stop();',
      "console.log('STOPPED ' + Date.now());",
    ].join('\n');
    const { exitCode, output, exitedAtMs } = await runScript(script);
    expect(exitCode).toBe(0);
    const stoppedAtMs = Number(/STOPPED (\d+)/.exec(output)?.[1]);
    // @viem/anvil's own stop leaves a timer of its stop timeout running (5 s here before).
    expect(exitedAtMs - stoppedAtMs).toBeLessThan(1500);
    const port = Number(/PORT (\d+)/.exec(output)?.[1]);
    expect(await portIsOpen(port)).toBe(false);
    expect(anvilProcessesWith('4243')).toEqual([]);
  });

  test('behavior: a test process that crashes leaves no Anvil behind', async () => {
    const script = [
      "import { startAnvil } from './src/adapters/anvil/anvil.ts';",
      'const anvil = await startAnvil({ chainId: 4242 });',
      "console.log('PORT ' + anvil.port);",
      "setTimeout(() => { throw new Error('test crashed'); }, 10);",
    ].join('\n');
    const { exitCode, output } = await runScript(script);
    expect(exitCode).not.toBe(0);
    const port = Number(/PORT (\d+)/.exec(output)?.[1]);
    expect(port).toBeGreaterThan(0);
    // The child is gone; its Anvil must follow promptly.
    for (let i = 0; i < 50 && (await portIsOpen(port)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await portIsOpen(port)).toBe(false);
    expect(anvilProcessesWith('4242')).toEqual([]);
  });

  test('behavior: a fresh deployer gets the same contract addresses on every run', async () => {
    const addresses = async () => {
      const testbed = await startTestbed({
        deployerPrivateKey: deployerKey,
        stateChainIds: [5151],
      });
      try {
        return {
          main: testbed.deployment,
          stateChain: testbed.stateChains.get(5151)?.stateManager,
        };
      } finally {
        await testbed.stop();
      }
    };
    const deployerKey = generatePrivateKey();
    const first = await addresses();
    const second = await addresses();
    expect(second).toEqual(first);
    const from = privateKeyToAccount(deployerKey).address;
    expect(first.main.epochManager).toBe(getContractAddress({ from, nonce: 0n }));
    expect(first.main.stakeRegistry).toBe(getContractAddress({ from, nonce: 1n }));
    expect(first.main.stateManager).toBe(getContractAddress({ from, nonce: 2n }));
    expect(first.stateChain).toBe(getContractAddress({ from, nonce: 0n }));
  });

  test('behavior: a testbed whose setup fails stops the chains it started', async () => {
    const before = anvilProcessesWith('9191');
    const error = await startTestbed({
      mainChainId: 9191,
      epochLengthBlocks: 5n,
      gracePeriodBlocks: 5n,
    }).catch((e: unknown) => e);
    expect(String(error)).toContain('deploy EpochManager: reverted with InvalidGracePeriod');
    expect(before).toEqual([]);
    expect(anvilProcessesWith('9191')).toEqual([]);
  });
});
