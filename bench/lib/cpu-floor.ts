/**
 * The CPU floor of one aggregation: the work no implementation can skip, done with the same
 * libraries but none of the node code — N signatures (one per operator), threshold-many
 * recoveries (the aggregator must check a threshold's worth of signatures), and N + 1 chain reads
 * (the aggregator's and each operator's `getHistoryAtBlock`), one after another as the
 * simulator's I/O gate runs them.
 */
import { createRequire } from 'node:module';
import type * as Secp256k1Library from 'secp256k1';
import { hexToBytes, keccak256, toHex } from 'viem';
import { median } from './measure.ts';

export interface CpuFloor {
  signs: number;
  recoveries: number;
  chainReads: number;
  repetitions: number;
  /** Medians over the repetitions, in ms. */
  signMs: number;
  recoverMs: number;
  chainReadsMs: number;
  /** signMs + recoverMs + chainReadsMs. */
  totalMs: number;
  chainReadMeanMs: number;
}

export async function measureCpuFloor(args: {
  operators: number;
  thresholdSigners: number;
  repetitions: number;
  /** One chain read, straight through viem (no port, no gate). */
  readHistory: () => Promise<unknown>;
}): Promise<CpuFloor> {
  const native = createRequire(import.meta.url)('secp256k1/bindings.js') as typeof Secp256k1Library;
  const keys = Array.from({ length: args.operators }, (_, i) =>
    hexToBytes(keccak256(toHex(`bench-floor-key:${i}`))),
  );
  const signMs: number[] = [];
  const recoverMs: number[] = [];
  const chainReadsMs: number[] = [];
  // One extra round first, not counted: JIT and connection warm-up.
  for (let rep = -1; rep < args.repetitions; rep++) {
    const digest = hexToBytes(keccak256(toHex(`bench-floor-digest:${rep}`)));
    let startMs = performance.now();
    const signatures = keys.map((key) => native.ecdsaSign(digest, key));
    const signed = performance.now() - startMs;
    startMs = performance.now();
    for (const { signature, recid } of signatures.slice(0, args.thresholdSigners)) {
      native.ecdsaRecover(signature, recid, digest, false);
    }
    const recovered = performance.now() - startMs;
    startMs = performance.now();
    for (let read = 0; read < args.operators + 1; read++) await args.readHistory();
    const read = performance.now() - startMs;
    if (rep < 0) continue;
    signMs.push(signed);
    recoverMs.push(recovered);
    chainReadsMs.push(read);
  }
  const floor = {
    signMs: median(signMs),
    recoverMs: median(recoverMs),
    chainReadsMs: median(chainReadsMs),
  };
  return {
    signs: args.operators,
    recoveries: args.thresholdSigners,
    chainReads: args.operators + 1,
    repetitions: args.repetitions,
    ...floor,
    totalMs: floor.signMs + floor.recoverMs + floor.chainReadsMs,
    chainReadMeanMs: floor.chainReadsMs / (args.operators + 1),
  };
}
