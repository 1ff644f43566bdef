-- Running totals of each operator's facts (operator_facts), so deriving its counters costs the
-- same however long its history is: every fact insert adds what was actually new (the insert's
-- RETURNING) to its operator's row here, in the same transaction. Before this, every derivation
-- counted all of the operator's facts again.
-- Runs with search_path set to the node's own schema, so names are unqualified on purpose.

CREATE TABLE operator_fact_counts (
  -- No foreign key to operators, like operator_facts: facts may name an operator not stored yet.
  operator_address evm_address PRIMARY KEY,
  -- `missed` facts.
  misses counter NOT NULL DEFAULT 0,
  -- `succeeded` facts.
  successes counter NOT NULL DEFAULT 0,
  -- `unsuspended` facts, and the largest `misses_cleared` among them (0 when none).
  unsuspends counter NOT NULL DEFAULT 0,
  misses_cleared counter NOT NULL DEFAULT 0
);

-- Backfill from the facts stored so far.
INSERT INTO operator_fact_counts (operator_address, misses, successes, unsuspends, misses_cleared)
SELECT
  operator_address,
  count(*) FILTER (WHERE kind = 'missed'),
  count(*) FILTER (WHERE kind = 'succeeded'),
  count(*) FILTER (WHERE kind = 'unsuspended'),
  coalesce(max(misses_cleared), 0)
FROM operator_facts
GROUP BY operator_address;
