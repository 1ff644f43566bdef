-- Operator node tables: only what one operator needs locally (SPEC §4; design notes
-- "存储设计 / operator node"). Runs with search_path set to the node's own schema.

-- Value domains, as in the registry schema (each schema carries its own copy).
CREATE DOMAIN uint256 AS NUMERIC(78)
  CONSTRAINT uint256_range CHECK (
    VALUE >= 0
    AND VALUE <= 115792089237316195423570985008687907853269984665640564039457584007913129639935
  );
CREATE DOMAIN uint64 AS NUMERIC(78)
  CONSTRAINT uint64_range CHECK (VALUE >= 0 AND VALUE <= 18446744073709551615);
CREATE DOMAIN uint48 AS NUMERIC(78)
  CONSTRAINT uint48_range CHECK (VALUE >= 0 AND VALUE <= 281474976710655);
CREATE DOMAIN uint32 AS BIGINT
  CONSTRAINT uint32_range CHECK (VALUE >= 0 AND VALUE <= 4294967295);
CREATE DOMAIN evm_address AS TEXT
  CONSTRAINT evm_address_format CHECK (VALUE ~ '^0x[0-9a-f]{40}$');
CREATE DOMAIN bytes32 AS TEXT
  CONSTRAINT bytes32_format CHECK (VALUE ~ '^0x[0-9a-f]{64}$');
CREATE DOMAIN ecdsa_signature AS TEXT
  CONSTRAINT ecdsa_signature_format CHECK (VALUE ~ '^0x[0-9a-f]{128}(1b|1c)$');

-- This node's operator. Exactly one row: a store never holds two operators.
CREATE TABLE local_operator (
  address evm_address PRIMARY KEY,
  signing_key evm_address NOT NULL,
  active_epoch uint32 NOT NULL,
  current_status TEXT NOT NULL
    CONSTRAINT local_operator_current_status_check
    CHECK (current_status IN ('waitingJoin', 'waitingActive', 'active', 'unactive', 'suspended')),
  current_weight uint256 NOT NULL DEFAULT 0,
  last_updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX local_operator_single_row ON local_operator ((true));

-- The epoch state last published by the registry. Exactly one row.
CREATE TABLE current_epoch_state (
  epoch_number uint32 PRIMARY KEY,
  block_number uint64 NOT NULL,
  minimum_weight uint256 NOT NULL,
  total_weight uint256 NOT NULL,
  threshold_weight uint256 NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX current_epoch_state_single_row ON current_epoch_state ((true));

-- Tasks this operator received.
CREATE TABLE tasks (
  task_id bytes32 PRIMARY KEY,
  target_address evm_address NOT NULL,
  chain_id uint32 NOT NULL,
  block_number uint64 NOT NULL,
  timestamp_sec uint48 NOT NULL,
  epoch uint32 NOT NULL,
  key uint256 NOT NULL,
  value uint256 NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  status TEXT NOT NULL
    CONSTRAINT tasks_status_check CHECK (status IN ('pending', 'completed', 'failed', 'expired')),
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX tasks_status_expires_idx ON tasks (status, expires_at);
CREATE INDEX tasks_created_at_idx ON tasks (created_at);

-- This operator's answer to each task. One per task: after a restart the node re-sends the
-- stored answer instead of deciding again.
CREATE TABLE task_responses (
  id BIGSERIAL PRIMARY KEY,
  task_id bytes32 NOT NULL
    CONSTRAINT task_responses_one_per_task UNIQUE
    REFERENCES tasks (task_id) ON DELETE CASCADE,
  outcome TEXT NOT NULL
    CONSTRAINT task_responses_outcome_check CHECK (outcome IN ('signed', 'refused')),
  signature ecdsa_signature,
  refusal_reason TEXT
    CONSTRAINT task_responses_refusal_reason_length CHECK (length(refusal_reason) BETWEEN 1 AND 1024),
  submitted_at TIMESTAMPTZ NOT NULL,
  CONSTRAINT task_responses_outcome_fields CHECK (
    (outcome = 'signed' AND signature IS NOT NULL AND refusal_reason IS NULL)
    OR (outcome = 'refused' AND signature IS NULL AND refusal_reason IS NOT NULL)
  )
);

-- Peers seen on the network, for reconnecting after a restart.
CREATE TABLE peer_cache (
  peer_id TEXT PRIMARY KEY
    CONSTRAINT peer_cache_peer_id_length CHECK (length(peer_id) BETWEEN 1 AND 128),
  operator_address evm_address,
  -- Multiaddrs the peer was reached at.
  addresses TEXT[] NOT NULL DEFAULT '{}'
    CONSTRAINT peer_cache_addresses_bound CHECK (cardinality(addresses) <= 32),
  last_seen_at TIMESTAMPTZ NOT NULL,
  status TEXT NOT NULL
    CONSTRAINT peer_cache_status_check CHECK (status IN ('connected', 'disconnected', 'banned'))
);
CREATE INDEX peer_cache_last_seen_idx ON peer_cache (last_seen_at);
CREATE INDEX peer_cache_operator_idx ON peer_cache (operator_address)
  WHERE operator_address IS NOT NULL;
