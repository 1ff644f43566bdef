import { describe, expect, test } from 'vitest';
import { createIoGate, gateAll } from './io-gate.ts';

/** A promise settled from outside: the test decides when each call's I/O "completes". */
function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets the event loop run a few full turns (setImmediate), so everything ready has happened. */
async function turns(count = 5): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A gated call whose start and end the test observes and controls. */
function tracked(log: string[], name: string) {
  const io = deferred();
  return {
    io,
    call: () => {
      log.push(`start ${name}`);
      return io.promise.then((value) => {
        log.push(`end ${name}`);
        return value;
      });
    },
  };
}

describe('createIoGate', () => {
  test('behavior: calls of different lanes run at once; calls of one lane one at a time, in issue order', async () => {
    const gate = createIoGate();
    const log: string[] = [];
    const a = tracked(log, 'a');
    const b = tracked(log, 'b');
    const c = tracked(log, 'c');
    void gate.run(a.call, { lane: 'pglite' });
    void gate.run(b.call, { lane: 'pglite' });
    void gate.run(c.call, { lane: 'chain:1' });
    await turns();
    expect(log).toEqual(['start a', 'start c']);
    a.io.resolve('a');
    await turns();
    expect(log).toEqual(['start a', 'start c', 'end a', 'start b']);
    b.io.resolve('b');
    c.io.resolve('c');
    await gate.idle();
  });

  test('behavior: shared calls of a lane run together; an exclusive call waits for them, and later calls wait for it', async () => {
    const gate = createIoGate();
    const log: string[] = [];
    const [r1, r2, w, r3] = ['r1', 'r2', 'w', 'r3'].map((name) => tracked(log, name)) as [
      ReturnType<typeof tracked>,
      ReturnType<typeof tracked>,
      ReturnType<typeof tracked>,
      ReturnType<typeof tracked>,
    ];
    const handedBack: string[] = [];
    const issue = (entry: ReturnType<typeof tracked>, shared: boolean) =>
      void gate
        .run(entry.call, { lane: 'chain:1', shared })
        .then((value) => handedBack.push(value));
    issue(r1, true);
    issue(r2, true);
    issue(w, false);
    issue(r3, true);
    await turns();
    expect(log).toEqual(['start r1', 'start r2']);
    r2.io.resolve('r2');
    await turns();
    // r2 is done but r1 still runs: the exclusive call waits, and the read after it too.
    expect(log).toEqual(['start r1', 'start r2', 'end r2']);
    r1.io.resolve('r1');
    await turns();
    expect(log.slice(3)).toEqual(['end r1', 'start w']);
    w.io.resolve('w');
    await turns();
    expect(log.slice(5)).toEqual(['end w', 'start r3']);
    r3.io.resolve('r3');
    await gate.idle();
    expect(handedBack).toEqual(['r1', 'r2', 'w', 'r3']);
  });

  test('behavior: a shared call never runs alongside an exclusive call issued before it', async () => {
    const gate = createIoGate();
    const log: string[] = [];
    const w = tracked(log, 'w');
    const r = tracked(log, 'r');
    void gate.run(w.call, { lane: 'chain:1' });
    void gate.run(r.call, { lane: 'chain:1', shared: true });
    await turns();
    expect(log).toEqual(['start w']);
    w.io.resolve('w');
    await turns();
    expect(log).toEqual(['start w', 'end w', 'start r']);
    r.io.resolve('r');
    await gate.idle();
  });

  test('behavior: results come back in issue order, however the I/O finishes', async () => {
    const gate = createIoGate();
    const log: string[] = [];
    const calls = ['x', 'y', 'z'].map((name) => tracked(log, name));
    const handedBack: string[] = [];
    calls.forEach((entry, index) => {
      void gate.run(entry.call, { lane: `lane-${index}` }).then((value) => handedBack.push(value));
    });
    await turns();
    (calls[2] as (typeof calls)[number]).io.resolve('z');
    (calls[1] as (typeof calls)[number]).io.resolve('y');
    await turns();
    expect(handedBack).toEqual([]);
    (calls[0] as (typeof calls)[number]).io.resolve('x');
    await gate.idle();
    expect(handedBack).toEqual(['x', 'y', 'z']);
  });

  test('property: everything a result triggers happens before the next result is handed back', async () => {
    // Whether the second call finished before or after the first, the interleaving is the same.
    const interleaving = async (secondFinishesFirst: boolean) => {
      const gate = createIoGate();
      const log: string[] = [];
      const first = deferred();
      const second = deferred();
      void gate
        .run(() => first.promise, { lane: 'a' })
        .then(async () => {
          log.push('first handed back');
          for (let i = 0; i < 10; i++) await Promise.resolve();
          log.push('first continuation done');
          void gate.run(async () => 'issued by first', { lane: 'b' }).then((v) => log.push(v));
        });
      void gate.run(() => second.promise, { lane: 'b' }).then(() => log.push('second handed back'));
      await turns();
      if (secondFinishesFirst) {
        second.resolve('2');
        await turns();
        first.resolve('1');
      } else {
        first.resolve('1');
        await turns();
        second.resolve('2');
      }
      await gate.idle();
      return log;
    };
    const expected = [
      'first handed back',
      'first continuation done',
      'second handed back',
      'issued by first',
    ];
    expect(await interleaving(true)).toEqual(expected);
    expect(await interleaving(false)).toEqual(expected);
  });

  test('behavior: a call without a lane runs alone', async () => {
    const gate = createIoGate();
    const log: string[] = [];
    const before = tracked(log, 'before');
    const alone = tracked(log, 'alone');
    const after = tracked(log, 'after');
    void gate.run(before.call, { lane: 'pglite' });
    void gate.run(alone.call);
    void gate.run(after.call, { lane: 'chain:1' });
    await turns();
    expect(log).toEqual(['start before']);
    before.io.resolve('');
    await turns();
    expect(log).toEqual(['start before', 'end before', 'start alone']);
    alone.io.resolve('');
    await turns();
    expect(log.slice(-2)).toEqual(['end alone', 'start after']);
    after.io.resolve('');
    await gate.idle();
    expect(gate.inFlight()).toBe(0);
    expect(gate.count()).toBe(3);
  });

  test('behavior: a failure is handed back in its turn, to its caller only', async () => {
    const gate = createIoGate();
    const failing = deferred();
    const results: string[] = [];
    const failed = gate
      .run(() => failing.promise, { lane: 'a' })
      .catch((error: Error) => {
        results.push(`caught ${error.message}`);
      });
    const ok = gate.run(async () => 'ok', { lane: 'b' }).then((value) => results.push(value));
    failing.reject(new Error('boom'));
    await Promise.all([failed, ok]);
    expect(results).toEqual(['caught boom', 'ok']);
  });

  test('behavior: idle waits for every call, and a gated call made inside one runs directly', async () => {
    const gate = createIoGate();
    const inner = gateAll({ read: async () => 'inner' }, gate, { lane: 'pglite' });
    const outer = gateAll(
      { readTwice: async () => `${await inner.read()}+${await inner.read()}` },
      gate,
      { lane: 'pglite' },
    );
    let idle = false;
    const result = outer.readTwice();
    void gate.idle().then(() => {
      idle = true;
    });
    expect(idle).toBe(false);
    expect(await result).toBe('inner+inner');
    await turns();
    expect(idle).toBe(true);
    expect(gate.count()).toBe(1);
  });

  test('behavior: betweenHandBacks runs in the turn after each hand-back, again while it reports work, before the next hand-back', async () => {
    const log: string[] = [];
    let extraRounds = 0;
    const gate = createIoGate({
      betweenHandBacks: () => {
        log.push('between');
        if (extraRounds === 0) return false;
        extraRounds--;
        return true;
      },
    });
    const a = tracked(log, 'a');
    const b = tracked(log, 'b');
    const first = gate.run(a.call, { lane: 'x' }).then((value) => {
      log.push(`back ${value}`);
      extraRounds = 2;
    });
    const second = gate.run(b.call, { lane: 'y' }).then((value) => log.push(`back ${value}`));
    b.io.resolve('b');
    await turns();
    // b finished first but waits for a, issued earlier.
    expect(log).toEqual(['start a', 'start b', 'end b']);
    a.io.resolve('a');
    await Promise.all([first, second]);
    await gate.idle();
    expect(log).toEqual([
      'start a',
      'start b',
      'end b',
      'end a',
      'back a',
      'between',
      'between',
      'between',
      'back b',
      'between',
    ]);
  });
});
