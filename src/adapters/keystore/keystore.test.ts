import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAddress } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  decryptKey,
  encryptKey,
  generatePrivateKey,
  inspectKeystore,
  KeystoreError,
  parsePrivateKey,
  readKeystoreFile,
  SCRYPT_N_LIGHT,
  writeKeystoreFile,
} from './keystore.ts';
import { peerIdOfKey } from './libp2p-identity.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotted-keystore-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const codeOf = async (promise: Promise<unknown>) => {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(KeystoreError);
  return (error as KeystoreError).code;
};

describe('keystore', () => {
  test('behavior: a signing key round-trips through a v3 keystore file', async () => {
    const privateKey = generatePrivateKey();
    const json = await encryptKey({
      privateKey,
      password: 'pw',
      kind: 'signing',
      scryptN: SCRYPT_N_LIGHT,
    });
    const parsed = JSON.parse(json);
    expect(parsed.version).toBe(3);
    expect(parsed.Crypto.kdf).toBe('scrypt');
    expect(parsed.Crypto.kdfparams.n).toBe(SCRYPT_N_LIGHT);
    expect(json).not.toContain(privateKey.slice(2));
    const file = join(dir, 'signing.json');
    await writeKeystoreFile(file, json);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const key = await readKeystoreFile(file, 'pw', 'signing');
    expect(key.privateKey).toBe(privateKey);
    expect(key.address).toBe(privateKeyToAddress(privateKey));
  });

  test('behavior: an identity keystore records and checks its libp2p peer id', async () => {
    const privateKey = generatePrivateKey();
    const json = await encryptKey({
      privateKey,
      password: 'pw',
      kind: 'identity',
      scryptN: SCRYPT_N_LIGHT,
    });
    const info = inspectKeystore(json, 'id.json');
    expect(info.kind).toBe('identity');
    expect(info.peerId).toBe(peerIdOfKey(privateKey));
    expect(info.peerId).toMatch(/^16Uiu2/);
    const key = await decryptKey(json, 'pw', 'id.json', 'identity');
    expect(key.peerId).toBe(info.peerId);
    expect(await codeOf(decryptKey(json, 'pw', 'id.json', 'signing'))).toBe('KEYSTORE_WRONG_KIND');
  });

  test('behavior: a wrong password, a damaged file and a missing file are told apart', async () => {
    const json = await encryptKey({
      privateKey: generatePrivateKey(),
      password: 'right',
      kind: 'signing',
      scryptN: SCRYPT_N_LIGHT,
    });
    expect(await codeOf(decryptKey(json, 'wrong', 'k.json'))).toBe('KEYSTORE_WRONG_PASSWORD');
    const bad = join(dir, 'bad.json');
    await writeFile(bad, json.slice(0, 40));
    expect(await codeOf(readKeystoreFile(bad, 'right'))).toBe('KEYSTORE_CORRUPT');
    await writeFile(bad, '{"version": 3}');
    expect(await codeOf(readKeystoreFile(bad, 'right'))).toBe('KEYSTORE_CORRUPT');
    expect(await codeOf(readKeystoreFile(join(dir, 'absent.json'), 'right'))).toBe(
      'KEYSTORE_NOT_FOUND',
    );
  });

  test('behavior: an existing file is never overwritten', async () => {
    const file = join(dir, 'once.json');
    await writeKeystoreFile(file, '{}');
    expect(await codeOf(writeKeystoreFile(file, '{"other":1}'))).toBe('KEYSTORE_EXISTS');
    expect(await readFile(file, 'utf8')).toBe('{}');
  });

  test('behavior: imported private keys are checked without echoing them', () => {
    const key = generatePrivateKey();
    expect(parsePrivateKey(key.slice(2).toUpperCase(), 'stdin')).toBe(key);
    expect(() => parsePrivateKey('0x1234', 'stdin')).toThrow(/expected a 32-byte hex private key/);
    const zero = `0x${'0'.repeat(64)}`;
    expect(() => parsePrivateKey(zero, 'stdin')).toThrow(/not a valid secp256k1 private key/);
  });
});
