-- otklik migration 009: overdue alerts — an organisation's resident complaints unanswered past
-- their deadline (README «Overdue alerts») — share the `alerts` table with spikes. `kind` says
-- which (rows written before read as `spike`); `overdue` holds an overdue alert's organisation,
-- count and oldest complaint as JSON (`AlertOverdue`), empty for a spike. Old servers cannot
-- guard ADD COLUMN themselves: the migrator skips a column that exists.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT 'spike' AFTER raised_at;

ALTER TABLE alerts ADD COLUMN IF NOT EXISTS overdue String DEFAULT '' AFTER kind;
