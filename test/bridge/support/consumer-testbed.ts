import type { Address, Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { spottedConsumerAbi } from '../../../contracts-abi/SpottedConsumer.ts';
import { startTestbed, type Testbed } from '../../../src/adapters/anvil/testbed.ts';
import { createViemConsumerChain } from '../../../src/adapters/chain-viem/consumer.ts';
import { deploySpottedConsumer } from '../../../src/adapters/chain-viem/deploy.ts';
import type { ConsumerChain } from '../../../src/aggregator/delivery-ports.ts';
import { mineUntil, sortByAddressNumber } from '../../support/chain-helpers.ts';

export const EPOCH_LENGTH = 12n;

export interface TestOperator {
  operator: Address;
  signingKey: Hex;
  signer: Address;
  weight: bigint;
}

export interface ConsumerTestbed {
  testbed: Testbed;
  /** Ascending by address as a number. */
  operators: TestOperator[];
  consumer: Address;
  /** The account every ConsumerChain made here submits from. */
  submitter: Address;
  /** A fresh port onto the consumer (a restarted node builds a new one over the same chain). */
  consumerChain(): ConsumerChain;
  /** Transactions the submitter has sent (mined), and task ids the consumer stores. */
  submitterNonce(): Promise<number>;
  storedCount(): Promise<bigint>;
  stop(): Promise<void>;
}

/**
 * Anvil with the Spotted contracts, `weights.length` operators registered and active at epoch 1
 * (the head is in epoch 1), and a SpottedConsumer checking signatures with that registry. The
 * main chain is the destination chain here: its registry is the one the consumer calls.
 */
export async function startConsumerTestbed(weights: readonly bigint[]): Promise<ConsumerTestbed> {
  const testbed = await startTestbed({ epochLengthBlocks: EPOCH_LENGTH, gracePeriodBlocks: 3n });
  try {
    const operators = sortByAddressNumber(
      weights.map((weight) => {
        const signingKey = generatePrivateKey();
        return {
          operator: privateKeyToAccount(generatePrivateKey()).address,
          signingKey,
          signer: privateKeyToAccount(signingKey).address,
          weight,
        };
      }),
    );
    for (const op of operators) {
      await testbed.registry.registerOperator({
        operator: op.operator,
        signingKey: op.signer,
        weight: op.weight,
      });
    }
    await mineUntil(testbed.mainAnvil, testbed.deployment.genesisBlock + EPOCH_LENGTH);
    const deployerContext = testbed.mainAnvil.writeContext(testbed.deployer, testbed.main.label);
    const consumer = await deploySpottedConsumer(deployerContext, {
      registry: testbed.deployment.stakeRegistry,
    });
    const submitterAccount = privateKeyToAccount(generatePrivateKey());
    await testbed.mainAnvil.fund(submitterAccount.address);
    const submitterContext = testbed.mainAnvil.writeContext(submitterAccount, testbed.main.label);
    return {
      testbed,
      operators,
      consumer,
      submitter: submitterAccount.address,
      consumerChain: () =>
        createViemConsumerChain(submitterContext, {
          chainId: testbed.mainAnvil.chainId,
          consumerAddress: consumer,
        }),
      submitterNonce: () =>
        testbed.mainAnvil.publicClient.getTransactionCount({
          address: submitterAccount.address,
          blockTag: 'latest',
        }),
      storedCount: () =>
        testbed.mainAnvil.publicClient.readContract({
          address: consumer,
          abi: spottedConsumerAbi,
          functionName: 'storedCount',
        }),
      stop: () => testbed.stop(),
    };
  } catch (error) {
    await testbed.stop();
    throw error;
  }
}
