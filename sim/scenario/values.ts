/**
 * Value syntaxes of scenario files: durations, uint256 numbers, comparisons, and the
 * "did you mean" helper. Each parser returns a problem string instead of throwing so that the
 * scenario validator can attach file, line and path.
 */

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export const MAX_UINT256 = (1n << 256n) - 1n;
export const MAX_UINT64 = (1n << 64n) - 1n;

const UNIT_MS: Readonly<Record<string, bigint>> = { h: 3_600_000n, m: 60_000n, s: 1000n, ms: 1n };
const UNIT_ORDER = ['h', 'm', 's', 'ms'];
const COMPONENT = /(\d+)(?:\.(\d+))?(ms|h|m|s)/y;

export const DURATION_HINT = 'a duration such as 1500ms, 90s, 6m, 2h or 1m30s';

/**
 * `"90s"`, `"1500ms"`, `"6m"`, `"2h"`, `"1m30s"`, `"1.5s"` → milliseconds. Components go from
 * the largest unit to the smallest, each at most once; the total must be a whole number of
 * milliseconds. A leading `-` is accepted only with `allowNegative`.
 */
export function durationFromText(
  text: string,
  options: { allowNegative?: boolean } = {},
): Parsed<number> {
  const trimmed = text.trim();
  const negative = trimmed.startsWith('-');
  const body = negative ? trimmed.slice(1) : trimmed;
  const malformed = (): Parsed<number> => ({
    ok: false,
    problem: `expected ${DURATION_HINT}, got ${JSON.stringify(text)}`,
  });
  if (body === '') return malformed();
  if (body === '0') return { ok: true, value: 0 };
  if (/^\d+(\.\d+)?$/.test(body)) {
    return {
      ok: false,
      problem: `a duration needs a unit (ms, s, m or h), e.g. "${body}ms" or "${body}s"; got ${JSON.stringify(text)}`,
    };
  }
  let total = 0n;
  let position = 0;
  let lastUnit = -1;
  COMPONENT.lastIndex = 0;
  while (position < body.length) {
    COMPONENT.lastIndex = position;
    const match = COMPONENT.exec(body);
    if (match === null) return malformed();
    const [whole, integer = '0', fraction = '', unit = 'ms'] = match;
    const unitIndex = UNIT_ORDER.indexOf(unit);
    if (unitIndex <= lastUnit) {
      return {
        ok: false,
        problem: `units must go from largest to smallest, each at most once (e.g. "1m30s"); got ${JSON.stringify(text)}`,
      };
    }
    lastUnit = unitIndex;
    const unitMs = UNIT_MS[unit] ?? 1n;
    const scale = 10n ** BigInt(fraction.length);
    const scaled = (BigInt(integer) * scale + BigInt(fraction === '' ? '0' : fraction)) * unitMs;
    if (scaled % scale !== 0n) {
      return {
        ok: false,
        problem: `${JSON.stringify(text)} is not a whole number of milliseconds`,
      };
    }
    total += scaled / scale;
    position += whole.length;
  }
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { ok: false, problem: `${JSON.stringify(text)} is too long` };
  }
  if (negative && total !== 0n && options.allowNegative !== true) {
    return { ok: false, problem: `negative duration ${JSON.stringify(text)}` };
  }
  const ms = Number(total);
  return { ok: true, value: negative && ms !== 0 ? -ms : ms };
}

/** Milliseconds from a duration string; throws a RangeError naming the problem. */
export function parseDuration(text: string, options: { allowNegative?: boolean } = {}): number {
  const parsed = durationFromText(text, options);
  if (!parsed.ok) throw new RangeError(parsed.problem);
  return parsed.value;
}

/** The shortest spelling `parseDuration` reads back: 90000 → "1m30s", 1500 → "1s500ms", 0 → "0s". */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms)) throw new RangeError(`not a whole number of milliseconds: ${ms}`);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of UNIT_ORDER) {
    const size = Number(UNIT_MS[unit] ?? 1n);
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0) out += `${count}${unit}`;
  }
  return out;
}

