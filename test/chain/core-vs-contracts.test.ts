import fc from 'fast-check';
import { type Address, type Hex, keccak256, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spottedTaskIdAbi, spottedTaskIdBytecode } from '../../contracts-abi/SpottedTaskId.ts';
import { startTestbed, type Testbed } from '../../src/adapters/anvil/testbed.ts';
import { deployMainChainContracts } from '../../src/adapters/chain-viem/deploy.ts';
import { createViemMainChain } from '../../src/adapters/chain-viem/main-chain.ts';
import { createRegistryWriter } from '../../src/adapters/chain-viem/writes.ts';
import { createNativeSecp256k1 } from '../../src/adapters/crypto/native-secp256k1.ts';
import { ContractRevertError } from '../../src/chain/errors.ts';
import { buildSignatureSet } from '../../src/core/signature-set.ts';
import { computeTaskId } from '../../src/core/task-id.ts';
import { maxUint } from '../../src/core/uint.ts';
import { mineUntil } from '../support/chain-helpers.ts';

const secp256k1 = createNativeSecp256k1();
let testbed: Testbed;
let taskIdContract: Address;

beforeAll(async () => {
  testbed = await startTestbed();
  const wallet = testbed.mainAnvil.walletClient(testbed.deployer);
  const hash = await wallet.deployContract({
    abi: spottedTaskIdAbi,
    bytecode: spottedTaskIdBytecode,
    account: testbed.deployer,
    chain: wallet.chain,
  });
  const receipt = await testbed.mainAnvil.publicClient.waitForTransactionReceipt({
    hash,
    pollingInterval: 20,
  });
  if (!receipt.contractAddress) throw new Error('SpottedTaskId not deployed');
  taskIdContract = receipt.contractAddress;
});

afterAll(async () => {
  await testbed?.stop();
});

/** Uniform values plus the edges of each width (0, 1, max-1, max). */
const uintOf = (type: Parameters<typeof maxUint>[0]) => {
  const max = maxUint(type);
  return fc.oneof(fc.bigInt({ min: 0n, max }), fc.constantFrom(0n, 1n, max - 1n, max));
};

describe('computeTaskId', () => {
  test("property: equals Solidity's keccak256(abi.encodePacked(...)) at full width", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          user: fc.oneof(
            fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => toHex(b)),
            fc.constantFrom(
              '0x0000000000000000000000000000000000000000',
              '0xffffffffffffffffffffffffffffffffffffffff',
            ),
          ),
          chainId: uintOf('uint32').map(Number),
          blockNumber: uintOf('uint64'),
          timestampSec: uintOf('uint48'),
          epoch: uintOf('uint32').map(Number),
          key: uintOf('uint256'),
          value: uintOf('uint256'),
        }),
        async (fields) => {
          const ours = computeTaskId({ ...fields, user: fields.user as Address });
          const theirs = await testbed.mainAnvil.publicClient.readContract({
            address: taskIdContract,
            abi: spottedTaskIdAbi,
            functionName: 'computeTaskId',
            args: [
              fields.user as Address,
              fields.chainId,
              fields.blockNumber,
              Number(fields.timestampSec),
              fields.epoch,
              fields.key,
              fields.value,
            ],
          });
          expect(ours).toBe(theirs);
        },
      ),
      { numRuns: 150 },
    );
  });
});

interface Member {
  operatorKey: Hex;
  operator: Address;
  signingKey: Hex;
  weight: bigint;
  /** A key rotated in before the reference epoch, if any. */
  rotatedKey?: Hex;
  signs: boolean;
}

