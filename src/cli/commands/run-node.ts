import { resolve } from 'node:path';
import type { Hex } from 'viem';
import { createSystemClock } from '../../adapters/clock/system-clock.ts';
import { toJson } from '../../adapters/http/json.ts';
import { createPinoLogger } from '../../adapters/logger/pino-logger.ts';
import { loadConfig } from '../../config/load-config.ts';
import { redactConfig } from '../../config/redact.ts';
import type { NodeRole, OperatorConfig, RegistryConfig } from '../../config/schema.ts';
import { buildOperatorProcess } from '../../wiring/operator-node.ts';
import { buildRegistryProcess } from '../../wiring/registry-node.ts';
import type { NodeProcess, WiringDeps } from '../../wiring/shared.ts';
import type { CliIo } from '../adapters/process-io.ts';
import { CliError, EXIT_USAGE, withConfigHint } from '../errors.ts';
import {
  ADMIN_TOKEN_ENV,
  createPasswordSource,
  DEV_IDENTITY_KEY_ENV,
  DEV_SIGNING_KEYS_ENV,
  DEV_SUBMITTER_KEY_ENV,
  devKeys,
  unlock,
} from '../secrets.ts';
import { SPOTTED_VERSION } from '../version.ts';

export interface RunNodeOptions {
  config: string;
  passwordFile?: string;
  /** Stop when stdin closes (set by supervisors such as `pnpm devnet`, so no node outlives it). */
  exitOnStdinClose?: boolean;
}

/**
 * `spotted registry` / `spotted operator`: loads and validates the configuration, unlocks the
 * keys, starts the node, and on SIGTERM or SIGINT stops it gracefully (no new work, in-flight
 * work drained up to `shutdown.drainTimeoutMs`, libp2p and the database closed) and resolves, so
 * the process exits 0. A second signal exits at once with 130.
 */