export const UINT_HINT = 'an integer, or a decimal or 0x string';

/** `"42"`, `"0x2a"` → 42n; at most 2^256 − 1. */
export function uint256FromText(text: string): Parsed<bigint> {
  const trimmed = text.trim();
  if (/^-\s*(0x[0-9a-fA-F]+|\d+)$/.test(trimmed)) {
    return { ok: false, problem: `must not be negative, got ${JSON.stringify(text)}` };
  }
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(trimmed)) {
    return { ok: false, problem: `expected ${UINT_HINT}, got ${JSON.stringify(text)}` };
  }
  return uint256FromBigint(BigInt(trimmed));
}

export function uint256FromBigint(value: bigint): Parsed<bigint> {
  if (value < 0n) return { ok: false, problem: `must not be negative, got ${value}` };
  if (value > MAX_UINT256) return { ok: false, problem: `${value} exceeds 2^256 - 1` };
  return { ok: true, value };
}

/** A uint256 from a YAML integer (bigint) or a decimal/0x string; floats are refused. */
export function parseUint256(value: string | number | bigint): bigint {
  let parsed: Parsed<bigint>;
  if (typeof value === 'bigint') parsed = uint256FromBigint(value);
  else if (typeof value === 'string') parsed = uint256FromText(value);
  else if (Number.isSafeInteger(value)) parsed = uint256FromBigint(BigInt(value));
  else parsed = { ok: false, problem: `expected ${UINT_HINT}, got the number ${value}` };
  if (!parsed.ok) throw new RangeError(parsed.problem);
  return parsed.value;
}

export const COMPARISONS = ['>=', '<=', '==', '>', '<'] as const;
export type ComparisonOperator = (typeof COMPARISONS)[number];

const COMPARISON_TYPOS: Readonly<Record<string, ComparisonOperator>> = {
  '=>': '>=',
  '=<': '<=',
  '=': '==',
  '===': '==',
  '≥': '>=',
  '≤': '<=',
};

/**
 * `">= 20"` → { comparison: '>=', operand: '20' }. The operand is returned as text for the
 * caller to parse (a count, a duration…).
 */
export function splitComparison(
  text: string,
): Parsed<{ comparison: ComparisonOperator; operand: string }> {
  const match = /^\s*(>=|<=|==|>|<)\s*([^\s<>=].*?)\s*$/.exec(text);
  if (match !== null) {
    const [, comparison, operand = ''] = match;
    const known = COMPARISONS.find((c) => c === comparison);
    if (known !== undefined) return { ok: true, value: { comparison: known, operand } };
  }
  const typo = /^\s*([=<>≥≤]+)/.exec(text)?.[1];
  const suggestion = typo === undefined ? undefined : COMPARISON_TYPOS[typo];
  return {
    ok: false,
    problem:
      `malformed comparison ${JSON.stringify(text)}: expected one of ${COMPARISONS.join(', ')} and a value, e.g. ">= 5"` +
      (suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`),
  };
}

/** Optimal string alignment distance (Levenshtein with adjacent transpositions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = [];
  for (let i = 0; i <= s.length; i++) {
    const row: number[] = [];
    for (let j = 0; j <= t.length; j++) {
      if (i === 0 || j === 0) {
        row.push(i + j);
        continue;
      }
      const above = rows[i - 1] ?? [];
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min((above[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (above[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        best = Math.min(best, (rows[i - 2]?.[j - 2] ?? 0) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return rows[s.length]?.[t.length] ?? 0;
}

/** The candidate closest to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(Math.max(word.length, 3) / 3));
  if (best !== undefined && bestDistance <= allowed) return best;
  // A clear abbreviation: "heaviest" for "heaviestFirst".
  const lower = word.toLowerCase();
  const extensions = candidates.filter((c) => c.toLowerCase().startsWith(lower));
  return word.length >= 3 && extensions.length === 1 ? extensions[0] : undefined;
}

/** `' (did you mean "x"?)'` or `''`. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const suggestion = closest(word, candidates);
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
}
