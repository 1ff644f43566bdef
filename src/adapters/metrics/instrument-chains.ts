import { performance } from 'node:perf_hooks';
import type { Chains, StateChain } from '../../ports/chain.ts';

/** Receives one observation per chain call. */
export type RpcObserver = (method: string, clientVersion: string, durationSeconds: number) => void;

/**
 * A decorator of the Chains port that times every call (the `eigen_rpc_request_*` metrics)
 * without the node code knowing. The `method` label is the port's call (`getHistoryAtBlock`,
 * `getBlock`, …): each is one JSON-RPC request or a small fixed set of them. `clientVersionOf`
 * gives a chain's `web3_clientVersion` (see fetchClientVersion).
 */
export function instrumentChains(
  chains: Chains,
  observe: RpcObserver,
  clientVersionOf: (chainId: number) => string,
): Chains {
  const main = instrument(chains.main, observe, clientVersionOf(chains.main.chainId));
  const states = new Map<number, StateChain>();
  return {
    main,
    stateChainIds: chains.stateChainIds,
    state(chainId) {
      let wrapped = states.get(chainId);
      if (!wrapped) {
        const real = chains.state(chainId);
        wrapped = instrument(real, observe, clientVersionOf(chainId));
        states.set(chainId, wrapped);
      }
      return wrapped;
    },
  };
}

function instrument<T extends object>(target: T, observe: RpcObserver, clientVersion: string): T {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      let wrapper = wrappers.get(property);
      if (!wrapper) {
        const method = String(property);
        wrapper = (...args: unknown[]) => {
          const startedAt = performance.now();
          const settle = () =>
            observe(method, clientVersion, (performance.now() - startedAt) / 1_000);
          const result: unknown = Reflect.apply(value, object, args);
          if (result instanceof Promise) {
            return result.finally(settle);
          }
          return result;
        };
        wrappers.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

/** Asks an endpoint for `web3_clientVersion` (e.g. `anvil/v1.2.3`); 'unknown' when it will not say. */
export async function fetchClientVersion(rpcUrl: string, timeoutMs = 5_000): Promise<string> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'web3_clientVersion', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as { result?: unknown };
    return typeof body.result === 'string' && body.result !== '' ? body.result : 'unknown';
  } catch {
    return 'unknown';
  }
}
