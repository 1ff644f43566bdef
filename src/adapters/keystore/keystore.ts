import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { decryptKeystoreJson, encryptKeystoreJson, isKeystoreJson } from 'ethers';
import { type Address, getAddress, type Hex, isHex } from 'viem';
import { privateKeyToAddress } from 'viem/accounts';
import { peerIdOfKey } from './libp2p-identity.ts';

/**
 * Encrypted key files in the Web3 Secret Storage v3 format (the one eigenlayer-cli and geth write
 * for ECDSA keys): scrypt, AES-128-CTR, keccak MAC, through ethers. One format for both keys a
 * node holds: its ECDSA signing key and its libp2p identity (a secp256k1 libp2p key, so the same
 * 32-byte secret fits). A `spotted` field says which a file is for, so a node refuses a key given
 * in the wrong place; files without it (made by other tools) are taken as signing keys.
 */

export type KeyKind = 'signing' | 'identity';

export type KeystoreErrorCode =
  | 'KEYSTORE_NOT_FOUND'
  | 'KEYSTORE_CORRUPT'
  | 'KEYSTORE_WRONG_PASSWORD'
  | 'KEYSTORE_EXISTS'
  | 'KEYSTORE_WRONG_KIND'
  | 'INVALID_PRIVATE_KEY';

export class KeystoreError extends Error {
  override readonly name = 'KeystoreError';
  readonly code: KeystoreErrorCode;
  /** The file at fault ('' when none is involved). */
  readonly file: string;

  constructor(
    code: KeystoreErrorCode,
    file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(file === '' ? message : `keystore ${file}: ${message}`, options);
    this.code = code;
    this.file = file;
  }
}

/** What a keystore file says about itself, readable without the password. */
export interface KeystoreInfo {
  file: string;
  address: Address;
  kind: KeyKind;
  /** For identity keys: the libp2p peer id recorded at creation. */
  peerId?: string;
}

export interface DecryptedKey extends KeystoreInfo {
  privateKey: Hex;
}

/** scrypt N: ethers' default (2^17, about a second per decryption) or light (2^12, for devnets). */
export const SCRYPT_N_STANDARD = 131_072;
export const SCRYPT_N_LIGHT = 4_096;

const KIND_LABEL: Record<KeyKind, string> = { signing: 'signing', identity: 'libp2p-identity' };

/** A fresh secp256k1 private key from the system's CSPRNG. */
export function generatePrivateKey(): Hex {
  for (;;) {
    const candidate = `0x${randomBytes(32).toString('hex')}` as Hex;
    try {
      privateKeyToAddress(candidate);
      return candidate;
    } catch {
      // Out of the curve's range (probability ~2^-128): draw again.
    }
  }
}

/** Checks and normalises a hex private key (0x optional); never echoes it. */
export function parsePrivateKey(input: string, where: string): Hex {
  const trimmed = input.trim();
  const hex = (trimmed.startsWith('0x') ? trimmed : `0x${trimmed}`).toLowerCase();
  if (!isHex(hex) || hex.length !== 66) {
    throw new KeystoreError(
      'INVALID_PRIVATE_KEY',
      '',
      `${where}: expected a 32-byte hex private key (64 hex digits, 0x optional)`,
    );
  }
  try {
    privateKeyToAddress(hex as Hex);
  } catch (error) {
    throw new KeystoreError(
      'INVALID_PRIVATE_KEY',
      '',
      `${where}: not a valid secp256k1 private key`,
      {
        cause: error,
      },
    );
  }
  return hex as Hex;
}

/** Encrypts `privateKey` into keystore JSON text. */
export async function encryptKey(args: {
  privateKey: Hex;
  password: string;
  kind: KeyKind;
  scryptN?: number;
}): Promise<string> {
  const address = privateKeyToAddress(args.privateKey);
  const json = await encryptKeystoreJson({ address, privateKey: args.privateKey }, args.password, {
    scrypt: { N: args.scryptN ?? SCRYPT_N_STANDARD },
  });
  const parsed = JSON.parse(json) as Record<string, unknown>;
  parsed['spotted'] = {
    kind: KIND_LABEL[args.kind],
    ...(args.kind === 'identity' ? { peerId: peerIdOfKey(args.privateKey) } : {}),
  };
  return `${JSON.stringify(parsed, null, 2)}\n`;
}

