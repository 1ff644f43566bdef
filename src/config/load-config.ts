import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isSeq, LineCounter, type Node, type Pair, parseDocument } from 'yaml';
import type * as z from 'zod';
import { ConfigError, type ConfigProblem } from './errors.ts';
import { CONFIG_SCHEMAS, type ConfigOf, type NodeRole, PATH_KEYS } from './schema.ts';

/**
 * Reads a node's configuration: YAML text, then environment overrides, then validation. Pure (the
 * caller reads the file and passes the environment), so every rule here is unit-tested.
 *
 * Environment overrides: `SPOTTED_<ROLE>__<KEY>__<KEY>…=value`, each key in UPPER_SNAKE_CASE
 * (`rpcUrl` → `RPC_URL`), list items by index: `SPOTTED_OPERATOR__CHAINS__STATE__0__RPC_URL`.
 * A list of strings may be given whole, comma-separated (`SPOTTED_OPERATOR__NETWORK__LISTEN`).
 * An override naming no known key is an error, like an unknown key in the file.
 */
export interface ConfigSource {
  /** The YAML text. */
  text: string;
  /** Its path, for messages and for resolving relative paths in it. */
  file: string;
  env: Readonly<Record<string, string | undefined>>;
}

export function envPrefix(role: NodeRole): string {
  return `SPOTTED_${role.toUpperCase()}__`;
}

export function loadConfig<R extends NodeRole>(role: R, source: ConfigSource): ConfigOf<R> {
  const lineCounter = new LineCounter();
  const document = parseDocument(source.text, { lineCounter });
  const syntax = document.errors[0];
  if (syntax) {
    const position = syntax.linePos?.[0];
    throw new ConfigError('CONFIG_SYNTAX', [
      {
        key: '',
        source: position ? `${source.file}:${position.line}:${position.col}` : source.file,
        message: `not valid YAML: ${firstLine(syntax.message)}`,
      },
    ]);
  }
  const raw: unknown = document.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('CONFIG_INVALID', [
      { key: '', source: source.file, message: 'expected a mapping of keys at the top level' },
    ]);
  }
  const origins = applyEnvOverrides(raw as Record<string, unknown>, role, source.env);

  const schema = CONFIG_SCHEMAS[role] as unknown as z.ZodType<ConfigOf<R>>;
  const result = schema.safeParse(raw);
  if (!result.success) {
    const locate = (path: readonly PropertyKey[], key?: string): string => {
      const full = key === undefined ? path : [...path, key];
      const fromEnv = findOrigin(origins, full);
      if (fromEnv) return `environment variable ${fromEnv}`;
      // A missing key has no line of its own: point at its parent mapping (or the file).
      const present = valueAt(raw, full) !== undefined;
      const at = present ? full : full.slice(0, -1);
      const offset = at.length === 0 ? undefined : offsetOf(document.contents, at);
      if (offset === undefined) return source.file;
      const { line, col } = lineCounter.linePos(offset);
      return `${source.file}:${line}:${col}`;
    };
    const problems: ConfigProblem[] = [];
    for (const issue of result.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          problems.push({
            key: dotted([...issue.path, key]),
            source: locate(issue.path, key),
            message: `unknown key${suggestion(schema, issue.path, key)}`,
          });
        }
        continue;
      }
      const missing = issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined;
      problems.push({
        key: dotted(issue.path),
        source: locate(issue.path),
        message: missing ? 'required' : issue.message,
      });
    }
    throw new ConfigError('CONFIG_INVALID', problems);
  }
  return resolvePaths(result.data, dirname(source.file));
}

/** Writes every `SPOTTED_<ROLE>__…` variable into `raw`; returns which path came from which variable. */
function applyEnvOverrides(
  raw: Record<string, unknown>,
  role: NodeRole,
  env: Readonly<Record<string, string | undefined>>,
): Map<string, string> {
  const prefix = envPrefix(role);
  const origins = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (!name.startsWith(prefix) || value === undefined) continue;
    const path = name
      .slice(prefix.length)
      .split('__')
      .map((segment) => (/^\d+$/.test(segment) ? Number(segment) : camelCase(segment)));
    if (path.some((segment) => segment === '')) {
      throw new ConfigError('CONFIG_INVALID', [
        {
          key: '',
          source: `environment variable ${name}`,
          message: `malformed override name: use ${prefix}<KEY>__<KEY>, e.g. ${prefix}METRICS__PORT`,
        },
      ]);
    }
    setPath(raw, path, value);
    origins.set(dotted(path), name);
  }
  return origins;
}

