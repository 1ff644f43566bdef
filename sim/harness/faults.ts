import { ChainRpcError } from '../../src/chain/errors.ts';
import type { ChainReader, Chains, MainChain, StateChain } from '../../src/ports/chain.ts';
import type { Clock, TimerHandle } from '../../src/ports/clock.ts';
import type { Rng } from '../../src/ports/rng.ts';

/** An RPC fault active on one chain until `untilMs` (virtual). */
export interface RpcFault {
  errorRate: number;
  latencyMs: number;
  staleBlocks: number;
  untilMs: number;
}

/**
 * Wraps a chain port so calls can fail, slow down or read stale heads while a fault is active on
 * its chain id. Randomness from the run's Rng; delays on the virtual clock (outside the I/O gate,
 * so a slow call does not hold up other nodes).
 */
export function withRpcFaults<T extends ChainReader>(
  chain: T,
  deps: { clock: Clock; rng: Rng; faultFor: (chainId: number) => RpcFault | undefined },
): T {
  const active = () => {
    const fault = deps.faultFor(chain.chainId);
    return fault && deps.clock.now() < fault.untilMs ? fault : undefined;
  };
  return new Proxy(chain, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]) => {
        const fault = active();
        if (fault) {
          if (fault.latencyMs > 0) await deps.clock.sleep(fault.latencyMs);
          if (fault.errorRate > 0 && deps.rng.next() < fault.errorRate) {
            throw new ChainRpcError('injected fault: connection reset', {
              chain: chain.label,
              call: property,
              rpcUrl: 'sim://fault',
            });
          }
          if (fault.staleBlocks > 0 && property === 'getBlockNumber') {
            const head = (await fn.apply(target, args)) as bigint;
            return head > BigInt(fault.staleBlocks) ? head - BigInt(fault.staleBlocks) : 0n;
          }
          if (fault.staleBlocks > 0 && property === 'getBlock' && args[0] === 'latest') {
            const head = (await target.getBlockNumber()) - BigInt(fault.staleBlocks);
            return target.getBlock(head > 0n ? head : 0n);
          }
        }
        return fn.apply(target, args);
      };
    },
  });
}

/** Applies `wrap` to the main chain and every state chain of `chains`. */
export function mapChains(
  chains: Chains,
  wrap: { main: (chain: MainChain) => MainChain; state: (chain: StateChain) => StateChain },
): Chains {
  const main = wrap.main(chains.main);
  const states = new Map(chains.stateChainIds.map((id) => [id, wrap.state(chains.state(id))]));
  return {
    main,
    stateChainIds: chains.stateChainIds,
    state(chainId) {
      const chain = states.get(chainId);
      if (!chain) return chains.state(chainId); // throws UnknownChainError
      return chain;
    },
  };
}

/** A clock whose `now()` is shifted by a per-node skew (timers keep their durations). */
export function skewedClock(base: Clock, skewMs: () => number): Clock {
  return {
    now: () => base.now() + skewMs(),
    sleep: (durationMs, options) => base.sleep(durationMs, options),
    setTimer: (delayMs, callback): TimerHandle => base.setTimer(delayMs, callback),
  };
}

/** A wrong view of the main chain for one registry: operator weights multiplied, until `untilMs`. */
export interface ChainViewCorruption {
  weightFactor: bigint;
  untilMs: number;
}

/**
 * The registry's chains with its main-chain view corrupted while `corruption()` is active: every
 * `getOperatorWeightAtEpoch` answers the true weight times `weightFactor`, as if this registry
 * alone were fed a wrong event stream. The other chains and calls pass through untouched.
 */
export function withChainViewCorruption(
  chains: Chains,
  deps: { clock: Clock; corruption: () => ChainViewCorruption | undefined },
): Chains {
  const main = new Proxy(chains.main, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'getOperatorWeightAtEpoch' || typeof value !== 'function') return value;
      const read = value as MainChain['getOperatorWeightAtEpoch'];
      const corrupted: MainChain['getOperatorWeightAtEpoch'] = async (args) => {
        const weightWei = await read.call(target, args);
        const corruption = deps.corruption();
        if (corruption === undefined || deps.clock.now() >= corruption.untilMs) return weightWei;
        return weightWei * corruption.weightFactor;
      };
      return corrupted;
    },
  });
  return { main, stateChainIds: chains.stateChainIds, state: (id) => chains.state(id) };
}
