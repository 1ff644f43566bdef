import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateKeyToAddress } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spotted, stderrLines } from './support.ts';

let dir: string;
let passwordFile: string;
let wrongPasswordFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spotted-cli-keys-'));
  passwordFile = join(dir, 'password');
  wrongPasswordFile = join(dir, 'wrong-password');
  await writeFile(passwordFile, 'correct horse\n');
  await writeFile(wrongPasswordFile, 'battery staple\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('spotted keys', () => {
  test('behavior: create writes an owner-only v3 keystore that show describes without the password', async () => {
    const out = join(dir, 'signing.json');
    const created = await spotted([
      'keys',
      'create',
      '--kind',
      'signing',
      '--out',
      out,
      '--password-file',
      passwordFile,
      '--light',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const info = JSON.parse(created.stdout) as { address: string; kind: string };
    expect(info.kind).toBe('signing');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const keystore = JSON.parse(await readFile(out, 'utf8'));
    expect(keystore.version).toBe(3);
    expect(`0x${keystore.address}`.toLowerCase()).toBe(info.address.toLowerCase());

    const shown = await spotted(['keys', 'show', out]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`address: ${info.address}`);
    expect(shown.stdout).toContain('kind:    ECDSA signing key');

    const verified = await spotted(['keys', 'show', out, '--verify', '--json'], {
      env: { SPOTTED_KEYSTORE_PASSWORD: 'correct horse' },
    });
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ address: info.address, verified: true });
  });

  test('behavior: an identity keystore shows its libp2p peer id', async () => {
    const out = join(dir, 'identity.json');
    const created = await spotted([
      'keys',
      'create',
      '--kind',
      'identity',
      '--out',
      out,
      '--password-file',
      passwordFile,
      '--light',
      '--json',
    ]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout).peerId).toMatch(/^16Uiu2/);
    const shown = await spotted(['keys', 'show', out]);
    expect(shown.stdout).toMatch(/peer id: 16Uiu2\w+/);
  });

  test('behavior: import encrypts a key read from a file (never from the command line)', async () => {
    const privateKey = `0x${'ab'.repeat(32)}` as const;
    const keyFile = join(dir, 'plain.key');
    await writeFile(keyFile, `${privateKey}\n`);
    const out = join(dir, 'imported.json');
    const run = await spotted([
      'keys',
      'import',
      '--kind',
      'signing',
      '--out',
      out,
      '--private-key-file',
      keyFile,
      '--password-file',
      passwordFile,
      '--light',
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).address).toBe(privateKeyToAddress(privateKey));
    expect(run.stdout + run.stderr).not.toContain('ab'.repeat(32));
    const fromStdin = await spotted(
      [
        'keys',
        'import',
        '--kind',
        'signing',
        '--out',
        join(dir, 'stdin.json'),
        '--password-file',
        passwordFile,
        '--light',
        '--json',
      ],
      { input: privateKey.slice(2) },
    );
    expect(JSON.parse(fromStdin.stdout).address).toBe(privateKeyToAddress(privateKey));
  });

  test('behavior: a wrong password is one line saying so, exit code non-zero', async () => {
    const out = join(dir, 'locked.json');
    await spotted([
      'keys',
      'create',
      '--kind',
      'signing',
      '--out',
      out,
      '--password-file',
      passwordFile,
      '--light',
    ]);
    const run = await spotted([
      'keys',
      'show',
      out,
      '--verify',
      '--password-file',
      wrongPasswordFile,
    ]);
    expect(run.code).not.toBe(0);
    expect(stderrLines(run)).toEqual([
      `error: keystore ${out}: wrong password (the MAC check failed; if the password is right, the file was modified)`,
    ]);
  });

  test('behavior: an existing keystore is never overwritten, and no password source is an error', async () => {
    const out = join(dir, 'once.json');
    await spotted([
      'keys',
      'create',
      '--kind',
      'signing',
      '--out',
      out,
      '--password-file',
      passwordFile,
      '--light',
    ]);
    const before = await readFile(out, 'utf8');
    const again = await spotted([
      'keys',
      'create',
      '--kind',
      'signing',
      '--out',
      out,
      '--password-file',
      passwordFile,
      '--light',
    ]);
    expect(again.code).not.toBe(0);
    expect(stderrLines(again)).toEqual([
      `error: keystore ${out}: already exists; refusing to overwrite a key (choose another --out or move the old file)`,
    ]);
    expect(await readFile(out, 'utf8')).toBe(before);

    const noPassword = await spotted([
      'keys',
      'create',
      '--kind',
      'signing',
      '--out',
      join(dir, 'x.json'),
      '--light',
    ]);
    expect(noPassword.code).toBe(2);
    expect(stderrLines(noPassword)).toHaveLength(1);
    expect(stderrLines(noPassword)[0]).toMatch(
      /^error: no password for the new keystore .*: give --password-file <file>, set SPOTTED_KEYSTORE_PASSWORD, or run in a terminal to be asked$/,
    );
  });
});