function setPath(
  target: Record<string, unknown>,
  path: readonly (string | number)[],
  value: string,
) {
  let node: Record<string | number, unknown> = target;
  for (const [index, segment] of path.entries()) {
    if (index === path.length - 1) {
      node[segment] = value;
      return;
    }
    const next = node[segment];
    if (typeof next === 'object' && next !== null) {
      node = next as Record<string | number, unknown>;
    } else {
      const created: Record<string | number, unknown> | unknown[] =
        typeof path[index + 1] === 'number' ? [] : {};
      node[segment] = created;
      node = created as Record<string | number, unknown>;
    }
  }
}

function findOrigin(
  origins: Map<string, string>,
  path: readonly PropertyKey[],
): string | undefined {
  // The override that set this key, or a list it replaced whole (a comma-separated list).
  for (let length = path.length; length > 0; length--) {
    const origin = origins.get(dotted(path.slice(0, length)));
    if (origin) return origin;
  }
  return undefined;
}

/** Where `path` starts in the YAML text (the key of the last segment when it is a map key). */
function offsetOf(root: Node | null, path: readonly PropertyKey[]): number | undefined {
  let node: unknown = root;
  let offset: number | undefined = (root as Node | null)?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item: Pair) => keyOf(item) === String(segment));
      if (!pair) return offset;
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) return offset;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      return offset;
    }
  }
  return offset;
}

function keyOf(pair: Pair): string | undefined {
  const key = pair.key as { value?: unknown } | null;
  return key && 'value' in key ? String(key.value) : undefined;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = raw;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

/** " (did you mean …?)" when an unknown key is close to a known one, else the known keys. */
function suggestion(schema: z.ZodType, path: readonly PropertyKey[], key: string): string {
  const known = knownKeys(schema, path);
  if (known.length === 0) return '';
  const close = known.find(
    (candidate) =>
      candidate.toLowerCase() === key.toLowerCase() || editDistance(candidate, key) <= 2,
  );
  return close ? ` (did you mean ${close}?)` : ` (known keys: ${known.join(', ')})`;
}

/** The keys of the object schema at `path`, looking through defaults, pipes and arrays. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  const unwrap = () => {
    for (let guard = 0; guard < 10; guard++) {
      const def = (current as { def?: Record<string, unknown> }).def;
      if (!def) return;
      if (def['innerType']) current = def['innerType'];
      else if (def['type'] === 'pipe') current = def['out'];
      else if (def['type'] === 'array') current = def['element'];
      else return;
    }
  };
  unwrap();
  for (const segment of path) {
    if (typeof segment === 'number') continue;
    const shape = (current as { def?: { shape?: Record<string, unknown> } }).def?.shape;
    if (!shape || !(String(segment) in shape)) return [];
    current = shape[String(segment)];
    unwrap();
  }
  const shape = (current as { def?: { shape?: Record<string, unknown> } }).def?.shape;
  return shape ? Object.keys(shape) : [];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(
        above + 1,
        (row[j - 1] ?? 0) + 1,
        previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1),
      );
      previous = above;
    }
  }
  return row[b.length] ?? 0;
}

function resolvePaths<T>(config: T, baseDir: string): T {
  const absolute = (value: string) => (isAbsolute(value) ? value : resolve(baseDir, value));
  const copy = structuredClone(config) as Record<string, unknown>;
  for (const path of PATH_KEYS) {
    for (const parent of parentsAt(copy, path.slice(0, -1))) {
      const key = path[path.length - 1] as string;
      const value = parent[key];
      if (typeof value === 'string') parent[key] = absolute(value);
      else if (Array.isArray(value)) {
        parent[key] = value.map((item) => (typeof item === 'string' ? absolute(item) : item));
      }
    }
  }
  return copy as T;
}

/** The objects at `path`, where a `*` segment stands for every item of a list. */
function parentsAt(root: unknown, path: readonly string[]): Record<string, unknown>[] {
  let nodes: unknown[] = [root];
  for (const segment of path) {
    nodes = nodes.flatMap((node) => {
      if (typeof node !== 'object' || node === null) return [];
      if (segment === '*') return Array.isArray(node) ? node : [];
      return [(node as Record<string, unknown>)[segment]];
    });
  }
  return nodes.filter(
    (node): node is Record<string, unknown> => typeof node === 'object' && node !== null,
  );
}

function camelCase(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
