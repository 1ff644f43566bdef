import { describe, expect, test } from 'vitest';
import { DEFAULT_RECONNECT_OPTIONS } from '../aggregator/aggregator.ts';
import { ConfigError } from './errors.ts';
import { loadConfig } from './load-config.ts';
import { redactConfig } from './redact.ts';

const REGISTRY_YAML = `
chains:
  main:
    rpcUrl: http://127.0.0.1:8545
    chainId: 31337
    epochManager: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    stakeRegistry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
  state:
    - rpcUrl: http://127.0.0.1:8546
      chainId: 10
      stateManager: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
registry:
  startBlock: 1
database:
  pgliteDir: ./data/registry
network:
  identityKeystore: keys/registry-identity.json
`;

const OPERATOR_YAML = `
operator:
  address: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
  signingKeystores: [keys/signing.json]
  registryBootstrap:
    - /ip4/127.0.0.1/tcp/9000/p2p/16Uiu2HAmQ8tUQo3tX8Xh2t4hV5oP9hNwLGoYbYoZ5c9sTn2ZcJ9F
chains:
  main:
    rpcUrl: http://127.0.0.1:8545
    chainId: 31337
    epochManager: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    stakeRegistry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
database:
  url: postgres://spotted:hunter2@127.0.0.1:5432/spotted
`;

const source = (text: string, env: Record<string, string> = {}) => ({
  text,
  file: '/etc/spotted/registry.yaml',
  env,
});

function problemsOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('behavior: fills defaults, checksums addresses and resolves paths against the file', () => {
    const config = loadConfig('registry', source(REGISTRY_YAML));
    expect(config.api).toEqual({ enabled: true, host: '127.0.0.1', port: 8080 });
    expect(config.nodeApi.port).toBe(9010);
    expect(config.metrics.port).toBe(9090);
    expect(config.registry).toEqual({
      startBlock: 1n,
      confirmations: 12,
      chainPollIntervalMs: 2000,
      peers: [],
      stateCheckIntervalMs: 2000,
    });
    expect(config.chains.main.stakeRegistry).toBe('0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512');
    expect(config.database.pgliteDir).toBe('/etc/spotted/data/registry');
    expect(config.network.identityKeystore).toBe('/etc/spotted/keys/registry-identity.json');
    expect(config.network.listen).toEqual(['/ip4/0.0.0.0/tcp/9000']);
  });

  test('behavior: an unknown key is an error naming the key, its line and a close match', () => {
    const message = problemsOf(() =>
      loadConfig('registry', source(`${REGISTRY_YAML}metrics:\n  prot: 9191\n`)),
    );
    expect(message).toBe(
      '/etc/spotted/registry.yaml:19:3: metrics.prot: unknown key (did you mean port?)',
    );
  });

  test('behavior: an unknown top-level key lists the known ones', () => {
    const message = problemsOf(() =>
      loadConfig('registry', source(`${REGISTRY_YAML}colour: red\n`)),
    );
    expect(message).toMatch(
      /^\/etc\/spotted\/registry\.yaml:18:1: colour: unknown key \(known keys: node, chains, /,
    );
  });

  test('behavior: a missing required key is named as required', () => {
    const message = problemsOf(() =>
      loadConfig('registry', source(REGISTRY_YAML.replace('registry:\n  startBlock: 1\n', ''))),
    );
    expect(message).toBe('/etc/spotted/registry.yaml: registry: required');
  });

  test('behavior: a wrong type names the key and the value', () => {
    const message = problemsOf(() =>
      loadConfig('registry', source(REGISTRY_YAML.replace('chainId: 10', 'chainId: ten'))),
    );
    expect(message).toBe(
      '/etc/spotted/registry.yaml:10:7: chains.state.0.chainId: expected a whole number, got "ten"',
    );
  });

  test('behavior: environment overrides win over the file and are typed like it', () => {
    const config = loadConfig(
      'registry',
      source(REGISTRY_YAML, {
        SPOTTED_REGISTRY__API__PORT: '18080',
        SPOTTED_REGISTRY__CHAINS__MAIN__RPC_URL: 'http://rpc.example:8545',
        SPOTTED_REGISTRY__CHAINS__STATE__0__CHAIN_ID: '11',
        SPOTTED_REGISTRY__NETWORK__LISTEN: '/ip4/0.0.0.0/tcp/1,/ip4/0.0.0.0/tcp/2',
        SPOTTED_REGISTRY__METRICS__ENABLED: 'false',
        SPOTTED_OPERATOR__API__PORT: 'ignored: another role',
      }),
    );
    expect(config.api.port).toBe(18080);
    expect(config.chains.main.rpcUrl).toBe('http://rpc.example:8545');
    expect(config.chains.state[0]?.chainId).toBe(11);
    expect(config.network.listen).toEqual(['/ip4/0.0.0.0/tcp/1', '/ip4/0.0.0.0/tcp/2']);
    expect(config.metrics.enabled).toBe(false);
  });

  test('behavior: an override naming no key is an error naming the variable', () => {
    const message = problemsOf(() =>
      loadConfig('registry', source(REGISTRY_YAML, { SPOTTED_REGISTRY__API__PROT: '1' })),
    );
    expect(message).toBe(
      'environment variable SPOTTED_REGISTRY__API__PROT: api.prot: unknown key (did you mean port?)',
    );
  });

  test('behavior: a bad override value names the variable', () => {
    const message = problemsOf(() =>
      loadConfig('registry', source(REGISTRY_YAML, { SPOTTED_REGISTRY__METRICS__PORT: '70000' })),
    );
    expect(message).toBe(
      'environment variable SPOTTED_REGISTRY__METRICS__PORT: metrics.port: must be at most 65535',
    );
  });

  test('behavior: YAML syntax errors give the line', () => {
    const message = problemsOf(() => loadConfig('registry', source('chains:\n  main: [\n')));
    expect(message).toMatch(/^\/etc\/spotted\/registry\.yaml:\d+:\d+: not valid YAML: /);
    expect(message.split('\n')).toHaveLength(1);
  });

  test('behavior: database needs exactly one of url and pgliteDir', () => {
    const message = problemsOf(() =>
      loadConfig(
        'registry',
        source(REGISTRY_YAML.replace('pgliteDir: ./data/registry', 'schema: registry')),
      ),
    );
    expect(message).toBe(
      '/etc/spotted/registry.yaml:14:1: database: give exactly one of database.url (a Postgres server) or database.pgliteDir (an embedded PGlite directory)',
    );
  });

  test('behavior: registry.peers lists the other registries (default none), from the file or the environment', () => {
    expect(loadConfig('registry', source(REGISTRY_YAML)).registry.peers).toEqual([]);
    const peer = (n: number) =>
      `/ip4/10.0.0.${n}/tcp/9000/p2p/16Uiu2HAmQ8tUQo3tX8Xh2t4hV5oP9hNwLGoYbYoZ5c9sTn2ZcJ9F`;
    const config = loadConfig(
      'registry',
      source(REGISTRY_YAML, { SPOTTED_REGISTRY__REGISTRY__PEERS: `${peer(2)},${peer(3)}` }),
    );
    expect(config.registry.peers).toEqual([peer(2), peer(3)]);
    expect(config.registry.stateCheckIntervalMs).toBe(2_000);
    const message = problemsOf(() =>
      loadConfig(
        'registry',
        source(
          REGISTRY_YAML.replace(
            'startBlock: 1',
            'startBlock: 1\n  peers: [/ip4/10.0.0.2/tcp/9000]',
          ),
        ),
      ),
    );
    expect(message).toMatch(/registry\.peers\.0: expected a multiaddr ending in \/p2p\/<peer id>/);
  });

  test('behavior: an operator bootstrap address must name the registry peer', () => {
    const message = problemsOf(() =>
      loadConfig('operator', source(OPERATOR_YAML.replace(/\/p2p\/\w+/, ''), {})),
    );
    expect(message).toMatch(
      /operator\.registryBootstrap\.0: expected a multiaddr ending in \/p2p\/<peer id>/,
    );
  });

  test('behavior: trusted registries default to none, are read as peer ids, and a bad one is named', () => {
    expect(loadConfig('operator', source(OPERATOR_YAML)).operator.trustedRegistryPeerIds).toEqual(
      [],
    );
    const withTrusted = (value: string) =>
      OPERATOR_YAML.replace('chains:', `  trustedRegistryPeerIds: [${value}]\nchains:`);
    const peer = '16Uiu2HAm7y4wLLNsMjdvS9dKgbXmmmDr8TaiL2HWZrd6sRFZqGZM';
    expect(
      loadConfig('operator', source(withTrusted(peer))).operator.trustedRegistryPeerIds,
    ).toEqual([peer]);
    const message = problemsOf(() =>
      loadConfig('operator', source(withTrusted('/ip4/10.0.0.2/tcp/9000'))),
    );
    expect(message).toMatch(/operator\.trustedRegistryPeerIds\.0: expected a libp2p peer id/);
  });

  test('behavior: consumers and the worker id are read, keystore paths resolved against the file', () => {
    const config = loadConfig(
      'registry',
      source(
        `${REGISTRY_YAML}aggregator:\n  workerId: registry-a\nconsumers:\n  - chainId: 10\n    address: "0x5fbdb2315678afecb367f032d93f642f64180aa3"\n    submitterKeystore: keys/submitter.json\n`,
      ),
    );
    expect(config.aggregator.workerId).toBe('registry-a');
    expect(config.consumers).toEqual([
      {
        chainId: 10,
        address: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
        submitterKeystore: '/etc/spotted/keys/submitter.json',
      },
    ]);
    expect(loadConfig('registry', source(REGISTRY_YAML)).consumers).toEqual([]);
  });

  test('behavior: the reconnect window is read from the file and the environment, 40 s by default', () => {
    expect(loadConfig('registry', source(REGISTRY_YAML)).aggregator.reconnectWindowMs).toBe(
      DEFAULT_RECONNECT_OPTIONS.windowMs,
    );
    const fromFile = loadConfig(
      'registry',
      source(`${REGISTRY_YAML}aggregator:\n  reconnectWindowMs: 5000\n`),
    );
    expect(fromFile.aggregator.reconnectWindowMs).toBe(5_000);
    const fromEnv = loadConfig(
      'registry',
      source(REGISTRY_YAML, { SPOTTED_REGISTRY__AGGREGATOR__RECONNECT_WINDOW_MS: '0' }),
    );
    expect(fromEnv.aggregator.reconnectWindowMs).toBe(0);
    expect(
      problemsOf(() =>
        loadConfig('registry', source(`${REGISTRY_YAML}aggregator:\n  reconnectWindowMs: -1\n`)),
      ),
    ).toMatch(/aggregator\.reconnectWindowMs/);
  });

  test('behavior: a consumer on an unconfigured chain needs an rpcUrl; one per chain', () => {
    const consumer = (chainId: number) =>
      `  - chainId: ${chainId}\n    address: "0x5FbDB2315678afecb367f032d93F642f64180aa3"\n`;
    expect(
      problemsOf(() =>
        loadConfig('registry', source(`${REGISTRY_YAML}consumers:\n${consumer(5)}`)),
      ),
    ).toBe(
      '/etc/spotted/registry.yaml:19:5: consumers.0.rpcUrl: chain 5 is neither chains.main nor in chains.state: give its rpcUrl',
    );
    expect(
      problemsOf(() =>
        loadConfig(
          'registry',
          source(`${REGISTRY_YAML}consumers:\n${consumer(10)}${consumer(10)}`),
        ),
      ),
    ).toBe(
      '/etc/spotted/registry.yaml:21:5: consumers.1.chainId: chain 10 has a consumer already: give at most one per chain',
    );
  });

  test('behavior: a worker id with spaces or over 128 characters is refused, naming the key', () => {
    const env = (workerId: string) => ({ SPOTTED_REGISTRY__AGGREGATOR__WORKER_ID: workerId });
    expect(problemsOf(() => loadConfig('registry', source(REGISTRY_YAML, env('a b'))))).toBe(
      'environment variable SPOTTED_REGISTRY__AGGREGATOR__WORKER_ID: aggregator.workerId: use printable ASCII without spaces',
    );
    expect(
      problemsOf(() => loadConfig('registry', source(REGISTRY_YAML, env('x'.repeat(129))))),
    ).toBe(
      'environment variable SPOTTED_REGISTRY__AGGREGATOR__WORKER_ID: aggregator.workerId: must be at most 128 characters',
    );
  });

  test('behavior: the redacted copy hides the database password', () => {
    const config = loadConfig('operator', source(OPERATOR_YAML));
    expect(config.database.url).toContain('hunter2');
    expect(JSON.stringify(redactConfig({ ...config, chains: null }))).not.toContain('hunter2');
    expect(redactConfig(config).database.url).toBe('postgres://spotted:***@127.0.0.1:5432/spotted');
  });
});

describe('shipped example configs', () => {
  test('behavior: config/registry.yaml and config/operator.yaml validate', async () => {
    const { readFile } = await import('node:fs/promises');
    for (const role of ['registry', 'operator'] as const) {
      const file = new URL(`../../config/${role}.yaml`, import.meta.url).pathname;
      const config = loadConfig(role, { text: await readFile(file, 'utf8'), file, env: {} });
      expect(config.nodeApi.port).toBe(9010);
      expect(config.metrics.port).toBe(9090);
    }
  });
});
