import { getAddress, isAddress } from 'viem';
import * as z from 'zod';

/**
 * The YAML configuration of the two binaries (SPEC §9), validated with zod. Every object is
 * strict (an unknown key is an error naming it), every duration and size carries its unit in its
 * name, and every field has a default where one is safe. Numbers and booleans also accept their
 * string form, because environment overrides are strings. Secrets are never in this file: key
 * passwords come from a prompt, a password file or an environment variable, and a Postgres
 * password from the URL or `PGPASSWORD`.
 */

/** An integer in [min, max]; a decimal string (from the environment) is accepted too. */
const integer = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value),
    z
      .int({ error: (issue) => `expected a whole number, got ${describe(issue.input)}` })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );

const durationMs = (max = 86_400_000) => integer(0, max);
const port = integer(0, 65_535);

const boolean = z.preprocess(
  (value) => (value === 'true' ? true : value === 'false' ? false : value),
  z.boolean({ error: (issue) => `expected true or false, got ${describe(issue.input)}` }),
);

const text = z.string({ error: (issue) => `expected a string, got ${describe(issue.input)}` });
const nonEmptyText = text.min(1, { error: 'must not be empty' });

/** A list; a comma-separated string (from the environment) is split. */
const list = <T extends z.ZodType>(item: T) =>
  z.preprocess(
    (value) =>
      typeof value === 'string'
        ? value
            .split(',')
            .map((part) => part.trim())
            .filter((part) => part !== '')
        : value,
    z.array(item, { error: (issue) => `expected a list, got ${describe(issue.input)}` }),
  );

const address = text
  .refine((value) => isAddress(value, { strict: false }), {
    error: (issue) => `expected a 20-byte 0x address, got ${describe(issue.input)}`,
  })
  .transform((value) => getAddress(value));

const httpUrl = text.refine((value) => /^https?:\/\/[^\s]+$/.test(value), {
  error: (issue) => `expected an http(s):// URL, got ${describe(issue.input)}`,
});

const multiaddr = text.refine((value) => value.startsWith('/'), {
  error: (issue) =>
    `expected a multiaddr such as /ip4/0.0.0.0/tcp/9000, got ${describe(issue.input)}`,
});

const peerMultiaddr = text.refine((value) => /^\/.+\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(value), {
  error: (issue) =>
    `expected a multiaddr ending in /p2p/<peer id>, e.g. /ip4/10.0.0.1/tcp/9000/p2p/16Uiu2…, got ${describe(issue.input)}`,
});

const peerId = text.refine((value) => /^[1-9A-HJ-NP-Za-km-z]+$/.test(value), {
  error: (issue) => `expected a libp2p peer id such as 16Uiu2…, got ${describe(issue.input)}`,
});

const blockNumber = z.preprocess(
  (value) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
      ? BigInt(value)
      : typeof value === 'string' && /^\s*\d+\s*$/.test(value)
        ? BigInt(value.trim())
        : value,
  z.bigint({ error: (issue) => `expected a block number, got ${describe(issue.input)}` }),
);

const chainId = integer(1, 2 ** 32 - 1);

/** A listener: host and port, on by default. */
const listener = (defaultPort: number) =>
  z
    .strictObject({
      enabled: boolean.default(true),
      host: nonEmptyText.default('127.0.0.1'),
      port: port.default(defaultPort),
    })
    .prefault({});

/** Printable ASCII without spaces, at most 128 characters (the queue's `leased_by`). */
const workerId = nonEmptyText
  .max(128, { error: 'must be at most 128 characters' })
  .regex(/^[\x21-\x7e]+$/, { error: 'use printable ASCII without spaces' });

