/**
 * Counters the latency worker reads around each proof: calls through the simulator's FIFO I/O
 * gate (and how long the gate was busy running them), and JSON-RPC requests to Anvil by method.
 * Both wrap objects from outside (the gate's `run`, `globalThis.fetch`); node code is untouched.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readdirSync, readFileSync } from 'node:fs';
import { type Abi, toFunctionSelector } from 'viem';
import { ecdsaStakeRegistryAbi } from '../../contracts-abi/ECDSAStakeRegistry.ts';
import { epochManagerAbi } from '../../contracts-abi/EpochManager.ts';
import { stateManagerAbi } from '../../contracts-abi/StateManager.ts';
import type { GateCallOptions, IoGate } from '../../sim/harness/io-gate.ts';

export interface GateCounters {
  /** Outermost gated calls (a gated call made inside another one is not counted again). */
  calls: number;
  /** Wall time spent running gated calls (not waiting in the queue). */
  busyMs: number;
}

export interface CallSite {
  /** `src/aggregator/aggregator.ts:123 (requestProof)`: the node code that made the call. */
  site: string;
  calls: number;
  busyMs: number;
}

/**
 * Wraps `gate.run` in place. `gateAll` proxies look `run` up on every call, so every chain and
 * store call of every node is seen from now on. With `callSites`, each call made while
 * `attribute(true)` is in effect is also attributed to the first stack frame outside the harness
 * (costs a stack capture per call: diagnostics only).
 */
export function meterGate(
  gate: IoGate,
  options: { callSites?: boolean } = {},
): { read(): GateCounters; callSites(): CallSite[]; attribute(on: boolean): void } {
  const nested = new AsyncLocalStorage<true>();
  const counters: GateCounters = { calls: 0, busyMs: 0 };
  const sites = new Map<string, CallSite>();
  let attributing = false;
  const run = gate.run.bind(gate);
  gate.run = <T>(call: () => Promise<T>, runOptions?: GateCallOptions): Promise<T> => {
    const site =
      options.callSites && attributing && !nested.getStore()
        ? callSiteOf(new Error().stack)
        : undefined;
    return run(() => {
      if (nested.getStore()) return call();
      return nested.run(true, async () => {
        const startMs = performance.now();
        try {
          return await call();
        } finally {
          const busyMs = performance.now() - startMs;
          counters.calls++;
          counters.busyMs += busyMs;
          if (site !== undefined) {
            const entry = sites.get(site) ?? { site, calls: 0, busyMs: 0 };
            entry.calls++;
            entry.busyMs += busyMs;
            sites.set(site, entry);
          }
        }
      });
    }, runOptions);
  };
  return {
    read: () => ({ ...counters }),
    attribute: (on) => {
      attributing = on;
    },
    callSites: () =>
      [...sites.values()].map((entry) => ({ ...entry })).sort((a, b) => b.busyMs - a.busyMs),
  };
}

const HARNESS_FRAME =
  /\/sim\/harness\/|\/bench\/lib\/instruments\.ts|\(node:|^\s*at node:|\/node_modules\//;

/** The first frame of `stack` outside the harness, as `path:line (function)`. */
export function callSiteOf(stack: string | undefined): string {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    if (HARNESS_FRAME.test(line)) continue;
    const match = /at (?:async )?(?:(.+?) \()?(?:file:\/\/)?(.+?):(\d+):\d+\)?$/.exec(line.trim());
    if (!match) continue;
    const [, fn, path, lineNumber] = match;
    const relative = (path ?? '').replace(/^.*?\/(src|sim|bench|test)\//, '$1/');
    return `${relative}:${lineNumber}${fn ? ` (${fn})` : ''}`;
  }
  return '(unknown)';
}

function selectorNames(): Map<string, string> {
  const names = new Map<string, string>();
  for (const abi of [stateManagerAbi, ecdsaStakeRegistryAbi, epochManagerAbi] as Abi[]) {
    for (const item of abi) {
      if (item.type === 'function') names.set(toFunctionSelector(item), item.name);
    }
  }
  return names;
}

export interface RpcCounters {
  /** JSON-RPC requests (a batch counts each request in it). */
  requests: number;
  /** HTTP requests that carried them (a JSON-RPC batch is one). */
  httpRequests: number;
  /** `eth_call` requests are named by the contract function: `eth_call getHistoryAtBlock`. */
  byMethod: Record<string, number>;
}

/** Counts JSON-RPC requests that viem's http transport sends through `globalThis.fetch`. */
export function meterRpc(): { read(): RpcCounters } {
  const names = selectorNames();
  const byMethod = new Map<string, number>();
  let requests = 0;
  let httpRequests = 0;
  const original = globalThis.fetch;
  const count = (body: unknown) => {
    for (const message of Array.isArray(body) ? body : [body]) {
      const { method, params } = (message ?? {}) as { method?: string; params?: unknown[] };
      if (typeof method !== 'string') continue;
      let name = method;
      if (method === 'eth_call') {
        const data = (params?.[0] as { data?: string; input?: string } | undefined) ?? {};
        const selector = (data.data ?? data.input ?? '').slice(0, 10);
        name = `eth_call ${names.get(selector) ?? selector}`;
      }
      requests++;
      byMethod.set(name, (byMethod.get(name) ?? 0) + 1);
    }
  };
  globalThis.fetch = (input, init) => {
    if (typeof init?.body === 'string') {
      try {
        const body = JSON.parse(init.body) as unknown;
        httpRequests++;
        count(body);
      } catch {
        // not JSON-RPC: not ours to count
      }
    }
    return original(input, init);
  };
  return {
    read: () => ({
      requests,
      httpRequests,
      byMethod: Object.fromEntries([...byMethod.entries()].sort((a, b) => b[1] - a[1])),
    }),
  };
}

/** `after − before`, per field, dropping zero entries. */
export function diffCounts(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

/**
 * Live processes descended from this one whose command name contains `name` (Linux `/proc`;
 * none elsewhere).
 */
export function descendantPids(name: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
  const parentOf = new Map<number, number>();
  const matching: number[] = [];
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …; comm may contain spaces, so split after the last ')'.
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      parentOf.set(Number(entry), Number(ppid));
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      if (comm.includes(name) && state !== 'Z') matching.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let current = parentOf.get(pid); current !== undefined && current > 1; ) {
      if (current === process.pid) return true;
      current = parentOf.get(current);
    }
    return false;
  };
  return matching.filter(isDescendant);
}

/**
 * Peak RSS (VmHWM) of this process's child processes whose command name contains `name`
 * (the Anvil chains), in MiB; Linux only, 0 elsewhere.
 */
export function childPeakRssMiB(name: string): { processes: number; peakRssMiB: number } {
  let processes = 0;
  let peakKiB = 0;
  for (const pid of descendantPids(name)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match?.[1]) {
        processes++;
        peakKiB += Number(match[1]);
      }
    } catch {
      // gone
    }
  }
  return { processes, peakRssMiB: peakKiB / 1024 };
}
