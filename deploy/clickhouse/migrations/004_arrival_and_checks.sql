-- otklik migration 004: when each row arrived, and server-side checks on what a post row may hold.
--
-- `inserted_at` (DEFAULT, so writers never send it) lets analysts see pipeline lag. The uid check
-- makes ClickHouse reject a row whose uid is not `{platform}:{owner}:{id}`: a real constraint on
-- current servers; on old ones (no CONSTRAINT) a MATERIALIZED column that throws does the same
-- job. The batch writer splits rejected rows out to the DLQ with the server's message.
ALTER TABLE posts ADD COLUMN IF NOT EXISTS inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta(8), ZSTD(1));

ALTER TABLE dlq ADD COLUMN IF NOT EXISTS inserted_at DateTime64(3, 'UTC') DEFAULT now64(3);

-- @only modern
ALTER TABLE posts ADD CONSTRAINT IF NOT EXISTS uid_shape CHECK match(uid, '^(vk|tg|ok):[^:]+:[^:]+(:c[^:]+)?$');

-- @only compat
ALTER TABLE posts ADD COLUMN IF NOT EXISTS uid_shape UInt8 MATERIALIZED throwIf(NOT match(uid, '^(vk|tg|ok):[^:]+:[^:]+(:c[^:]+)?$'));
