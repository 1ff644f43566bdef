import { describe, expect, test } from 'vitest';
import type { ServiceStatus } from '../adapters/http/node-api.ts';
import { createHealthBoard } from './node-health.ts';

function boardWith(statuses: Record<string, { status: ServiceStatus; critical?: boolean }>) {
  const board = createHealthBoard();
  for (const [id, entry] of Object.entries(statuses)) {
    board.register({
      id,
      name: id,
      description: id,
      critical: entry.critical ?? false,
      // Read at each check, so a test can change it.
      status: () => statuses[id]?.status ?? 'Down',
    });
  }
  return { board, statuses };
}

describe('health board', () => {
  test('behavior: partially healthy while starting, even with every service up', async () => {
    const { board } = boardWith({ database: { status: 'Up' } });
    expect(await board.health()).toBe('partiallyHealthy');
    board.setPhase('running');
    expect(await board.health()).toBe('healthy');
    expect(await board.performanceScore()).toBe(100);
  });

  test('behavior: a service still initializing or down makes the node partially healthy', async () => {
    const { board, statuses } = boardWith({
      join: { status: 'Initializing' },
      p2p: { status: 'Up' },
    });
    board.setPhase('running');
    expect(await board.health()).toBe('partiallyHealthy');
    expect(await board.performanceScore()).toBe(50);
    statuses['join'] = { status: 'Up' };
    expect(await board.health()).toBe('healthy');
    statuses['p2p'] = { status: 'Down' };
    expect(await board.health()).toBe('partiallyHealthy');
  });

  test('behavior: a critical service down, or a check that throws, makes it unhealthy', async () => {
    const { board, statuses } = boardWith({ join: { status: 'Down', critical: true } });
    board.setPhase('running');
    expect(await board.health()).toBe('unhealthy');
    expect(await board.performanceScore()).toBe(0);
    statuses['join'] = { status: 'Up', critical: true };
    expect(await board.health()).toBe('healthy');
    board.register({
      id: 'database',
      name: 'database',
      description: 'db',
      critical: true,
      status: () => Promise.reject(new Error('connection refused')),
    });
    expect(await board.health()).toBe('unhealthy');
    expect((await board.services()).find((s) => s.id === 'database')?.status).toBe('Down');
  });

  test('behavior: stopping and stopped are unhealthy', async () => {
    const { board } = boardWith({ database: { status: 'Up' } });
    board.setPhase('running');
    board.setPhase('stopping');
    expect(await board.health()).toBe('unhealthy');
    board.setPhase('stopped');
    expect(await board.health()).toBe('unhealthy');
  });
});
