import type { Rng } from '../ports/rng.ts';
import { OperatorConfigError } from './errors.ts';

/** Exponential backoff with jitter, capped: every retry loop of the node waits through one. */
export interface BackoffPolicy {
  /** The wait after the first failure. */
  readonly initialDelayMs: number;
  /** No wait is longer than this, jitter included. */
  readonly maxDelayMs: number;
  /** Growth per failure (≥ 1). */
  readonly multiplier: number;
  /** Each wait is drawn from ±this fraction around its nominal value, so peers do not retry in step. */
  readonly jitterRatio: number;
}

/** The wait after `failures` consecutive failures (1 for the first). */
export function backoffDelayMs(policy: BackoffPolicy, failures: number, rng: Rng): number {
  const exponent = Math.max(0, failures - 1);
  const nominal = Math.min(
    policy.maxDelayMs,
    policy.initialDelayMs * policy.multiplier ** exponent,
  );
  const jitter = nominal * policy.jitterRatio * (2 * rng.next() - 1);
  return Math.round(Math.min(policy.maxDelayMs, Math.max(0, nominal + jitter)));
}

export function checkBackoffPolicy(field: string, policy: BackoffPolicy): BackoffPolicy {
  const positive = (name: keyof BackoffPolicy) => {
    const value = policy[name];
    if (!Number.isFinite(value) || value <= 0) {
      throw new OperatorConfigError(`${field}.${name}`, `must be a positive number, got ${value}`);
    }
  };
  positive('initialDelayMs');
  positive('maxDelayMs');
  if (policy.maxDelayMs < policy.initialDelayMs) {
    throw new OperatorConfigError(`${field}.maxDelayMs`, 'must be at least initialDelayMs');
  }
  if (!Number.isFinite(policy.multiplier) || policy.multiplier < 1) {
    throw new OperatorConfigError(`${field}.multiplier`, `must be ≥ 1, got ${policy.multiplier}`);
  }
  if (!(policy.jitterRatio >= 0 && policy.jitterRatio < 1)) {
    throw new OperatorConfigError(
      `${field}.jitterRatio`,
      `must be in [0, 1), got ${policy.jitterRatio}`,
    );
  }
  return policy;
}
