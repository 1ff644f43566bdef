import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const PLATFORM_PACKAGES: Record<string, Record<string, string>> = {
  linux: { x64: 'anvil-linux-amd64', arm64: 'anvil-linux-arm64' },
  darwin: { x64: 'anvil-darwin-amd64', arm64: 'anvil-darwin-arm64' },
  win32: { x64: 'anvil-win32-amd64' },
};

export class AnvilBinaryNotFoundError extends Error {
  readonly code = 'ANVIL_BINARY_NOT_FOUND';
  override readonly name = 'AnvilBinaryNotFoundError';
}

/**
 * The Anvil binary shipped inside the `@foundry-rs/anvil-<platform>` npm package (an optional
 * dependency of `@foundry-rs/anvil`). Nothing is downloaded: `pnpm install` brings it.
 */
export function resolveAnvilBinary(): string {
  const name = PLATFORM_PACKAGES[process.platform]?.[process.arch];
  if (!name) {
    throw new AnvilBinaryNotFoundError(
      `no Anvil build for ${process.platform}/${process.arch} in @foundry-rs/anvil`,
    );
  }
  const require = createRequire(import.meta.url);
  // The platform package is a dependency of @foundry-rs/anvil, so resolve from there (pnpm is strict).
  const anvilPackage = require.resolve('@foundry-rs/anvil/package.json');
  const platformPackage = createRequire(anvilPackage).resolve(`@foundry-rs/${name}/package.json`);
  const binary = join(
    dirname(platformPackage),
    'bin',
    process.platform === 'win32' ? 'anvil.exe' : 'anvil',
  );
  if (!existsSync(binary)) {
    throw new AnvilBinaryNotFoundError(`Anvil binary missing at ${binary}: run \`pnpm install\``);
  }
  return binary;
}
