import { callJson } from '../adapters/http.ts';
import type { CliIo } from '../adapters/process-io.ts';
import { ADMIN_TOKEN_ENV } from '../secrets.ts';
import { address } from './request.ts';

/**
 * `spotted admin unsuspend <operator>`: lifts an operator's suspension through the registry's
 * admin API (the only way out of `suspended`). Sends SPOTTED_ADMIN_TOKEN when set.
 */
export async function unsuspendCommand(
  io: CliIo,
  operatorArg: string,
  options: { admin: string },
): Promise<void> {
  const operator = address('<operator>', operatorArg);
  const token = io.env[ADMIN_TOKEN_ENV];
  const result = await callJson<{
    operator: { address: string; status: string };
    change: { from: string; to: string };
  }>(`${options.admin.replace(/\/+$/, '')}/admin/operators/${operator}/unsuspend`, {
    method: 'POST',
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  });
  io.stdout.write(
    `unsuspended ${result.operator.address}: ${result.change.from} → ${result.change.to} (missing reset to 0)\n`,
  );
}