/** Reads the public part of a keystore: address, kind, peer id. */
export function inspectKeystore(json: string, file: string): KeystoreInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    throw new KeystoreError('KEYSTORE_CORRUPT', file, 'is not JSON (a damaged or wrong file?)', {
      cause: error,
    });
  }
  if (!isKeystoreJson(json) || typeof parsed !== 'object' || parsed === null) {
    throw new KeystoreError(
      'KEYSTORE_CORRUPT',
      file,
      'is not a Web3 Secret Storage v3 keystore (no "version": 3 with a crypto section)',
    );
  }
  const record = parsed as { address?: unknown; spotted?: { kind?: unknown; peerId?: unknown } };
  if (typeof record.address !== 'string' || !/^(0x)?[0-9a-fA-F]{40}$/.test(record.address)) {
    throw new KeystoreError('KEYSTORE_CORRUPT', file, 'has no valid "address" field');
  }
  const kindLabel = record.spotted?.kind;
  const kind: KeyKind = kindLabel === KIND_LABEL.identity ? 'identity' : 'signing';
  if (kindLabel !== undefined && kindLabel !== KIND_LABEL.signing && kind !== 'identity') {
    throw new KeystoreError(
      'KEYSTORE_CORRUPT',
      file,
      `has an unknown spotted.kind ${JSON.stringify(kindLabel)} (expected "signing" or "libp2p-identity")`,
    );
  }
  const address = getAddress(
    record.address.startsWith('0x') ? record.address : `0x${record.address}`,
  );
  return {
    file,
    address,
    kind,
    ...(typeof record.spotted?.peerId === 'string' ? { peerId: record.spotted.peerId } : {}),
  };
}

/** Decrypts keystore JSON text. A wrong password and a damaged file are told apart where possible. */
export async function decryptKey(
  json: string,
  password: string,
  file: string,
  expectedKind?: KeyKind,
): Promise<DecryptedKey> {
  const info = inspectKeystore(json, file);
  if (expectedKind !== undefined && info.kind !== expectedKind) {
    throw new KeystoreError(
      'KEYSTORE_WRONG_KIND',
      file,
      `holds a ${KIND_LABEL[info.kind]} key, but a ${KIND_LABEL[expectedKind]} key is needed here (create one with: spotted keys create --kind ${expectedKind})`,
    );
  }
  let account: { privateKey: string; address: string };
  try {
    account = await decryptKeystoreJson(json, password);
  } catch (error) {
    const argument = (error as { argument?: unknown }).argument;
    if (argument === 'password') {
      throw new KeystoreError(
        'KEYSTORE_WRONG_PASSWORD',
        file,
        'wrong password (the MAC check failed; if the password is right, the file was modified)',
        { cause: error },
      );
    }
    const detail = (error as { shortMessage?: unknown }).shortMessage;
    throw new KeystoreError(
      'KEYSTORE_CORRUPT',
      file,
      `cannot be decrypted: ${typeof detail === 'string' ? detail : String(error)}`,
      { cause: error },
    );
  }
  const privateKey = account.privateKey.toLowerCase() as Hex;
  const decrypted: DecryptedKey = { ...info, address: getAddress(account.address), privateKey };
  if (info.kind === 'identity') {
    const peerId = peerIdOfKey(privateKey);
    if (info.peerId !== undefined && info.peerId !== peerId) {
      throw new KeystoreError(
        'KEYSTORE_CORRUPT',
        file,
        `records peer id ${info.peerId}, but its key gives ${peerId}`,
      );
    }
    decrypted.peerId = peerId;
  }
  return decrypted;
}

/** Reads and decrypts a keystore file. */
export async function readKeystoreFile(
  file: string,
  password: string,
  expectedKind?: KeyKind,
): Promise<DecryptedKey> {
  return decryptKey(await readKeystoreText(file), password, file, expectedKind);
}

/** Reads a keystore file's text; a missing file is a KeystoreError naming it. */
export async function readKeystoreText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeystoreError(
        'KEYSTORE_NOT_FOUND',
        file,
        'does not exist (create one with: spotted keys create)',
        {
          cause: error,
        },
      );
    }
    throw new KeystoreError('KEYSTORE_NOT_FOUND', file, `cannot be read: ${String(error)}`, {
      cause: error,
    });
  }
}

/** Writes keystore JSON readable by its owner only; never overwrites an existing file. */
export async function writeKeystoreFile(file: string, json: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeystoreError(
        'KEYSTORE_EXISTS',
        file,
        'already exists; refusing to overwrite a key (choose another --out or move the old file)',
        { cause: error },
      );
    }
    throw error;
  }
  try {
    await handle.writeFile(json, 'utf8');
  } finally {
    await handle.close();
  }
}
