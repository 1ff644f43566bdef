/**
 * A `fetch` for viem's http transport that sends the JSON-RPC requests issued in one turn of the
 * event loop to the same URL as one JSON-RPC batch, and hands each caller its own response.
 *
 * Why not viem's own `batch` option: it waits on `setTimeout(…, wait)`, at least a millisecond per
 * request even when nothing else is coming, which costs more than it saves for requests that go
 * one at a time. This flushes on `setImmediate`: a request alone goes out at once, as itself;
 * requests started together (the simulator's I/O gate starts a chain's concurrent reads in one
 * pass) share one HTTP round trip, which on loopback costs about as much as the reads themselves.
 *
 * Everything else stays viem's: ids, timeouts and abort signals (a caller whose signal aborts is
 * rejected alone), error mapping (each caller gets a response holding its own JSON-RPC result or
 * error; a failed batch request gives every caller that failure).
 */
type Fetch = typeof globalThis.fetch;

interface Pending {
  readonly url: string;
  readonly init: RequestInit;
  readonly message: { id?: unknown };
  readonly resolve: (response: Response) => void;
  readonly reject: (error: unknown) => void;
}

export function createBatchingFetch(
  // Looked up at send time, so whoever wraps `globalThis.fetch` later still sees every request.
  send: Fetch = (input, init) => globalThis.fetch(input, init),
): Fetch {
  let queue: Pending[] = [];

  const flush = () => {
    const batch = queue;
    queue = [];
    const byUrl = new Map<string, Pending[]>();
    for (const entry of batch) {
      const group = byUrl.get(entry.url);
      if (group === undefined) byUrl.set(entry.url, [entry]);
      else group.push(entry);
    }
    for (const group of byUrl.values()) {
      if (group.length === 1) {
        const [only] = group as [Pending];
        send(only.url, only.init).then(only.resolve, only.reject);
      } else {
        void sendBatch(group);
      }
    }
  };

  const sendBatch = async (group: readonly Pending[]) => {
    const [first] = group as [Pending, ...Pending[]];
    let status: number;
    let text: string;
    try {
      const response = await send(first.url, {
        ...first.init,
        body: JSON.stringify(group.map((entry) => entry.message)),
        // Each caller's own signal still rejects that caller (below); the batch runs to its end.
        signal: null,
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      for (const entry of group) entry.reject(error);
      return;
    }
    let answers: unknown;
    try {
      answers = JSON.parse(text);
    } catch {
      answers = undefined;
    }
    const byId = new Map<unknown, unknown>();
    if (Array.isArray(answers)) {
      for (const answer of answers) byId.set((answer as { id?: unknown } | null)?.id, answer);
    }
    for (const entry of group) {
      const answer = byId.get(entry.message.id);
      // Not a per-request answer (an HTTP error, a batch-level error object): everyone gets it.
      const body = answer === undefined ? text : JSON.stringify(answer);
      entry.resolve(
        new Response(body, { status, headers: { 'content-type': 'application/json' } }),
      );
    }
  };

  return (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined;
    const message = parseSingleMessage(init?.body);
    if (url === undefined || init === undefined || message === undefined) {
      return send(input, init);
    }
    return new Promise<Response>((resolve, reject) => {
      const signal = init.signal;
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      queue.push({ url, init, message, resolve, reject });
      if (queue.length === 1) setImmediate(flush);
    });
  };
}

/** The one JSON-RPC request object in `body`, or undefined for anything else (sent as is). */
function parseSingleMessage(body: unknown): { id?: unknown } | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    return 'method' in parsed ? (parsed as { id?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}
