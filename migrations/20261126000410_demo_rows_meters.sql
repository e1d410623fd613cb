-- Demo data now includes meters: ctm demo-data records them in its bookkeeping like every other
-- row it creates, so --force replaces exactly them.
ALTER TABLE ctm_private.demo_rows DROP CONSTRAINT demo_rows_table_name_check;
ALTER TABLE ctm_private.demo_rows ADD CONSTRAINT demo_rows_table_name_check
  CHECK (table_name IN ('substations', 'customers', 'customer_transformer_matching', 'pq_events',
                        'profiles', 'pq_meters'));
