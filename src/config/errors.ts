/**
 * Configuration errors. Every problem names the key (dotted path) and where its value came from
 * (file and line, or the environment variable), so the fix is one edit away.
 */
export type ConfigErrorCode = 'CONFIG_SYNTAX' | 'CONFIG_INVALID';

export interface ConfigProblem {
  /** Dotted path of the key at fault, e.g. `chains.main.rpcUrl`; empty for the whole file. */
  readonly key: string;
  readonly message: string;
  /** `config/registry.yaml:12:3`, or `environment variable SPOTTED_REGISTRY__API__PORT`. */
  readonly source: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code: ConfigErrorCode;
  readonly problems: readonly ConfigProblem[];

  constructor(code: ConfigErrorCode, problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.code = code;
    this.problems = problems;
  }
}

function formatProblem(problem: ConfigProblem): string {
  return problem.key === ''
    ? `${problem.source}: ${problem.message}`
    : `${problem.source}: ${problem.key}: ${problem.message}`;
}
