-- Customer Transformer Matching: which customer hangs off which circuit (= transformer) of which
-- substation. The plan's table, corrected: gen_random_uuid(), NOT NULL flags, a version column for
-- optimistic concurrency, updated_by taken from auth.uid() by the database, policies per verb
-- (the plan's FOR ALL policies had no WITH CHECK and let operators delete permanently).

CREATE TABLE public.customer_transformer_matching (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id   uuid NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
  substation_id uuid NOT NULL REFERENCES public.substations (id) ON DELETE RESTRICT,
  circuit_id    text NOT NULL CHECK (btrim(circuit_id) <> '' AND circuit_id = btrim(circuit_id)),
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  updated_by    uuid REFERENCES public.profiles (id) ON DELETE SET NULL,
  version       integer NOT NULL DEFAULT 1
);

COMMENT ON TABLE public.customer_transformer_matching IS
  'Maps customers to circuits within substations for automatic customer impact generation';
COMMENT ON COLUMN public.customer_transformer_matching.circuit_id IS
  'Circuit ID (also known as Transformer ID) - matches pq_events.circuit_id';
COMMENT ON COLUMN public.customer_transformer_matching.active IS
  'Soft delete flag - inactive mappings are not used for impact generation';
COMMENT ON COLUMN public.customer_transformer_matching.updated_by IS
  'User who last modified this mapping (auth.uid() of the writer; NULL for system loads)';
COMMENT ON COLUMN public.customer_transformer_matching.version IS
  'Bumped on every update; writers send the version they saw so no edit is silently lost';

-- One customer is mapped to a circuit at most once among active rows; inactive history may repeat.
CREATE UNIQUE INDEX idx_customer_transformer_unique
  ON public.customer_transformer_matching (customer_id, substation_id, circuit_id)
  WHERE active;
-- The impact trigger's lookup and the circuit filter.
CREATE INDEX idx_customer_transformer_circuit
  ON public.customer_transformer_matching (substation_id, circuit_id)
  WHERE active;
CREATE INDEX idx_customer_transformer_substation
  ON public.customer_transformer_matching (substation_id, circuit_id, updated_at DESC);
CREATE INDEX idx_customer_transformer_customer
  ON public.customer_transformer_matching (customer_id);
CREATE INDEX idx_customer_transformer_updated_at
  ON public.customer_transformer_matching (updated_at DESC, id);
CREATE INDEX idx_customer_transformer_updated_by
  ON public.customer_transformer_matching (updated_by);

-- Grants
GRANT SELECT, INSERT, UPDATE, DELETE ON public.customer_transformer_matching TO authenticated;

-- Row-level security
ALTER TABLE public.customer_transformer_matching ENABLE ROW LEVEL SECURITY;

-- Triggers: who and when, set by the database, never trusted from the caller.
CREATE FUNCTION public.customer_transformer_matching_stamp() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  -- A logged-in user is always the editor; a system load without a user keeps what it sent.
  NEW.updated_by := coalesce(auth.uid(), NEW.updated_by);
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
    NEW.version := OLD.version + 1;
  ELSE
    NEW.version := 1;
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER trigger_customer_transformer_matching_stamp
  BEFORE INSERT OR UPDATE ON public.customer_transformer_matching
  FOR EACH ROW EXECUTE FUNCTION public.customer_transformer_matching_stamp();

-- Policies
CREATE POLICY "Admins, operators and viewers can read mappings"
  ON public.customer_transformer_matching
  FOR SELECT TO authenticated
  USING ((SELECT public.current_user_role()) IN ('admin', 'operator', 'viewer'));

CREATE POLICY "Admins and operators can add mappings"
  ON public.customer_transformer_matching
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.current_user_role()) IN ('admin', 'operator'));

CREATE POLICY "Admins and operators can change mappings"
  ON public.customer_transformer_matching
  FOR UPDATE TO authenticated
  USING ((SELECT public.current_user_role()) IN ('admin', 'operator'))
  WITH CHECK ((SELECT public.current_user_role()) IN ('admin', 'operator'));

CREATE POLICY "Admins can delete mappings permanently"
  ON public.customer_transformer_matching
  FOR DELETE TO authenticated
  USING ((SELECT public.current_user_role()) = 'admin');
