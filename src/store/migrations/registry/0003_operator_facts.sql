-- Replicated off-chain facts (src/registry/README.md "Replication"): what happened to an
-- operator on some registry, merged between registries as a set union. The counters in
-- `operators` (`missing`, `successful_response_count`) and a miss suspension are derived from
-- these rows, so every registry holding the same facts shows the same counters and status.
-- Runs with search_path set to the node's own schema, so names are unqualified on purpose.

CREATE TABLE operator_facts (
  -- Local order of arrival: what another registry's anti-entropy pull pages through.
  seq BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL
    CONSTRAINT operator_facts_kind_check CHECK (kind IN ('missed', 'succeeded', 'unsuspended')),
  -- No foreign key to operators: a fact may arrive before this registry's watcher saw the
  -- operator; its counters are derived once it does.
  operator_address evm_address NOT NULL,
  -- `missed` / `succeeded`: the task (no foreign key: the task may have been collected elsewhere).
  task_id bytes32,
  -- `unsuspended`: how many `missed` facts the admin's unsuspend cleared (the operator's total
  -- misses then); `missing` counts the misses beyond the largest such value.
  misses_cleared counter,
  recorded_at TIMESTAMPTZ NOT NULL,
  CONSTRAINT operator_facts_fields CHECK (
    (kind = 'unsuspended' AND task_id IS NULL AND misses_cleared IS NOT NULL)
    OR (kind <> 'unsuspended' AND task_id IS NOT NULL AND misses_cleared IS NULL)
  ),
  -- The natural keys (NULLs are distinct, so each applies to its own kinds only).
  CONSTRAINT operator_facts_task_unique UNIQUE (kind, task_id, operator_address),
  CONSTRAINT operator_facts_unsuspend_unique UNIQUE (operator_address, misses_cleared)
);
CREATE INDEX operator_facts_operator_idx ON operator_facts (operator_address, kind);
