import { timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import { getAddress, isAddress } from 'viem';
import { IllegalTransitionError } from '../../core/errors.ts';
import type { Logger } from '../../ports/logger.ts';
import { unsuspendOperator } from '../../registry/admin.ts';
import { UnknownOperatorError } from '../../registry/errors.ts';
import type { RegistryStore } from '../../store/registry/registry-store.ts';
import { toJson } from './json.ts';
import { type HttpListener, listen } from './node-api.ts';

/**
 * The registry's admin actions over HTTP, on their own listener (loopback by default):
 * `POST /admin/operators/:address/unsuspend` lifts a suspension (SPEC §3: only an explicit admin
 * action does). With a token configured every request must carry `authorization: Bearer <token>`.
 */
export function createAdminApi(
  deps: { store: RegistryStore; log: Logger },
  options: { host: string; port: number; token?: string },
): HttpListener {
  const log = deps.log.child('admin-api');
  const server = Fastify({ logger: false });
  const error = (code: string, message: string) => ({ error: { code, message } });

  if (options.token !== undefined) {
    const expected = Buffer.from(`Bearer ${options.token}`);
    server.addHook('onRequest', async (request, reply) => {
      const given = Buffer.from(request.headers.authorization ?? '');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply
          .code(401)
          .send(error('UNAUTHORIZED', 'missing or wrong admin token (authorization: Bearer …)'));
      }
    });
  }

  server.post<{ Params: { address: string } }>(
    '/admin/operators/:address/unsuspend',
    async (request, reply) => {
      const { address } = request.params;
      if (!isAddress(address, { strict: false })) {
        return reply
          .code(400)
          .send(error('INVALID_REQUEST', `address: expected a 20-byte 0x address, got ${address}`));
      }
      const epoch = (await deps.store.epochStates.getLatest())?.epoch ?? 0;
      try {
        const result = await unsuspendOperator(deps.store, getAddress(address), epoch);
        log.warn('operator unsuspended by admin', {
          operator: result.operator.address,
          from: result.change.from,
          to: result.change.to,
        });
        return toJson({ operator: result.operator, change: result.change });
      } catch (caught) {
        if (caught instanceof UnknownOperatorError) {
          return reply.code(404).send(error(caught.code, caught.message));
        }
        if (caught instanceof IllegalTransitionError) {
          return reply
            .code(409)
            .send(
              error(
                'NOT_SUSPENDED',
                `operator ${address} is ${caught.from}, not suspended: nothing to lift`,
              ),
            );
        }
        throw caught;
      }
    },
  );
  return listen(server, options, log, 'admin API');
}
