import type {
  OperatorRepositories,
  OperatorStore,
} from '../../../src/store/operator/operator-store.ts';

/**
 * Wraps an operator store so a test can count what a component asks of it: every repository
 * method call is appended to `calls` as `repository.method` (e.g. `localOperator.put`) before it
 * runs. Transactions pass through uncounted.
 */
export function countStoreCalls(store: OperatorStore): { store: OperatorStore; calls: string[] } {
  const calls: string[] = [];
  const wrap = <R extends object>(name: string, repository: R): R =>
    new Proxy(repository, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls.push(`${name}.${String(property)}`);
          return value.apply(target, args);
        };
      },
    });
  const repositories = [
    'localOperator',
    'currentEpochState',
    'tasks',
    'taskResponses',
    'peerCache',
  ] as const satisfies readonly (keyof OperatorRepositories)[];
  const wrapped: OperatorStore = {
    ...store,
    schema: store.schema,
    migrations: store.migrations,
    transaction: (work) => store.transaction(work),
    close: () => store.close(),
  };
  for (const name of repositories) {
    Object.assign(wrapped, { [name]: wrap(name, store[name]) });
  }
  return { store: wrapped, calls };
}