const consumersSchema = z
  .array(
    z.strictObject({
      /** The destination chain (where the contract and the stake registry it asks live). */
      chainId,
      /** The SpottedConsumer contract. */
      address,
      /** Default: the RPC endpoint configured for this chain id in chains.main or chains.state. */
      rpcUrl: httpUrl.optional(),
      /**
       * Encrypted keystore of the submitting account (`spotted keys create --kind signing`);
       * else SPOTTED_DEV_SUBMITTER_KEY (development). Give each aggregator its own account.
       */
      submitterKeystore: nonEmptyText.optional(),
    }),
    { error: (issue) => `expected a list, got ${describe(issue.input)}` },
  )
  .superRefine((consumers, ctx) => {
    const seen = new Set<number>();
    for (const [index, consumer] of consumers.entries()) {
      if (seen.has(consumer.chainId)) {
        ctx.addIssue({
          code: 'custom',
          path: [index, 'chainId'],
          message: `chain ${consumer.chainId} has a consumer already: give at most one per chain`,
        });
      }
      seen.add(consumer.chainId);
    }
  })
  .default([]);

const chainsSchema = z.strictObject({
  main: z.strictObject({
    rpcUrl: httpUrl,
    chainId,
    epochManager: address,
    stakeRegistry: address,
  }),
  /** Chains whose StateManager history is proven (the main chain's own may be one of them). */
  state: z
    .array(
      z.strictObject({
        rpcUrl: httpUrl,
        chainId,
        stateManager: address,
      }),
    )
    .default([]),
  requestTimeoutMs: durationMs(600_000).default(10_000),
  retryCount: integer(0, 10).default(1),
});

const networkSchema = (defaultPort: number) =>
  z
    .strictObject({
      /** libp2p listen multiaddrs (TCP). */
      listen: list(multiaddr)
        .refine((value) => value.length > 0, { error: 'give at least one listen address' })
        .default([`/ip4/0.0.0.0/tcp/${defaultPort}`]),
      /** Encrypted keystore of the libp2p identity; without one the peer id changes each start. */
      identityKeystore: nonEmptyText.optional(),
      heartbeatIntervalMs: durationMs(60_000).default(1_000),
      dialTimeoutMs: durationMs(120_000).default(5_000),
    })
    .prefault({});

const databaseSchema = (defaultSchema: string) =>
  z
    .strictObject({
      /** A Postgres server, e.g. postgres://spotted@127.0.0.1:5432/spotted. */
      url: text
        .refine((value) => /^postgres(ql)?:\/\//.test(value), {
          error: 'expected a postgres:// URL',
        })
        .optional(),
      /** An embedded PGlite data directory (created if missing), instead of a server. */
      pgliteDir: nonEmptyText.optional(),
      /** The node's own Postgres schema. */
      schema: nonEmptyText.default(defaultSchema),
      maxConnections: integer(1, 1_000).default(10),
    })
    .refine((value) => (value.url === undefined) !== (value.pgliteDir === undefined), {
      error:
        'give exactly one of database.url (a Postgres server) or database.pgliteDir (an embedded PGlite directory)',
    });

const logSchema = z
  .strictObject({
    level: z
      .enum(['debug', 'info', 'warn', 'error'], {
        error: (issue) => `expected one of debug, info, warn, error, got ${describe(issue.input)}`,
      })
      .default('info'),
  })
  .prefault({});

const shutdownSchema = z
  .strictObject({
    /** How long a stop waits for in-flight work before closing anyway. */
    drainTimeoutMs: durationMs(600_000).default(10_000),
  })
  .prefault({});

/** A positive rate (per second), fractions allowed; a decimal string is accepted too. */
const ratePerSec = z.preprocess(
  (value) =>
    typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value,
  z
    .number({ error: (issue) => `expected a number, got ${describe(issue.input)}` })
    .positive({ error: 'must be greater than 0' })
    .max(1_000_000, { error: 'must be at most 1000000' }),
);

/** A token bucket: a sustained rate and the burst allowed on top of it. */
const tokenBucket = z.strictObject({
  ratePerSec,
  burst: integer(1, 1_000_000),
});

/**
 * The peer guard (src/core/peer-guard.ts: admission, per-peer rate limits, strikes and bans).
 * Every key is optional: an absent one keeps the node's default, written next to the policy
 * (REGISTRY_GUARD_OPTIONS, OPERATOR_GUARD_OPTIONS) where it is argued.
 */
