import { resolve } from 'node:path';
import {
  decryptKey,
  encryptKey,
  generatePrivateKey,
  inspectKeystore,
  type KeyKind,
  parsePrivateKey,
  readKeystoreText,
  SCRYPT_N_LIGHT,
  SCRYPT_N_STANDARD,
  writeKeystoreFile,
} from '../../adapters/keystore/keystore.ts';
import type { CliIo } from '../adapters/process-io.ts';
import { CliError, EXIT_USAGE } from '../errors.ts';
import { createPasswordSource } from '../secrets.ts';

/**
 * `spotted keys create | import | show`: encrypted Web3 Secret Storage v3 keystores for an
 * operator's ECDSA signing key and for a node's libp2p identity.
 */
export interface KeyWriteOptions {
  kind: string;
  out: string;
  passwordFile?: string;
  /** scrypt N = 2^12 instead of 2^17 (fast to unlock; for devnets and tests only). */
  light?: boolean;
  json?: boolean;
}

export async function createKeyCommand(io: CliIo, options: KeyWriteOptions): Promise<void> {
  await writeKey(io, options, generatePrivateKey());
}

export async function importKeyCommand(
  io: CliIo,
  options: KeyWriteOptions & { privateKeyFile?: string },
): Promise<void> {
  let text: string;
  let source: string;
  if (options.privateKeyFile !== undefined) {
    source = `--private-key-file ${options.privateKeyFile}`;
    try {
      text = await io.readTextFile(resolve(io.cwd, options.privateKeyFile));
    } catch (error) {
      throw new CliError(
        `cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
        { exitCode: EXIT_USAGE, cause: error },
      );
    }
  } else if (io.stdin.isTTY === true) {
    source = 'the prompt';
    text = await io.promptSecret('Private key to import (hex): ');
  } else {
    source = 'stdin';
    text = await io.readStdin();
  }
  await writeKey(io, options, parsePrivateKey(text, source));
}

async function writeKey(io: CliIo, options: KeyWriteOptions, privateKey: `0x${string}`) {
  const kind = parseKind(options.kind);
  const out = resolve(io.cwd, options.out);
  const password = await createPasswordSource(io, {
    ...(options.passwordFile === undefined ? {} : { passwordFile: options.passwordFile }),
    confirm: true,
    purpose: `the new keystore ${out}`,
  })();
  const json = await encryptKey({
    privateKey,
    password,
    kind,
    scryptN: options.light ? SCRYPT_N_LIGHT : SCRYPT_N_STANDARD,
  });
  await writeKeystoreFile(out, json);
  const info = inspectKeystore(json, out);
  printInfo(io, info, options.json === true);
}

export async function showKeyCommand(
  io: CliIo,
  file: string,
  options: { verify?: boolean; passwordFile?: string; json?: boolean },
): Promise<void> {
  const path = resolve(io.cwd, file);
  const text = await readKeystoreText(path);
  let info = inspectKeystore(text, path);
  if (options.verify) {
    const password = await createPasswordSource(io, {
      ...(options.passwordFile === undefined ? {} : { passwordFile: options.passwordFile }),
      purpose: `keystore ${path}`,
    })();
    const { privateKey: _secret, ...checked } = await decryptKey(text, password, path);
    info = checked;
  }
  printInfo(io, info, options.json === true, options.verify === true);
}

function printInfo(
  io: CliIo,
  info: { file: string; address: string; kind: KeyKind; peerId?: string },
  json: boolean,
  verified?: boolean,
) {
  if (json) {
    io.stdout.write(`${JSON.stringify({ ...info, ...(verified ? { verified } : {}) })}\n`);
    return;
  }
  const lines = [
    `file:    ${info.file}`,
    `kind:    ${info.kind === 'identity' ? 'libp2p identity (secp256k1)' : 'ECDSA signing key'}`,
    `address: ${info.address}`,
    ...(info.peerId === undefined ? [] : [`peer id: ${info.peerId}`]),
    ...(verified ? ['password: correct (the key decrypts)'] : []),
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
}

function parseKind(kind: string): KeyKind {
  if (kind === 'signing' || kind === 'identity') return kind;
  throw new CliError(`--kind: expected signing or identity, got ${JSON.stringify(kind)}`, {
    exitCode: EXIT_USAGE,
  });
}
