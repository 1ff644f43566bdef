import { callJson } from '../adapters/http.ts';
import type { CliIo } from '../adapters/process-io.ts';
import { address } from './request.ts';

interface NetworkView {
  peerId: string;
  listenAddresses: string[];
  connectedPeers: number;
  currentEpoch: number | null;
  operatorsByStatus: Record<string, number>;
  liveTasks: number;
}

interface OperatorView {
  address: string;
  status: string;
  weightWei: string;
  missing: number;
  successfulResponseCount: number;
  activeEpoch: number;
  exitEpoch: number | null;
  peerId: string | null;
}

/**
 * `spotted status`: the network and its operators as a registry's HTTP API reports them (current
 * epoch, peers, tasks in flight; per operator: status, weight, misses, successful responses).
 */
export async function statusCommand(
  io: CliIo,
  options: { api: string; operator?: string; json?: boolean },
): Promise<void> {
  const api = options.api.replace(/\/+$/, '');
  if (options.operator !== undefined) {
    const operator = address('--operator', options.operator);
    const view = await callJson<OperatorView>(`${api}/v1/operators/${operator}`);
    io.stdout.write(options.json ? `${JSON.stringify(view)}\n` : `${table([view])}\n`);
    return;
  }
  const [network, { operators }] = await Promise.all([
    callJson<NetworkView>(`${api}/v1/network`),
    callJson<{ operators: OperatorView[] }>(`${api}/v1/operators`),
  ]);
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ network, operators })}\n`);
    return;
  }
  const counts = Object.entries(network.operatorsByStatus)
    .map(([status, count]) => `${status} ${count}`)
    .join(', ');
  io.stdout.write(
    [
      `registry  ${network.peerId}`,
      `epoch     ${network.currentEpoch ?? 'none yet'}`,
      `peers     ${network.connectedPeers} connected`,
      `tasks     ${network.liveTasks} in flight`,
      `operators ${counts || 'none'}`,
      '',
      table(operators),
      '',
    ].join('\n'),
  );
}

function table(operators: readonly OperatorView[]): string {
  const rows = [
    ['OPERATOR', 'STATUS', 'WEIGHT', 'MISSING', 'SUCCESSES', 'ACTIVE', 'EXIT', 'PEER'],
    ...operators.map((op) => [
      op.address,
      op.status,
      op.weightWei,
      String(op.missing),
      String(op.successfulResponseCount),
      String(op.activeEpoch),
      op.exitEpoch === null ? '-' : String(op.exitEpoch),
      op.peerId ?? '-',
    ]),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