const guardFields = {
  /** How long a peer that is not admitted may stay idle between uses of the open channels. */
  strangerGraceMs: durationMs().optional(),
  /** New strangers admitted per second over all of them (a sybil flood's brake). */
  strangerAdmissions: tokenBucket.optional(),
  /** Hostile rejections a peer may collect at once before it is banned. */
  strikesBeforeBan: integer(1, 1_000_000).optional(),
  /** How fast strikes are forgiven. */
  strikeRefillPerSec: ratePerSec.optional(),
  banMs: integer(1, 30 * 86_400_000).optional(),
};

/** Per-peer limits by channel (the ones the node serves); a channel not given keeps its default. */
const registryGuardSchema = z
  .strictObject({
    ...guardFields,
    rateLimits: z
      .strictObject({
        join: tokenBucket.optional(),
        sync: tokenBucket.optional(),
        health: tokenBucket.optional(),
        response: tokenBucket.optional(),
      })
      .prefault({}),
  })
  .prefault({});

const operatorGuardSchema = z
  .strictObject({
    ...guardFields,
    rateLimits: z
      .strictObject({
        health: tokenBucket.optional(),
        task: tokenBucket.optional(),
        epoch: tokenBucket.optional(),
      })
      .prefault({}),
  })
  .prefault({});

const nodeSchema = (defaultName: string) =>
  z.strictObject({ name: nonEmptyText.default(defaultName) }).prefault({});

export const registryConfigSchema = z
  .strictObject({
    node: nodeSchema('spotted-registry'),
    chains: chainsSchema,
    registry: z.strictObject({
      /** First block scanned for registry events: the ECDSAStakeRegistry's deploy block. */
      startBlock: blockNumber,
      /** Blocks below the head before a registry event counts (reorg safety). */
      confirmations: integer(0, 1_000).default(12),
      chainPollIntervalMs: durationMs(600_000).default(2_000),
      /**
       * The other registry nodes of the deployment (multiaddrs ending in /p2p/<peer id>): every
       * epoch this node compares its state hash with theirs and repairs from a majority
       * (src/registry/README.md "Replication"). Empty: a single registry.
       */
      peers: list(peerMultiaddr)
        .refine((value) => value.length <= 15, { error: 'at most 15 other registries' })
        .default([]),
      /** How often an epoch not yet confirmed by a majority of the registries is compared again. */
      stateCheckIntervalMs: durationMs(600_000).default(2_000),
    }),
    aggregator: z
      .strictObject({
        /**
         * Names this aggregator's leases in the job queue; a restart must keep it to take its
         * unfinished jobs back at once, and aggregators sharing one database need distinct ones.
         * Default: `aggregator:<peer id>` with network.identityKeystore (a stable peer id), else
         * `aggregator:<node.name>`.
         */
        workerId: workerId.optional(),
        responseDeadlineMs: durationMs(600_000).default(3_000),
        maxRetries: integer(0, 100).default(3),
        expiryMs: durationMs().default(15_000),
        maxLiveTasks: integer(1, 1_000_000).default(1_000),
        /**
         * After a (re)start, a task's first round waits up to this long for the operators it asks
         * to reconnect (they rejoin with a backoff of at most 30 s): sent before, it reaches
         * nobody and the task fails. 0 opens rounds at once with whoever is reachable.
         */
        reconnectWindowMs: durationMs(600_000).default(40_000),
      })
      .prefault({}),
    /**
     * SpottedConsumer contracts proofs may be submitted to (`submitToChainId`), at most one per
     * destination chain, each with the account that pays for the submissions.
     */
    consumers: consumersSchema,
    /** The proof API for users (POST /v1/proofs, GET /v1/proofs/:taskId, views). */
    api: listener(8080),
    /** Admin actions (unsuspend); keep it on loopback or behind a token (SPOTTED_ADMIN_TOKEN). */
    admin: listener(9011),
    network: networkSchema(9000),
    database: databaseSchema('registry'),
    /** The EigenLayer node API (/eigen/node, /eigen/node/health, /eigen/node/services). */
    nodeApi: listener(9010),
    /** Prometheus metrics at /metrics. */
    metrics: listener(9090),
    log: logSchema,
    shutdown: shutdownSchema,
    /** Admission, rate limits and bans for peers (every key optional). */
    guard: registryGuardSchema,
  })
  .superRefine(checkConsumerEndpoints);