export async function runNode(io: CliIo, role: NodeRole, options: RunNodeOptions): Promise<void> {
  const file = resolve(io.cwd, options.config);
  const text = await readConfigText(io, file);
  const config = loadConfig(role, { text, file, env: io.env });
  const password = createPasswordSource(io, {
    ...(options.passwordFile === undefined ? {} : { passwordFile: options.passwordFile }),
    purpose: `the ${role}'s keystores`,
  });
  const identityKey = await loadIdentityKey(io, config.network.identityKeystore, password);
  // PGlite creates its data directory but not the parents.
  if (config.database.pgliteDir !== undefined) {
    await io.ensureDirectory(config.database.pgliteDir).catch((error: unknown) => {
      throw new CliError(
        `database.pgliteDir: cannot create ${config.database.pgliteDir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { exitCode: EXIT_USAGE, cause: error },
      );
    });
  }

  const log = createPinoLogger({ level: config.log.level, name: `spotted-${role}` });
  const deps: WiringDeps = { log, clock: createSystemClock(), nodeVersion: SPOTTED_VERSION };
  log.info('configuration loaded', { file, config: toJson(redactConfig(config)) });

  let node: NodeProcess;
  if (role === 'registry') {
    const registryConfig = config as RegistryConfig;
    const adminToken = io.env[ADMIN_TOKEN_ENV];
    if (
      registryConfig.admin.enabled &&
      !isLoopback(registryConfig.admin.host) &&
      (adminToken === undefined || adminToken === '')
    ) {
      throw new CliError(
        `admin.host is ${registryConfig.admin.host}, reachable from other machines: set ${ADMIN_TOKEN_ENV} or bind admin.host to 127.0.0.1`,
        { exitCode: EXIT_USAGE },
      );
    }
    const submitterKeys = await loadSubmitterKeys(io, registryConfig, password);
    node = buildRegistryProcess(registryConfig, deps, {
      ...(identityKey === undefined ? {} : { identityKey }),
      submitterKeys,
      ...(adminToken === undefined || adminToken === '' ? {} : { adminToken }),
    });
  } else {
    const operatorConfig = config as OperatorConfig;
    const signingPrivateKeys = await loadSigningKeys(io, operatorConfig, password);
    node = buildOperatorProcess(operatorConfig, deps, {
      signingPrivateKeys,
      ...(identityKey === undefined ? {} : { identityKey }),
    });
  }

  let stopReason: string | undefined;
  let started = false;
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolvePromise) => {
    resolveStopped = resolvePromise;
  });
  const requestStop = (reason: string) => {
    if (stopReason !== undefined) {
      if (reason !== 'stdin closed') {
        log.warn('second stop signal: exiting without draining', { reason });
        io.exit(130);
      }
      return;
    }
    stopReason = reason;
    if (started) void node.stop(reason).then(resolveStopped);
    else log.info('stop requested while starting; stopping once started', { reason });
  };
  const removeSignals = io.onSignal((signal) => requestStop(signal));
  if (options.exitOnStdinClose) io.onStdinClose(() => requestStop('stdin closed'));

  try {
    await node.start();
  } catch (error) {
    removeSignals();
    log.error('start failed', { error: error instanceof Error ? error.message : String(error) });
    throw withConfigHint(error, config.chains);
  }
  started = true;
  if (stopReason !== undefined) void node.stop(stopReason).then(resolveStopped);
  await stopped;
  removeSignals();
}

async function readConfigText(io: CliIo, file: string): Promise<string> {
  try {
    return await io.readTextFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `config file ${file} does not exist (see config/*.yaml for examples)`
        : `cannot read config file ${file}: ${code ?? String(error)}`,
      { exitCode: EXIT_USAGE, cause: error },
    );
  }
}

async function loadIdentityKey(
  io: CliIo,
  keystore: string | undefined,
  password: () => Promise<string>,
): Promise<Hex | undefined> {
  if (keystore !== undefined) return (await unlock(keystore, 'identity', password)).privateKey;
  return devKeys(io, DEV_IDENTITY_KEY_ENV)?.[0];
}

async function loadSigningKeys(
  io: CliIo,
  config: OperatorConfig,
  password: () => Promise<string>,
): Promise<Hex[]> {
  const fromEnv = devKeys(io, DEV_SIGNING_KEYS_ENV);
  if (fromEnv !== undefined) {
    io.stderr.write(
      `warning: signing keys taken from ${DEV_SIGNING_KEYS_ENV} (development only; use encrypted keystores in production)\n`,
    );
    return fromEnv;
  }
  if (config.operator.signingKeystores.length === 0) {
    throw new CliError(
      `operator.signingKeystores: give at least one keystore (spotted keys create --kind signing), or set ${DEV_SIGNING_KEYS_ENV} for development`,
      { exitCode: EXIT_USAGE },
    );
  }
  const keys: Hex[] = [];
  for (const file of config.operator.signingKeystores) {
    keys.push((await unlock(file, 'signing', password)).privateKey);
  }
  return keys;
}

/** One submitting account per configured consumer: its keystore, else the development key. */
async function loadSubmitterKeys(
  io: CliIo,
  config: RegistryConfig,
  password: () => Promise<string>,
): Promise<Hex[]> {
  const keys: Hex[] = [];
  for (const [index, consumer] of config.consumers.entries()) {
    if (consumer.submitterKeystore !== undefined) {
      keys.push((await unlock(consumer.submitterKeystore, 'signing', password)).privateKey);
      continue;
    }
    const devKey = devKeys(io, DEV_SUBMITTER_KEY_ENV)?.[0];
    if (devKey === undefined) {
      throw new CliError(
        `consumers.${index}.submitterKeystore: give the keystore of the account that submits to the consumer on chain ${consumer.chainId} (spotted keys create --kind signing), or set ${DEV_SUBMITTER_KEY_ENV} for development`,
        { exitCode: EXIT_USAGE },
      );
    }
    keys.push(devKey);
  }
  return keys;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
