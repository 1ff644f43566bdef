import type { WebhookSender } from '../../aggregator/delivery-ports.ts';

/**
 * The `WebhookSender` port over `fetch`: one POST per call, no redirects followed (a callback
 * URL that redirects gets its 3xx as the answer), the response body discarded unread, and the
 * whole exchange bounded by `timeoutMs`.
 */
export function createFetchWebhookSender(options: { userAgent?: string } = {}): WebhookSender {
  const userAgent = options.userAgent ?? 'spotted-registry';
  return {
    async post(url, body, { headers, timeoutMs }) {
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'user-agent': userAgent, ...headers },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const detail =
          error instanceof Error && error.name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : (cause?.code ??
              cause?.message ??
              (error instanceof Error ? error.message : String(error)));
        throw new Error(`POST ${url}: ${detail}`, { cause: error });
      }
      await response.body?.cancel().catch(() => {});
      return { status: response.status };
    },
  };
}
