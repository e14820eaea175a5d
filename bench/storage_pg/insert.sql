-- bench/storage_pg/insert.sql — pgbench: one single-row upsert per
-- transaction, a new key each time, a value the size of a KV v2 write's
-- ciphertext, in Trove's table layout.
\set k random(1, 2000000000)
INSERT INTO bench_raw (key, parent_path, value)
  VALUES (convert_to('logical/bench/' || :client_id || '-' || :k, 'UTF8'), convert_to('logical/bench/', 'UTF8'),
          decode(repeat('5a', 160), 'hex'))
  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
