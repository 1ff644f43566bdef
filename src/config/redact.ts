/**
 * A copy of a configuration that is safe to log: the password of a Postgres URL is masked. (Key
 * passwords and private keys are never part of the configuration.)
 */
export function redactConfig<T>(config: T): T {
  const copy = structuredClone(config) as { database?: { url?: string } };
  if (copy.database?.url !== undefined) copy.database.url = redactUrl(copy.database.url);
  return copy as T;
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:/@]+):[^@]*@/i, '$1:***@');
}
