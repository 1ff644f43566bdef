import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { ScenarioError } from './scenario.ts';

/**
 * A YAML document reduced to what the scenario validator needs: maps (keys in file order),
 * lists and scalars, each carrying the 1-based line that an error about it should name.
 *
 * Integers are kept as bigint (the document is parsed with `intAsBigInt`), so a uint256 written
 * as a plain YAML integer is exact. A collection that is the value of a key carries the key's
 * line (that is where a reader looks for "chain: missing epochLength"); scalars carry their own.
 */
export type YNode = YMap | YSeq | YScalar;

export interface YMap {
  readonly kind: 'map';
  readonly line: number;
  readonly entries: readonly YEntry[];
}

export interface YSeq {
  readonly kind: 'seq';
  readonly line: number;
  readonly items: readonly YNode[];
}

export type ScalarValue = string | number | bigint | boolean | null;

export interface YScalar {
  readonly kind: 'scalar';
  readonly line: number;
  readonly value: ScalarValue;
  /** The text as written (without quotes). */
  readonly source: string;
}

export interface YEntry {
  readonly key: string;
  readonly keyLine: number;
  readonly value: YNode;
}

/** Deeper than this is certainly not a scenario (and guards against alias cycles). */
const MAX_DEPTH = 64;

/** Parses YAML text; syntax errors become a ScenarioError with the line of the first one. */
export function parseYamlTree(text: string, file: string): YNode {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    intAsBigInt: true,
    prettyErrors: true,
    uniqueKeys: true,
  });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) {
    const line = problem.linePos?.[0].line;
    const lineText = line === undefined ? '' : (text.split(/\r?\n/)[line - 1] ?? '');
    throw new ScenarioError(
      file,
      '',
      line,
      `YAML syntax error: ${describeYamlError(problem.message, lineText)}`,
    );
  }
  const lineOf = (offset: number | undefined, fallback: number) =>
    offset === undefined ? fallback : lineCounter.linePos(offset).line;

  const convert = (node: unknown, fallbackLine: number, path: string, depth: number): YNode => {
    if (depth > MAX_DEPTH) {
      throw new ScenarioError(
        file,
        path,
        fallbackLine,
        `nested more than ${MAX_DEPTH} levels deep`,
      );
    }
    if (node === null || node === undefined) {
      return { kind: 'scalar', line: fallbackLine, value: null, source: '' };
    }
    if (isAlias(node)) {
      const target = node.resolve(doc);
      return convert(target, lineOf(node.range?.[0], fallbackLine), path, depth + 1);
    }
    if (isScalar(node)) {
      const line = lineOf(node.range?.[0], fallbackLine);
      const value = node.value;
      const source = node.source ?? String(value);
      if (
        value === null ||
        typeof value === 'string' ||
        typeof value === 'number' ||
        typeof value === 'bigint' ||
        typeof value === 'boolean'
      ) {
        return { kind: 'scalar', line, value, source };
      }
      return { kind: 'scalar', line, value: source, source };
    }
    if (isMap(node)) {
      const line = lineOf(node.range?.[0], fallbackLine);
      const entries: YEntry[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key;
        const keyLine = isScalar(keyNode) ? lineOf(keyNode.range?.[0], line) : line;
        const key = isScalar(keyNode) ? keyNode.value : undefined;
        if (typeof key !== 'string' || key === '') {
          const shown = isScalar(keyNode) ? (keyNode.source ?? String(key)) : 'a collection';
          throw new ScenarioError(
            file,
            path,
            keyLine,
            `keys must be names, got ${shown === '' ? 'an empty key' : shown}`,
          );
        }
        const childPath = path === '' ? key : `${path}.${key}`;
        const child = convert(pair.value, keyLine, childPath, depth + 1);
        // A collection introduced by a key is reported at the key's line.
        entries.push({
          key,
          keyLine,
          value: child.kind === 'scalar' ? child : { ...child, line: keyLine },
        });
      }
      return { kind: 'map', line, entries };
    }
    if (isSeq(node)) {
      const line = lineOf(node.range?.[0], fallbackLine);
      const items = node.items.map((item, index) =>
        convert(item, line, `${path}[${index}]`, depth + 1),
      );
      return { kind: 'seq', line, items };
    }
    throw new ScenarioError(file, path, fallbackLine, 'unsupported YAML node');
  };

  if (doc.contents === null) {
    throw new ScenarioError(
      file,
      '',
      1,
      'the file is empty; a scenario is a map with at least name, duration and operators',
    );
  }
  return convert(doc.contents, 1, '', 0);
}

function describeYamlError(message: string, lineText: string): string {
  // The library appends " at line L, column C:" and a source excerpt; the line is ours to print.
  const headline = message.split(/ at line \d+, column \d+/)[0] ?? message;
  let hint = '';
  if (/:\s*>\s*=?\s*\d/.test(lineText)) {
    hint = ' (a comparison that starts with ">" must be quoted, e.g. completed: ">= 20")';
  }
  return `${headline.trim()}${hint}`;
}
