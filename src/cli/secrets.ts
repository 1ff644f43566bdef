import type { Hex } from 'viem';
import {
  type DecryptedKey,
  type KeyKind,
  parsePrivateKey,
  readKeystoreFile,
} from '../adapters/keystore/keystore.ts';
import type { CliIo } from './adapters/process-io.ts';
import { CliError, EXIT_USAGE } from './errors.ts';

/**
 * Where secrets come from. Key passwords: `--password-file`, else the SPOTTED_KEYSTORE_PASSWORD
 * environment variable, else a prompt when stdin is a terminal. Plain keys for development only:
 * SPOTTED_DEV_SIGNING_KEYS (comma-separated), SPOTTED_DEV_IDENTITY_KEY and SPOTTED_DEV_SUBMITTER_KEY.
 * Secrets are never
 * taken from the command line (it shows in `ps`) and never logged.
 */
export const PASSWORD_ENV = 'SPOTTED_KEYSTORE_PASSWORD';
export const DEV_SIGNING_KEYS_ENV = 'SPOTTED_DEV_SIGNING_KEYS';
export const DEV_IDENTITY_KEY_ENV = 'SPOTTED_DEV_IDENTITY_KEY';
/** The account that submits proofs to every consumer without a `submitterKeystore`. */
export const DEV_SUBMITTER_KEY_ENV = 'SPOTTED_DEV_SUBMITTER_KEY';
export const ADMIN_TOKEN_ENV = 'SPOTTED_ADMIN_TOKEN';

export interface PasswordOptions {
  passwordFile?: string;
  /** Ask twice (creating a key). */
  confirm?: boolean;
  /** What the prompt names, e.g. "keystore keys/op1.json". */
  purpose: string;
}

/** A password source resolved once and reused for every keystore of a command. */
export function createPasswordSource(io: CliIo, options: PasswordOptions): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= resolvePassword(io, options);
    return cached;
  };
}

async function resolvePassword(io: CliIo, options: PasswordOptions): Promise<string> {
  if (options.passwordFile !== undefined) {
    let text: string;
    try {
      text = await io.readTextFile(options.passwordFile);
    } catch (error) {
      throw new CliError(
        `cannot read --password-file ${options.passwordFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { exitCode: EXIT_USAGE, cause: error },
      );
    }
    return nonEmpty(text.replace(/\r?\n$/, ''), `--password-file ${options.passwordFile}`);
  }
  const fromEnv = io.env[PASSWORD_ENV];
  if (fromEnv !== undefined) return nonEmpty(fromEnv, PASSWORD_ENV);
  if (io.stdin.isTTY !== true) {
    throw new CliError(
      `no password for ${options.purpose}: give --password-file <file>, set ${PASSWORD_ENV}, or run in a terminal to be asked`,
      { exitCode: EXIT_USAGE },
    );
  }
  const password = nonEmpty(
    await io.promptSecret(`Password for ${options.purpose}: `),
    'the prompt',
  );
  if (options.confirm) {
    const again = await io.promptSecret('Repeat the password: ');
    if (again !== password) throw new CliError('the passwords differ', { exitCode: EXIT_USAGE });
  }
  return password;
}

function nonEmpty(password: string, source: string): string {
  if (password === '') {
    throw new CliError(`the password from ${source} is empty`, { exitCode: EXIT_USAGE });
  }
  return password;
}

/** Decrypts one keystore with the shared password. */
export async function unlock(
  file: string,
  kind: KeyKind,
  password: () => Promise<string>,
): Promise<DecryptedKey> {
  return readKeystoreFile(file, await password(), kind);
}

/** Development keys from the environment; undefined when the variable is not set. */
export function devKeys(io: CliIo, name: string): Hex[] | undefined {
  const value = io.env[name];
  if (value === undefined || value.trim() === '') return undefined;
  return value.split(',').map((part, index) => parsePrivateKey(part, `${name}[${index}]`));
}
