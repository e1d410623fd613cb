-- transformer_id is replaced by customer_transformer_matching (no data migration, as the plan says:
-- a customer may hang off several circuits, which one column could never hold).

ALTER TABLE public.customers DROP COLUMN IF EXISTS transformer_id;

COMMENT ON TABLE public.customers IS
  'Customer accounts and service points. Circuit mapping moved to customer_transformer_matching table.';
