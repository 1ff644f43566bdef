import { describe, expect, test } from 'vitest';
import { JournaledMap, type UndoLog } from './journaled-map.ts';

/** Runs the undo steps the way a rollback does: newest first. */
function rollBack(undo: UndoLog): void {
  const steps = undo.current ?? [];
  undo.current = undefined;
  for (const step of steps.reverse()) step();
}

describe('JournaledMap', () => {
  test('behavior: without an open log, writes are plain map writes', () => {
    const undo: UndoLog = { current: undefined };
    const map = new JournaledMap<string, number>(undo);
    map.set('a', 1);
    map.set('a', 2);
    expect(map.delete('b')).toBe(false);
    expect(map.get('a')).toBe(2);
    expect(map.size).toBe(1);
  });

  test('behavior: rolling back restores inserts, updates and deletes, in any mix', () => {
    const undo: UndoLog = { current: undefined };
    const map = new JournaledMap<string, number>(undo);
    map.set('kept', 1);
    map.set('deleted', 2);
    undo.current = [];
    map.set('kept', 10);
    map.set('kept', 11);
    map.set('new', 3);
    map.delete('new');
    map.set('new', 4);
    expect(map.delete('deleted')).toBe(true);
    map.set('deleted', 5);
    map.delete('deleted');
    rollBack(undo);
    expect([...map.values()].sort()).toEqual([1, 2]);
    expect(map.get('kept')).toBe(1);
    expect(map.get('deleted')).toBe(2);
    expect(map.get('new')).toBeUndefined();
  });

  test('behavior: committing (dropping the log) keeps every write', () => {
    const undo: UndoLog = { current: [] };
    const map = new JournaledMap<string, number>(undo);
    map.set('a', 1);
    undo.current = undefined;
    expect(map.get('a')).toBe(1);
  });
});
