-- The durable job queue (SPEC §3 "Bridge queue"; design notes "bridge-queue-plan"): accepted
-- proof requests and outbound deliveries are jobs that survive a crash of the node.
-- Runs with search_path set to the node's own schema, so names are unqualified on purpose.

-- One row per job. The status index is ready → running → done | failed:
--   ready    waits until visible_at, then a worker leases it (attempts += 1);
--   running  leased by leased_by until visible_at (the visibility timeout); a lease that runs out
--            makes the job available to any worker again;
--   done     acked; failed: dead-lettered with a reason (max attempts, or a permanent error).
-- Every time is the node's Clock, written by the store, never the database's now().
CREATE TABLE queue_jobs (
  id BIGSERIAL PRIMARY KEY,
  queue TEXT NOT NULL
    CONSTRAINT queue_jobs_queue_format CHECK (queue ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  -- Enqueueing the same key on the same queue again finds this job instead of adding one.
  idempotency_key TEXT NOT NULL
    CONSTRAINT queue_jobs_idempotency_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 256),
  -- Jobs that belong together (the deliveries of one task), woken together.
  group_key TEXT
    CONSTRAINT queue_jobs_group_key_length CHECK (length(group_key) BETWEEN 1 AND 256),
  payload JSONB NOT NULL,
  status TEXT NOT NULL
    CONSTRAINT queue_jobs_status_check CHECK (status IN ('ready', 'running', 'done', 'failed')),
  attempts counter NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL
    CONSTRAINT queue_jobs_max_attempts_range CHECK (max_attempts BETWEEN 1 AND 1000),
  backoff_initial_ms INTEGER NOT NULL
    CONSTRAINT queue_jobs_backoff_initial_positive CHECK (backoff_initial_ms > 0),
  backoff_max_ms INTEGER NOT NULL,
  visible_at TIMESTAMPTZ NOT NULL,
  leased_by TEXT
    CONSTRAINT queue_jobs_leased_by_length CHECK (length(leased_by) BETWEEN 1 AND 128),
  -- What a handler recorded mid-job (e.g. a signed transaction before sending it), kept across
  -- attempts so the next attempt can check it instead of repeating a side effect.
  progress JSONB,
  result JSONB,
  last_error TEXT
    CONSTRAINT queue_jobs_last_error_length CHECK (length(last_error) BETWEEN 1 AND 1024),
  dead_letter_reason TEXT
    CONSTRAINT queue_jobs_dead_letter_reason_length
    CHECK (length(dead_letter_reason) BETWEEN 1 AND 1024),
  created_at TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL,
  finished_at TIMESTAMPTZ,
  CONSTRAINT queue_jobs_key_unique UNIQUE (queue, idempotency_key),
  CONSTRAINT queue_jobs_attempts_bound CHECK (attempts <= max_attempts),
  CONSTRAINT queue_jobs_backoff_order CHECK (backoff_max_ms >= backoff_initial_ms),
  CONSTRAINT queue_jobs_lease_fields CHECK ((status = 'running') = (leased_by IS NOT NULL)),
  CONSTRAINT queue_jobs_finished_fields
    CHECK ((status IN ('done', 'failed')) = (finished_at IS NOT NULL)),
  CONSTRAINT queue_jobs_dead_letter_fields
    CHECK ((status = 'failed') = (dead_letter_reason IS NOT NULL))
);
-- What dequeue scans: jobs that are (or will be) available, oldest first.
CREATE INDEX queue_jobs_visible_idx ON queue_jobs (queue, visible_at, id)
  WHERE status IN ('ready', 'running');
-- The status index: listing and counting jobs by queue and status.
CREATE INDEX queue_jobs_status_idx ON queue_jobs (queue, status, id);
CREATE INDEX queue_jobs_group_idx ON queue_jobs (group_key, id) WHERE group_key IS NOT NULL;
CREATE INDEX queue_jobs_leased_by_idx ON queue_jobs (leased_by) WHERE status = 'running';

-- The queue's write log: one row per state change, in the same transaction as the change, so
-- replaying it in id order rebuilds every job's status, attempts and lease holder.
CREATE TABLE queue_job_events (
  id BIGSERIAL PRIMARY KEY,
  job_id BIGINT NOT NULL REFERENCES queue_jobs (id),
  kind TEXT NOT NULL
    CONSTRAINT queue_job_events_kind_check CHECK (
      kind IN (
        'enqueued', 'leased', 'checkpointed', 'acked', 'retried', 'deadLettered', 'released',
        'woken'
      )
    ),
  -- The job's attempts after the change.
  attempt counter NOT NULL,
  worker_id TEXT
    CONSTRAINT queue_job_events_worker_id_length CHECK (length(worker_id) BETWEEN 1 AND 128),
  detail TEXT CONSTRAINT queue_job_events_detail_length CHECK (length(detail) BETWEEN 1 AND 1024),
  at TIMESTAMPTZ NOT NULL
);
CREATE INDEX queue_job_events_job_idx ON queue_job_events (job_id, id);
