-- Registry node tables (SPEC §4; design notes "存储设计 / registry node").
-- Runs with search_path set to the node's own schema, so names are unqualified on purpose.

-- Value domains. The store validates every argument before it queries; these are the backstop,
-- so a value that slipped past still cannot be stored.
CREATE DOMAIN uint256 AS NUMERIC(78)
  CONSTRAINT uint256_range CHECK (
    VALUE >= 0
    AND VALUE <= 115792089237316195423570985008687907853269984665640564039457584007913129639935
  );
CREATE DOMAIN uint64 AS NUMERIC(78)
  CONSTRAINT uint64_range CHECK (VALUE >= 0 AND VALUE <= 18446744073709551615);
CREATE DOMAIN uint48 AS NUMERIC(78)
  CONSTRAINT uint48_range CHECK (VALUE >= 0 AND VALUE <= 281474976710655);
-- Epochs and chain ids are uint32, which does not fit INTEGER (signed 32-bit).
CREATE DOMAIN uint32 AS BIGINT
  CONSTRAINT uint32_range CHECK (VALUE >= 0 AND VALUE <= 4294967295);
CREATE DOMAIN counter AS INTEGER
  CONSTRAINT counter_non_negative CHECK (VALUE >= 0);
-- Lowercase hex is the one stored form: equality is exact, and ORDER BY on these fixed-width
-- strings is the numeric order the contracts require (signers ascending as numbers).
CREATE DOMAIN evm_address AS TEXT
  CONSTRAINT evm_address_format CHECK (VALUE ~ '^0x[0-9a-f]{40}$');
CREATE DOMAIN bytes32 AS TEXT
  CONSTRAINT bytes32_format CHECK (VALUE ~ '^0x[0-9a-f]{64}$');
-- r ‖ s ‖ v with v = 27 or 28, the form isValidSignature accepts.
CREATE DOMAIN ecdsa_signature AS TEXT
  CONSTRAINT ecdsa_signature_format CHECK (VALUE ~ '^0x[0-9a-f]{128}(1b|1c)$');
CREATE DOMAIN hex_bytes AS TEXT
  CONSTRAINT hex_bytes_format CHECK (VALUE ~ '^0x([0-9a-f]{2})*$');

-- Every registered operator and its lifecycle (SPEC §3).
CREATE TABLE operators (
  address evm_address PRIMARY KEY,
  signing_key evm_address NOT NULL,
  registered_at_block_number uint64 NOT NULL,
  registered_at_timestamp_sec uint256 NOT NULL,
  active_epoch uint32 NOT NULL,
  exit_epoch uint32,
  status TEXT NOT NULL
    CONSTRAINT operators_status_check
    CHECK (status IN ('waitingJoin', 'waitingActive', 'active', 'unactive', 'suspended')),
  weight uint256 NOT NULL DEFAULT 0,
  -- While suspended: the status it was suspended from, so an admin unsuspend knows where to
  -- return it. Never set outside suspension.
  status_before_suspension TEXT
    CONSTRAINT operators_status_before_suspension_check CHECK (
      status_before_suspension IS NULL
      OR (
        status = 'suspended'
        AND status_before_suspension IN ('waitingJoin', 'waitingActive', 'active', 'unactive')
      )
    ),
  missing counter NOT NULL DEFAULT 0,
  successful_response_count counter NOT NULL DEFAULT 0,
  -- libp2p peer id given in the JoinNetwork request.
  peer_id TEXT CONSTRAINT operators_peer_id_length CHECK (length(peer_id) BETWEEN 1 AND 128),
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX operators_status_idx ON operators (status);
CREATE INDEX operators_active_epoch_idx ON operators (active_epoch);
CREATE INDEX operators_exit_epoch_idx ON operators (exit_epoch) WHERE exit_epoch IS NOT NULL;
CREATE INDEX operators_signing_key_idx ON operators (signing_key);
CREATE INDEX operators_active_weight_idx ON operators (weight) WHERE status = 'active';

-- One row per epoch the registry advanced to.
CREATE TABLE epoch_states (
  epoch_number uint32 PRIMARY KEY,
  -- The epoch's start block.
  block_number uint64 NOT NULL,
  minimum_weight uint256 NOT NULL,
  total_weight uint256 NOT NULL,
  threshold_weight uint256 NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);

-- The active operators of each epoch, with the weight and signing key they had at that epoch.
CREATE TABLE epoch_operators (
  epoch_number uint32 NOT NULL REFERENCES epoch_states (epoch_number),
  operator_address evm_address NOT NULL REFERENCES operators (address),
  weight uint256 NOT NULL,
  signing_key evm_address NOT NULL,
  PRIMARY KEY (epoch_number, operator_address)
);
CREATE INDEX epoch_operators_operator_idx ON epoch_operators (operator_address);

-- An append-only log: chain events (deduplicated by block hash and log index, so replaying a
-- block range after a restart is harmless) and the registry's own notable events.
CREATE TABLE registry_events (
  id BIGSERIAL PRIMARY KEY,
  event_type TEXT NOT NULL
    CONSTRAINT registry_events_event_type_format CHECK (event_type ~ '^[a-z][A-Za-z0-9]{0,63}$'),
  operator_address evm_address,
  block_number uint64,
  block_hash bytes32,
  log_index counter,
  transaction_hash bytes32,
  data JSONB NOT NULL DEFAULT '{}',
  recorded_at TIMESTAMPTZ NOT NULL,
  CONSTRAINT registry_events_chain_position CHECK (
    (block_hash IS NULL) = (log_index IS NULL) AND (block_hash IS NULL) = (block_number IS NULL)
  ),
  CONSTRAINT registry_events_chain_log_unique UNIQUE (block_hash, log_index)
);
CREATE INDEX registry_events_operator_idx ON registry_events (operator_address, id)
  WHERE operator_address IS NOT NULL;
CREATE INDEX registry_events_type_idx ON registry_events (event_type, id);

-- Proof requests (SPEC §3 "Task").
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
  retries counter NOT NULL DEFAULT 0,
  status TEXT NOT NULL
    CONSTRAINT tasks_status_check CHECK (status IN ('pending', 'completed', 'failed', 'expired')),
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  -- Lets responses reference (task_id, epoch), so a response cannot name another epoch.
  CONSTRAINT tasks_task_epoch_unique UNIQUE (task_id, epoch)
);
CREATE INDEX tasks_status_expires_idx ON tasks (status, expires_at);
CREATE INDEX tasks_epoch_idx ON tasks (epoch);

