/** Plain JSON over HTTP for the CLI's read and admin commands. */
export class HttpCallError extends Error {
  override readonly name = 'HttpCallError';
  readonly code: string;
  readonly status: number;
  constructor(url: string, status: number, code: string, message: string, cause?: unknown) {
    super(`${url}: ${message}`, cause === undefined ? undefined : { cause });
    this.status = status;
    this.code = code;
  }
}

export async function callJson<T>(
  url: string,
  init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: unknown } = {},
  timeoutMs = 10_000,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method ?? 'GET',
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    const reason = networkCode(error) ?? (cause instanceof Error ? cause.message : String(error));
    throw new HttpCallError(
      url,
      0,
      'UNREACHABLE',
      `cannot reach the server (${reason}): check the URL and that the node runs`,
      error,
    );
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const problem = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new HttpCallError(
      url,
      response.status,
      problem?.code ?? `HTTP_${response.status}`,
      problem?.message ?? `HTTP ${response.status}`,
    );
  }
  return body as T;
}

/** The system error code (ECONNREFUSED, ENOTFOUND, …) somewhere in a fetch failure's causes. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const { code, errors, cause } = current as {
      code?: unknown;
      errors?: unknown[];
      cause?: unknown;
    };
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    current = Array.isArray(errors) && errors.length > 0 ? errors[0] : cause;
  }
  return undefined;
}
