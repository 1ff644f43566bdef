import { describe, expect, test } from 'vitest';
import { createIoGate, gateAll } from '../../sim/harness/io-gate.ts';
import { callSiteOf, diffCounts, meterGate } from './instruments.ts';

describe('meterGate', () => {
  test('counts outermost gated calls through gateAll proxies, not the nested ones', async () => {
    const gate = createIoGate();
    const meter = meterGate(gate);
    const store = gateAll(
      {
        async read() {
          return 1;
        },
        async readTwice(): Promise<number> {
          // Inside a gated call: the inner call runs directly and is not counted again.
          return (await store.read()) + (await store.read());
        },
      },
      gate,
    );
    expect(await store.read()).toBe(1);
    expect(await store.readTwice()).toBe(2);
    expect(meter.read().calls).toBe(2);
    expect(meter.read().busyMs).toBeGreaterThanOrEqual(0);
  });

  test('attributes calls to the caller only while attribution is on', async () => {
    const gate = createIoGate();
    const meter = meterGate(gate, { callSites: true });
    const chain = gateAll({ getBlockNumber: async () => 7n }, gate);
    await chain.getBlockNumber();
    expect(meter.callSites()).toEqual([]);
    meter.attribute(true);
    for (let i = 0; i < 2; i++) await chain.getBlockNumber(); // one call site, two calls
    meter.attribute(false);
    await chain.getBlockNumber();
    const sites = meter.callSites();
    expect(sites).toHaveLength(1);
    expect(sites[0]?.calls).toBe(2);
    expect(sites[0]?.site).toMatch(/^bench\/lib\/instruments\.test\.ts:\d+/);
    expect(meter.read().calls).toBe(4);
  });

  test('keeps each call in its lane: metered calls of two lanes still run at once', async () => {
    const gate = createIoGate();
    meterGate(gate);
    let releaseStore!: () => void;
    const storeDone = new Promise<void>((resolve) => {
      releaseStore = resolve;
    });
    const started: string[] = [];
    const store = gateAll(
      {
        write: async () => {
          started.push('store');
          await storeDone;
        },
      },
      gate,
      { lane: 'pglite' },
    );
    const chain = gateAll(
      {
        read: async () => {
          started.push('chain');
        },
      },
      gate,
      { lane: 'chain:1' },
    );
    const writing = store.write();
    const reading = chain.read();
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Without the lane the chain call would wait for the store call to finish.
    expect(started).toEqual(['store', 'chain']);
    releaseStore();
    await Promise.all([writing, reading]);
  });
});

describe('callSiteOf', () => {
  test('skips harness, bench helpers, node_modules and Node internals', () => {
    const stack = [
      'Error',
      '    at Object.run (file:///r/bench/lib/instruments.ts:40:9)',
      '    at tick (file:///r/node_modules/kysely/dist/x.js:1:1)',
      '    at wrapped (file:///r/sim/harness/io-gate.ts:70:35)',
      '    at Proxy.<anonymous> (file:///r/sim/harness/faults.ts:50:16)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)',
      '    at async decide (file:///r/src/operator/task-handler.ts:409:21)',
      '    at async answer (file:///r/src/operator/task-handler.ts:250:3)',
    ].join('\n');
    expect(callSiteOf(stack)).toBe('src/operator/task-handler.ts:409 (decide)');
    expect(callSiteOf('Error\n    at file:///r/src/x.ts:3:1')).toBe('src/x.ts:3');
    expect(callSiteOf(undefined)).toBe('(unknown)');
  });
});

describe('diffCounts', () => {
  test('subtracts per key and drops zeros', () => {
    expect(diffCounts({ a: 5, b: 2, c: 1 }, { a: 3, b: 2 })).toEqual({ a: 2, c: 1 });
  });
});