describe('buildSignatureSet against isValidSignature', () => {
  test('property: valid at exactly the threshold, InsufficientSignedStake one wei below', async () => {
    const EPOCH = 8n;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            weight: fc.oneof(
              fc.bigInt({ min: 1n, max: 10n ** 24n }),
              fc.constantFrom(1n, 10n ** 18n + 1n),
            ),
            rotates: fc.boolean(),
            signs: fc.boolean(),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (drawn) => {
          if (!drawn.some((d) => d.signs))
            drawn[0] = { ...(drawn[0] ?? { weight: 1n, rotates: false }), signs: true };
          // A fresh registry per run keeps epochs and thresholds independent.
          const deployment = await deployMainChainContracts(
            testbed.mainAnvil.writeContext(testbed.deployer),
            {
              epochLengthBlocks: EPOCH,
              gracePeriodBlocks: 1n,
            },
          );
          const main = createViemMainChain({
            client: testbed.mainAnvil.publicClient,
            chainId: testbed.mainAnvil.chainId,
            rpcUrl: testbed.mainAnvil.rpcUrl,
            epochManagerAddress: deployment.epochManager,
            stakeRegistryAddress: deployment.stakeRegistry,
          });
          const owner = createRegistryWriter(
            testbed.mainAnvil.writeContext(testbed.deployer),
            deployment.stakeRegistry,
          );
          const startOf = (epoch: bigint) => deployment.genesisBlock + epoch * EPOCH;

          const members: Member[] = drawn.map((d) => {
            const operatorKey = generatePrivateKey();
            return {
              operatorKey,
              operator: privateKeyToAccount(operatorKey).address,
              signingKey: generatePrivateKey(),
              weight: d.weight,
              signs: d.signs,
              ...(d.rotates ? { rotatedKey: generatePrivateKey() } : {}),
            };
          });
          for (const m of members) {
            await owner.registerOperator({
              operator: m.operator,
              signingKey: secp256k1.addressOf(m.signingKey),
              weight: m.weight,
            });
          }
          // Rotations and the threshold T take effect together at `atEpoch` (read back: it depends
          // on whether the block fell in a grace period); T + 1 is written once `atEpoch` has
          // started, so it takes effect at a later epoch.
          const reach = async (epoch: bigint) => {
            if ((await main.getBlockNumber()) < startOf(epoch))
              await mineUntil(testbed.mainAnvil, startOf(epoch));
          };
          await reach(1n);
          for (const m of members.filter((x) => x.rotatedKey)) {
            await testbed.mainAnvil.fund(m.operator);
            const asOperator = createRegistryWriter(
              testbed.mainAnvil.writeContext(privateKeyToAccount(m.operatorKey)),
              deployment.stakeRegistry,
            );
            await asOperator.updateOperatorSigningKey({
              newSigningKey: secp256k1.addressOf(m.rotatedKey as Hex),
            });
          }
          const signers = members.filter((m) => m.signs);
          const signedWeight = signers.reduce((sum, m) => sum + m.weight, 0n);
          await owner.updateStakeThreshold({ thresholdWeight: signedWeight });
          const atEpoch = await main.getEffectiveEpochForBlock(await main.getBlockNumber());
          await reach(BigInt(atEpoch));
          await owner.updateStakeThreshold({ thresholdWeight: signedWeight + 1n });
          const belowEpoch = await main.getEffectiveEpochForBlock(await main.getBlockNumber());
          expect(belowEpoch).toBeGreaterThan(atEpoch);
          await reach(BigInt(belowEpoch));

          const digest = keccak256(toHex(`task ${signedWeight}`));
          const keyAt = (m: Member) => m.rotatedKey ?? m.signingKey;
          for (const [epoch, expected] of [
            [atEpoch, 'valid'],
            [belowEpoch, 'InsufficientSignedStake'],
          ] as const) {
            const epochOperators = members.map((m) => ({
              operator: m.operator,
              weightWei: m.weight,
              signingKey: secp256k1.addressOf(keyAt(m)),
            }));
            const threshold = await main.getThresholdWeightAtEpoch(epoch);
            const set = buildSignatureSet({
              secp256k1,
              digest,
              referenceEpoch: epoch,
              responses: signers.map((m) => ({
                operator: m.operator,
                signature: secp256k1.sign(digest, keyAt(m)),
              })),
              epochOperators,
              thresholdWeightWei: threshold,
            });
            expect(set.rejected).toEqual([]);
            expect(set.signedWeightWei).toBe(signedWeight);
            expect(set.reachesThreshold).toBe(expected === 'valid');
            const outcome = await main
              .verifySignatureSet({ digest, signatureData: set.signatureData })
              .then(() => 'valid')
              .catch((e: unknown) => (e instanceof ContractRevertError ? e.errorName : e));
            expect(outcome).toBe(expected);
          }
        },
      ),
      { numRuns: 12 },
    );
  });
});
