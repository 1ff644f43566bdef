import { HttpListenError } from '../adapters/http/node-api.ts';
import { SpottedApiError } from '../adapters/http/spotted-client.ts';
import { KeystoreError } from '../adapters/keystore/keystore.ts';
import { ChainError, ContractNotFoundError } from '../chain/errors.ts';
import { ConfigError } from '../config/errors.ts';
import { StoreError } from '../store/errors.ts';
import { ConsumerSetupError } from '../wiring/errors.ts';
import { HttpCallError } from './adapters/http.ts';

/**
 * How the CLI reports failure: one line per problem on stderr (`error: …`), saying what is wrong
 * and what to change, and a non-zero exit code (2 for usage and configuration mistakes, 1 for
 * everything else).
 */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code = 'CLI_ERROR';
  readonly exitCode: number;
  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options?.exitCode ?? EXIT_FAILURE;
  }
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof ConfigError) return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** The lines to print for an error, each prefixed `error: `. */
export function formatError(error: unknown): string[] {
  if (error instanceof ConfigError)
    return error.message.split('\n').map((line) => `error: ${line}`);
  return [`error: ${oneLine(messageOf(error))}`];
}

function messageOf(error: unknown): string {
  if (error instanceof SpottedApiError) {
    return `the registry API refused the request: ${error.message} (${error.code}, HTTP ${error.status})`;
  }
  if (error instanceof StoreError && error.code === 'DATABASE_UNAVAILABLE') {
    return `${error.message} (check database.url and that the server is running)`;
  }
  if (
    error instanceof CliError ||
    error instanceof ChainError ||
    error instanceof StoreError ||
    error instanceof KeystoreError ||
    error instanceof HttpCallError ||
    error instanceof HttpListenError ||
    error instanceof ConsumerSetupError
  ) {
    return error.message;
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${error.message} (${code})`
      : error.message;
  }
  return String(error);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** A chain error at start, with the configuration key to change appended. */
export function withConfigHint(
  error: unknown,
  chains: { main: { chainId: number }; state: readonly { chainId: number }[] },
): unknown {
  if (!(error instanceof ChainError)) return error;
  const stateIndex = (label: string) => {
    const id = Number(/state chain (\d+)/.exec(label)?.[1] ?? Number.NaN);
    const index = chains.state.findIndex((s) => s.chainId === id);
    return index === -1 ? undefined : index;
  };
  let key: string | undefined;
  if (error instanceof ContractNotFoundError) {
    key = error.message.includes('EpochManager')
      ? 'chains.main.epochManager'
      : error.message.includes('ECDSAStakeRegistry')
        ? 'chains.main.stakeRegistry'
        : `chains.state.${stateIndex(error.chain) ?? '<n>'}.stateManager`;
  } else if (error.code === 'CHAIN_ID_MISMATCH') {
    const id = Number(/chain (\d+)/.exec(error.chain)?.[1] ?? Number.NaN);
    const index = chains.state.findIndex((s) => s.chainId === id);
    key = id === chains.main.chainId ? 'chains.main.chainId' : `chains.state.${index}.chainId`;
  } else if (error.code === 'RPC_FAILED') {
    const index = stateIndex(error.chain);
    key = index === undefined ? 'chains.main.rpcUrl' : `chains.state.${index}.rpcUrl`;
    return new CliError(`${error.message} (is the node running? check ${key})`, { cause: error });
  }
  return key === undefined
    ? error
    : new CliError(`${error.message} [config: ${key}]`, { cause: error });
}
