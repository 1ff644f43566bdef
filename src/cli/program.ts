import { Command, CommanderError, Option } from 'commander';
import type { CliIo } from './adapters/process-io.ts';
import { EXIT_USAGE, exitCodeOf, formatError } from './errors.ts';
import { SPOTTED_VERSION } from './version.ts';

/**
 * The `spotted` command line. Each command's module is imported only when it runs, so `--help`
 * and light commands start fast. Everything the commands touch of the process goes through `io`.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('spotted')
    .description(
      'Spotted: cross-chain state proofs signed by EigenLayer operators.\nRun nodes, manage keys, request and verify proofs.',
    )
    .version(SPOTTED_VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride();

  const passwordFile = () =>
    new Option(
      '--password-file <file>',
      'file holding the keystore password (else SPOTTED_KEYSTORE_PASSWORD, else a prompt)',
    );

  for (const role of ['registry', 'operator'] as const) {
    program
      .command(role)
      .description(
        role === 'registry'
          ? 'run a registry node: event watcher, epochs, joins, the aggregator and the proof API'
          : 'run an operator node: join through the registry, follow epochs, sign proofs',
      )
      .requiredOption('-c, --config <file>', `YAML configuration (see config/${role}.yaml)`)
      .addOption(passwordFile())
      .addOption(new Option('--exit-on-stdin-close', 'stop when stdin closes').hideHelp())
      .addHelpText(
        'after',
        `\nEnvironment overrides: SPOTTED_${role.toUpperCase()}__<KEY>__<KEY>=value, e.g. SPOTTED_${role.toUpperCase()}__METRICS__PORT=9191.\nSIGTERM/SIGINT stop gracefully (drain, then close libp2p and the database); exit code 0.`,
      )
      .action(
        async (options: { config: string; passwordFile?: string; exitOnStdinClose?: boolean }) => {
          const { runNode } = await import('./commands/run-node.ts');
          await runNode(io, role, options);
        },
      );
  }

  program
    .command('request')
    .description('ask a registry for a proof, wait for it, print the proof JSON')
    .requiredOption('--api <url>', "the registry's proof API, e.g. http://127.0.0.1:8080")
    .requiredOption('--chain-id <id>', 'the chain whose StateManager holds the value')
    .requiredOption('--target <address>', 'the account the value belongs to')
    .requiredOption('--key <uint256>', 'the key (decimal or 0x hex)')
    .option('--block <number>', 'prove the value at this block')
    .option('--timestamp <unix seconds>', 'or: prove the value at this time')
    .option('--callback-url <url>', 'also POST the result here once the task ends')
    .option(
      '--submit-to-chain <id>',
      "also submit the proof to the registry's SpottedConsumer on this chain",
    )
    .option('--timeout-ms <ms>', 'give up waiting after this long', '30000')
    .action(async (options) => {
      const { requestCommand } = await import('./commands/request.ts');
      await requestCommand(io, options);
    });

  program
    .command('verify')
    .description(
      "check a proof on-chain with the registry's isValidSignature: prints valid or the reason",
    )
    .argument('[proof-file]', 'the JSON printed by spotted request (default: stdin)')
    .option('--rpc-url <url>', 'main chain RPC')
    .option('--registry <address>', 'the ECDSAStakeRegistry address')
    .option('-c, --config <file>', 'or: take both from a node configuration')
    .action(async (proofFile: string | undefined, options) => {
      const { verifyCommand } = await import('./commands/verify.ts');
      await verifyCommand(io, proofFile, options);
    });

  const keys = program
    .command('keys')
    .description('encrypted key files (Web3 Secret Storage v3, scrypt), as eigenlayer-cli writes');
  const keyOptions = (command: Command) =>
    command
      .requiredOption('--kind <kind>', 'signing (ECDSA signing key) or identity (libp2p identity)')
      .requiredOption('-o, --out <file>', 'where to write the keystore (never overwritten)')
      .addOption(passwordFile())
      .option('--light', 'fast scrypt (N=2^12) for devnets and tests; never for real keys')
      .option('--json', 'print the result as JSON');
  keyOptions(keys.command('create').description('generate a key and write it encrypted')).action(
    async (options) => {
      const { createKeyCommand } = await import('./commands/keys.ts');
      await createKeyCommand(io, options);
    },
  );
  keyOptions(
    keys
      .command('import')
      .description(
        'encrypt an existing hex private key (from --private-key-file, stdin or a prompt)',
      ),
  )
    .option('--private-key-file <file>', 'file holding the hex private key')
    .action(async (options) => {
      const { importKeyCommand } = await import('./commands/keys.ts');
      await importKeyCommand(io, options);
    });
  keys
    .command('show')
    .description("print a keystore's kind, address and peer id (no password needed)")
    .argument('<file>', 'the keystore')
    .option('--verify', 'also decrypt it, to check the password')
    .addOption(passwordFile())
    .option('--json', 'print as JSON')
    .action(async (file: string, options) => {
      const { showKeyCommand } = await import('./commands/keys.ts');
      await showKeyCommand(io, file, options);
    });

  program
    .command('admin')
    .description("a registry's admin actions")
    .command('unsuspend')
    .description('lift the suspension of an operator (sends SPOTTED_ADMIN_TOKEN when set)')
    .argument('<operator>', "the operator's address")
    .option('--admin <url>', "the registry's admin API", 'http://127.0.0.1:9011')
    .action(async (operator: string, options) => {
      const { unsuspendCommand } = await import('./commands/admin.ts');
      await unsuspendCommand(io, operator, options);
    });

  program
    .command('status')
    .description("the network and its operators, from a registry's HTTP API")
    .option('--api <url>', "the registry's proof API", 'http://127.0.0.1:8080')
    .option('--operator <address>', 'show one operator')
    .option('--json', 'print as JSON')
    .action(async (options) => {
      const { statusCommand } = await import('./commands/status.ts');
      await statusCommand(io, options);
    });

  const testbed = program
    .command('testbed')
    .description('testbed contract writes (what EigenLayer tooling and dApps do in production)');
  testbed
    .command('register')
    .description('as the registry owner: register an operator with a signing key and a weight')
    .requiredOption('--rpc-url <url>', 'main chain RPC')
    .requiredOption('--registry <address>', 'the ECDSAStakeRegistry address')
    .requiredOption('--operator <address>', "the operator's address")
    .option('--signing-key <address>', 'its signing key address')
    .option('--signing-keystore <file>', 'or: read the signing key address from its keystore')
    .requiredOption('--weight <wei>', 'its weight')
    .option(
      '--owner-key-file <file>',
      "file holding the owner's hex private key (else SPOTTED_OWNER_PRIVATE_KEY)",
    )
    .action(async (options) => {
      const { registerCommand } = await import('./commands/testbed.ts');
      await registerCommand(io, options);
    });
  testbed
    .command('set-value')
    .description("store key → value in a StateManager as the sender's account")
    .requiredOption('--rpc-url <url>', 'the state chain RPC')
    .requiredOption('--state-manager <address>', 'the StateManager address')
    .requiredOption('--key <uint256>', 'the key')
    .requiredOption('--value <uint256>', 'the value')
    .option(
      '--from-key-file <file>',
      "file holding the sender's hex private key (else SPOTTED_SENDER_PRIVATE_KEY)",
    )
    .action(async (options) => {
      const { setValueCommand } = await import('./commands/testbed.ts');
      await setValueCommand(io, options);
    });

  return program;
}

/** Runs one command line; resolves with the exit code (errors are printed, one line each). */
export async function runCli(io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...io.argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message (or the help) already.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    for (const line of formatError(error)) io.stderr.write(`${line}\n`);
    return exitCodeOf(error);
  }
}