-- Each operator's answer to a task: a signature or a refusal with its reason.
CREATE TABLE operator_task_responses (
  id BIGSERIAL PRIMARY KEY,
  task_id bytes32 NOT NULL,
  operator_address evm_address NOT NULL REFERENCES operators (address),
  epoch uint32 NOT NULL,
  outcome TEXT NOT NULL
    CONSTRAINT operator_task_responses_outcome_check CHECK (outcome IN ('signed', 'refused')),
  signature ecdsa_signature,
  refusal_reason TEXT
    CONSTRAINT operator_task_responses_refusal_reason_length
    CHECK (length(refusal_reason) BETWEEN 1 AND 1024),
  submitted_at TIMESTAMPTZ NOT NULL,
  CONSTRAINT operator_task_responses_task_fk
    FOREIGN KEY (task_id, epoch) REFERENCES tasks (task_id, epoch),
  CONSTRAINT operator_task_responses_one_per_operator UNIQUE (task_id, operator_address),
  CONSTRAINT operator_task_responses_outcome_fields CHECK (
    (outcome = 'signed' AND signature IS NOT NULL AND refusal_reason IS NULL)
    OR (outcome = 'refused' AND signature IS NULL AND refusal_reason IS NOT NULL)
  )
);
CREATE INDEX operator_task_responses_operator_idx ON operator_task_responses (operator_address);

-- The proof returned to the user for a completed task.
CREATE TABLE avs_task_responses (
  task_id bytes32 PRIMARY KEY,
  epoch uint32 NOT NULL,
  -- abi.encode(address[] operators, bytes[] signatures, uint32 referenceEpoch)
  signature_data hex_bytes NOT NULL,
  signed_weight uint256 NOT NULL,
  responded_at TIMESTAMPTZ NOT NULL,
  CONSTRAINT avs_task_responses_task_fk
    FOREIGN KEY (task_id, epoch) REFERENCES tasks (task_id, epoch)
);

-- The operator responses a proof is made of; signatures stay in operator_task_responses, and the
-- foreign key means a proof can only include operators whose response was recorded.
CREATE TABLE avs_task_response_signers (
  task_id bytes32 NOT NULL REFERENCES avs_task_responses (task_id),
  operator_address evm_address NOT NULL,
  PRIMARY KEY (task_id, operator_address),
  CONSTRAINT avs_task_response_signers_response_fk
    FOREIGN KEY (task_id, operator_address)
    REFERENCES operator_task_responses (task_id, operator_address)
);

-- Where each chain event watcher resumes: the last processed block and its hash, so a restart
-- continues after it and a reorg that replaced it is detected.
CREATE TABLE chain_cursors (
  chain_id uint32 NOT NULL,
  stream TEXT NOT NULL
    CONSTRAINT chain_cursors_stream_format CHECK (stream ~ '^[a-z][A-Za-z0-9_.:-]{0,63}$'),
  block_number uint64 NOT NULL,
  block_hash bytes32 NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (chain_id, stream)
);