/** A consumer without its own rpcUrl must be on a configured chain. */
function checkConsumerEndpoints(
  config: { chains: z.output<typeof chainsSchema>; consumers: z.output<typeof consumersSchema> },
  ctx: z.RefinementCtx,
) {
  const known = new Set([config.chains.main.chainId, ...config.chains.state.map((s) => s.chainId)]);
  for (const [index, consumer] of config.consumers.entries()) {
    if (consumer.rpcUrl === undefined && !known.has(consumer.chainId)) {
      ctx.addIssue({
        code: 'custom',
        path: ['consumers', index, 'rpcUrl'],
        message: `chain ${consumer.chainId} is neither chains.main nor in chains.state: give its rpcUrl`,
      });
    }
  }
}

export const operatorConfigSchema = z.strictObject({
  node: nodeSchema('spotted-operator'),
  operator: z.strictObject({
    /** The operator's registered address. */
    address,
    /**
     * Encrypted keystores of its signing keys: the current one, and the next during a rotation.
     * May be empty only when SPOTTED_DEV_SIGNING_KEYS is set (development).
     */
    signingKeystores: list(nonEmptyText).default([]),
    /** The registries to join, each `…/p2p/<peer id>`; only these peers are trusted. */
    registryBootstrap: list(peerMultiaddr).refine((value) => value.length > 0, {
      error: 'give at least one registry address',
    }),
    /**
     * Other registries of the deployment (peer ids) whose tasks this operator answers although
     * it does not join them itself: they learn its binding through join replication.
     */
    trustedRegistryPeerIds: list(peerId).default([]),
    join: z
      .strictObject({
        requestTimeoutMs: durationMs(600_000).default(5_000),
        retryInitialDelayMs: durationMs(600_000).default(500),
        retryMaxDelayMs: durationMs(3_600_000).default(30_000),
        notRegisteredRetryInitialDelayMs: durationMs(600_000).default(5_000),
        notRegisteredRetryMaxDelayMs: durationMs(3_600_000).default(60_000),
      })
      .prefault({}),
  }),
  chains: chainsSchema,
  network: networkSchema(9100),
  database: databaseSchema('operator'),
  nodeApi: listener(9010),
  metrics: listener(9090),
  log: logSchema,
  shutdown: shutdownSchema,
  /** Admission, rate limits and bans for peers (every key optional). */
  guard: operatorGuardSchema,
});

export type RegistryConfig = z.output<typeof registryConfigSchema>;
export type OperatorConfig = z.output<typeof operatorConfigSchema>;
export type NodeRole = 'registry' | 'operator';
export type ConfigOf<R extends NodeRole> = R extends 'registry' ? RegistryConfig : OperatorConfig;
export type ChainsSection = RegistryConfig['chains'];
export type NetworkSection = RegistryConfig['network'];
export type DatabaseSection = RegistryConfig['database'];
export type ListenerSection = RegistryConfig['nodeApi'];
export type GuardSection = RegistryConfig['guard'] | OperatorConfig['guard'];

export const CONFIG_SCHEMAS = {
  registry: registryConfigSchema,
  operator: operatorConfigSchema,
} as const;

/** Keys holding file paths, resolved against the config file's directory. */
/** `*` stands for every item of a list. */
export const PATH_KEYS: readonly (readonly string[])[] = [
  ['network', 'identityKeystore'],
  ['operator', 'signingKeystores'],
  ['database', 'pgliteDir'],
  ['consumers', '*', 'submitterKeystore'],
];

/** Keys whose values may carry a secret and are never echoed in errors or logs. */
export const SECRET_KEYS: readonly string[] = ['database.url'];

/** A short rendering of a bad value for an error message. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return value.length > 60 ? `"${value.slice(0, 57)}…"` : JSON.stringify(value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return Array.isArray(value) ? 'a list' : 'a mapping';
}
