import { describe, expect, test } from 'vitest';
import { ConfigError } from '../config/errors.ts';
import { loadConfig } from '../config/load-config.ts';
import { OPERATOR_GUARD_OPTIONS, REGISTRY_GUARD_OPTIONS } from '../core/peer-guard.ts';
import { PROTOCOLS, TOPICS } from '../ports/network.ts';
import { guardOptionsFromConfig } from './guard-options.ts';

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
  pgliteDir: ./data/operator
`;

const REGISTRY_YAML = `
chains:
  main:
    rpcUrl: http://127.0.0.1:8545
    chainId: 31337
    epochManager: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    stakeRegistry: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
  state: []
registry:
  startBlock: 1
database:
  pgliteDir: ./data/registry
`;

const load = (role: 'operator' | 'registry', yaml: string, env: Record<string, string> = {}) =>
  loadConfig(role, { text: yaml, file: '/etc/spotted/node.yaml', env });

function problemsOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('guard configuration', () => {
  test('behavior: without a guard section every default of the role is kept', () => {
    const config = load('operator', OPERATOR_YAML);
    const options = {
      ...OPERATOR_GUARD_OPTIONS,
      ...guardOptionsFromConfig(config.guard, OPERATOR_GUARD_OPTIONS),
    };
    expect(options).toEqual(OPERATOR_GUARD_OPTIONS);
  });

  test('behavior: given keys replace defaults; one rate limit keeps the others', () => {
    const config = load(
      'operator',
      `${OPERATOR_YAML}
guard:
  banMs: 60000
  strikesBeforeBan: 5
  strikeRefillPerSec: 0.25
  strangerGraceMs: 1000
  strangerAdmissions: { ratePerSec: 0.5, burst: 4 }
  rateLimits:
    task: { ratePerSec: 50, burst: 100 }
`,
    );
    const options = guardOptionsFromConfig(config.guard, OPERATOR_GUARD_OPTIONS);
    expect(options).toMatchObject({
      banMs: 60_000,
      strikesBeforeBan: 5,
      strikeRefillPerSec: 0.25,
      unknownPeerGraceMs: 1000,
      strangerAdmissions: { ratePerSec: 0.5, burst: 4 },
    });
    expect(options.rateLimits).toEqual({
      ...OPERATOR_GUARD_OPTIONS.rateLimits,
      [TOPICS.task]: { ratePerSec: 50, burst: 100 },
    });
  });

  test('behavior: environment overrides reach the registry guard', () => {
    const config = load('registry', REGISTRY_YAML, {
      SPOTTED_REGISTRY__GUARD__RATE_LIMITS__JOIN__RATE_PER_SEC: '5',
      SPOTTED_REGISTRY__GUARD__RATE_LIMITS__JOIN__BURST: '20',
    });
    const options = guardOptionsFromConfig(config.guard, REGISTRY_GUARD_OPTIONS);
    expect(options.rateLimits?.[PROTOCOLS.join]).toEqual({ ratePerSec: 5, burst: 20 });
    expect(options.rateLimits?.[PROTOCOLS.response]).toEqual(
      REGISTRY_GUARD_OPTIONS.rateLimits[PROTOCOLS.response],
    );
  });

  test('behavior: bad values and channels the role does not serve are refused by key', () => {
    const problems = problemsOf(() =>
      load(
        'operator',
        `${OPERATOR_YAML}
guard:
  banMs: 0
  strikeRefillPerSec: -1
  strangerAdmissions: { ratePerSec: 1 }
  rateLimits:
    join: { ratePerSec: 1, burst: 1 }
    task: { ratePerSec: fast, burst: 10 }
`,
      ),
    );
    expect(problems).toMatch(/guard\.banMs: must be at least 1/);
    expect(problems).toMatch(/guard\.strikeRefillPerSec: must be greater than 0/);
    expect(problems).toMatch(/guard\.strangerAdmissions\.burst/);
    expect(problems).toMatch(/guard\.rateLimits\.join: unknown key/);
    expect(problems).toMatch(/guard\.rateLimits\.task\.ratePerSec: expected a number, got "fast"/);
  });
});
