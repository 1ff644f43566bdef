/**
 * Worker: the aggregator's signature verification throughput on one core, through the code path
 * it uses (`verifyOperatorSignature` with the native secp256k1 adapter), next to the raw recover
 * throughput of each library on the same signatures. `node bench/verify-worker.ts --config
 * '{"signatures":2000,"rounds":5}' --result out.json`; normally started by `pnpm bench`.
 */
import { createRequire } from 'node:module';
import { secp256k1 as noble } from '@noble/curves/secp256k1';
import type * as Secp256k1Library from 'secp256k1';
import { type Address, type Hex, keccak256, recoverAddress, toHex } from 'viem';
import { createNativeSecp256k1 } from '../src/adapters/crypto/native-secp256k1.ts';
import { createNobleSecp256k1 } from '../src/adapters/crypto/noble-secp256k1.ts';
import type { EpochOperator } from '../src/core/epoch-state.ts';
import { verifyOperatorSignature } from '../src/core/signature-set.ts';
import { digestBytes, parseSignature } from '../src/crypto/signature-encoding.ts';
import { compareThroughput, measureThroughputAsync, type Throughput } from './lib/measure.ts';
import { progress, readWorkerArgs, writeWorkerResult } from './lib/worker-io.ts';

export interface VerifyConfig {
  /** Distinct (digest, signature) pairs per round. */
  signatures: number;
  rounds: number;
}

export interface VerifyResult {
  signatures: number;
  rounds: number;
  /** `verifyOperatorSignature` + native adapter: what the aggregator runs per response. */
  aggregatorVerify: Throughput;
  /** The native adapter's `recoverAddress` alone (parse, recover, keccak, checksum). */
  nativeAdapterRecoverAddress: Throughput;
  /** libsecp256k1 `ecdsaRecover` on pre-parsed bytes: the fastest recover available here. */
  nativeRawRecover: Throughput;
  /** @noble/curves `recoverPublicKey` on pre-parsed bytes (context). */
  nobleRawRecover: Throughput;
  /** The noble adapter's `recoverAddress` (context). */
  nobleAdapterRecoverAddress: Throughput;
  /** viem's `recoverAddress` (async; context). */
  viemRecoverAddress: Throughput;
  /** aggregatorVerify / nativeRawRecover. */
  verifyToRawRatio: number;
}

const { config, resultPath } = readWorkerArgs<VerifyConfig>();
const native = createRequire(import.meta.url)('secp256k1/bindings.js') as typeof Secp256k1Library;
const nativeAdapter = createNativeSecp256k1();
const nobleAdapter = createNobleSecp256k1();

// 64 signing keys, as many operators as a mid-size set; every signature over its own digest.
const keys = Array.from({ length: 64 }, (_, i) => keccak256(toHex(`bench-verify-key:${i}`)));
const signingKeys = keys.map((key) => nativeAdapter.addressOf(key));
const samples = Array.from({ length: config.signatures }, (_, i) => {
  const keyIndex = i % keys.length;
  const digest = keccak256(toHex(`bench-verify-digest:${i}`));
  const signature = nativeAdapter.sign(digest, keys[keyIndex] as Hex);
  const parsed = parseSignature(signature);
  const epochOperator: EpochOperator = {
    operator: `0x${(i % keys.length).toString(16).padStart(40, '0')}` as Address,
    weightWei: 100n,
    signingKey: signingKeys[keyIndex] as Address,
  };
  return {
    digest,
    signature,
    hash: digestBytes(digest),
    compact: parsed.compact,
    recoveryBit: parsed.recoveryBit,
    epochOperator,
  };
});
const at = (i: number) => samples[i] as (typeof samples)[number];

// The fast candidates take turns within each round; noble (≈ 30× slower) runs on fewer inputs.
const fast = compareThroughput(config.signatures, config.rounds, {
  aggregatorVerify: (i) => {
    const sample = at(i);
    const check = verifyOperatorSignature({
      secp256k1: nativeAdapter,
      digest: sample.digest,
      epochOperator: sample.epochOperator,
      signature: sample.signature,
    });
    if (!check.valid) throw new Error(`sample ${i} did not verify: ${check.detail}`);
  },
  nativeAdapterRecoverAddress: (i) => nativeAdapter.recoverAddress(at(i).digest, at(i).signature),
  nativeRawRecover: (i) => native.ecdsaRecover(at(i).compact, at(i).recoveryBit, at(i).hash, false),
});
const slowCount = Math.min(config.signatures, 300);
const slow = compareThroughput(slowCount, config.rounds, {
  nobleRawRecover: (i) =>
    noble.Signature.fromCompact(at(i).compact)
      .addRecoveryBit(at(i).recoveryBit)
      .recoverPublicKey(at(i).hash)
      .toRawBytes(false),
  nobleAdapterRecoverAddress: (i) => nobleAdapter.recoverAddress(at(i).digest, at(i).signature),
});
const { aggregatorVerify, nativeAdapterRecoverAddress, nativeRawRecover } = fast;
const { nobleRawRecover, nobleAdapterRecoverAddress } = slow;
for (const [name, throughput] of Object.entries({ ...fast, ...slow })) {
  progress(`${name}: ${Math.round(throughput.opsPerSec).toLocaleString('en-US')}/s`);
}

// viem is pure JS and async: measured on its own, on the smaller input set.
const viemRecoverAddress = await measureThroughputAsync(slowCount, config.rounds, (i) =>
  recoverAddress({ hash: at(i).digest, signature: at(i).signature }),
);
progress(
  `viem recoverAddress: ${Math.round(viemRecoverAddress.opsPerSec).toLocaleString('en-US')}/s`,
);

const result: VerifyResult = {
  signatures: config.signatures,
  rounds: config.rounds,
  aggregatorVerify,
  nativeAdapterRecoverAddress,
  nativeRawRecover,
  nobleRawRecover,
  nobleAdapterRecoverAddress,
  viemRecoverAddress,
  verifyToRawRatio: aggregatorVerify.opsPerSec / nativeRawRecover.opsPerSec,
};
writeWorkerResult(resultPath, result);
