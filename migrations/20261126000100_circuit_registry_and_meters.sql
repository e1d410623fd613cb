-- Reference data the database keeps honest whoever writes (DESIGN.md "Contracts added in the
-- second round"): canonical circuit names, the circuit registry public.substation_circuits (filled
-- from the circuits events and mappings already name, and kept filled by every event and mapping
-- insert), PQ meters public.pq_meters, and events that take their place from their meter.
--
-- Ingest speed matters here (benchmarks/bench_ingest.py, bench_single_insert.py): the row triggers
-- added to pq_events carry WHEN clauses, so a row that is already canonical and has its place
-- costs one expression test and no function call; registration of new circuits rides on the
-- statement-level impact trigger (one set-based statement per INSERT statement, see
-- 20261126000210_validity_in_impacts.sql).

-- Canonical circuit names --------------------------------------------------------------------------
-- "h1 " is H1: surrounding white space trimmed, upper case. Plain SQL, inlined where it is used.
CREATE FUNCTION public.canonical_circuit_id(p_circuit_id text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT upper(btrim(p_circuit_id, E' \t\r\n')) $$;
COMMENT ON FUNCTION public.canonical_circuit_id(text) IS
  'A circuit name as the database stores it: trimmed (spaces, tabs, line breaks) and upper-case';
REVOKE EXECUTE ON FUNCTION public.canonical_circuit_id(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.canonical_circuit_id(text) TO authenticated;

-- The WHEN clauses below repeat its body: they are evaluated with the writer's rights (no EXECUTE
-- grant needed) and let canonical rows through without calling any function.
-- Shared BEFORE ROW trigger of the four tables that name circuits. TG_ARGV[0] = 'blank_is_null'
-- (events, meters): a blank circuit means "no circuit"; elsewhere a blank stays blank and the
-- table's CHECK refuses it.
CREATE FUNCTION public.set_canonical_circuit_id() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  -- The body of public.canonical_circuit_id, written out: this function runs with the writer's
  -- rights, and an ingestion role needs no EXECUTE grant on ctm's functions.
  NEW.circuit_id := upper(btrim(NEW.circuit_id, E' \t\r\n'));
  IF TG_NARGS > 0 AND TG_ARGV[0] = 'blank_is_null' AND NEW.circuit_id = '' THEN
    NEW.circuit_id := NULL;
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION public.set_canonical_circuit_id() FROM PUBLIC;

-- Existing rows: events and mappings take their canonical names. The mapping stamp trigger stays
-- off meanwhile: this is no user's edit (version and updated_at keep their meaning). A mapping
-- whose canonical name duplicates an active mapping of the same customer ("h1" next to "H1") is
-- the same mapping twice: the non-canonical copy is deactivated rather than failing the migration.
ALTER TABLE public.customer_transformer_matching
  DISABLE TRIGGER trigger_customer_transformer_matching_stamp;
UPDATE public.customer_transformer_matching AS m
SET active = false
WHERE m.active
  AND m.circuit_id <> public.canonical_circuit_id(m.circuit_id)
  AND EXISTS (
    SELECT 1 FROM public.customer_transformer_matching AS o
    WHERE o.active AND o.id <> m.id
      AND o.customer_id = m.customer_id AND o.substation_id = m.substation_id
      AND public.canonical_circuit_id(o.circuit_id) = public.canonical_circuit_id(m.circuit_id)
      AND (o.circuit_id = public.canonical_circuit_id(o.circuit_id) OR o.id < m.id)
  );
UPDATE public.customer_transformer_matching
SET circuit_id = public.canonical_circuit_id(circuit_id)
WHERE circuit_id <> public.canonical_circuit_id(circuit_id);
ALTER TABLE public.customer_transformer_matching
  ENABLE TRIGGER trigger_customer_transformer_matching_stamp;
-- Events: an UPDATE, so the impact trigger moves their impacts to the canonical circuit's
-- customers. Only rows that need it are touched.
UPDATE public.pq_events
SET circuit_id = nullif(public.canonical_circuit_id(circuit_id), '')
WHERE circuit_id <> public.canonical_circuit_id(circuit_id) OR circuit_id = '';

CREATE TRIGGER customer_transformer_matching_canonical_circuit
  BEFORE INSERT OR UPDATE OF circuit_id ON public.customer_transformer_matching
  FOR EACH ROW
  WHEN (NEW.circuit_id <> upper(btrim(NEW.circuit_id, E' \t\r\n')))
  EXECUTE FUNCTION public.set_canonical_circuit_id();

CREATE TRIGGER pq_events_canonical_circuit
  BEFORE INSERT OR UPDATE OF circuit_id ON public.pq_events
  FOR EACH ROW
  WHEN (NEW.circuit_id <> upper(btrim(NEW.circuit_id, E' \t\r\n')) OR NEW.circuit_id = '')
  EXECUTE FUNCTION public.set_canonical_circuit_id('blank_is_null');

-- substation_circuits: the circuit registry -------------------------------------------------------
CREATE TABLE public.substation_circuits (
  substation_id        uuid NOT NULL REFERENCES public.substations (id) ON DELETE RESTRICT,
  circuit_id           text NOT NULL CHECK (circuit_id <> ''),
  description          text,
  active               boolean NOT NULL DEFAULT true,
  retired_on           date,
  customers_served     integer CHECK (customers_served >= 0),
  max_mapped_customers integer CHECK (max_mapped_customers >= 0),
  source               text NOT NULL
                       DEFAULT coalesce(nullif(current_setting('ctm.change_source', true), ''), 'sql'),
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (substation_id, circuit_id)
);
COMMENT ON TABLE public.substation_circuits IS
  'Circuit registry: the circuits (= transformers) of each substation; events and mappings on an unregistered circuit register it';
COMMENT ON COLUMN public.substation_circuits.customers_served IS
  'All customers behind the circuit (not only the mapped critical ones): the weight of system SARFI';
COMMENT ON COLUMN public.substation_circuits.max_mapped_customers IS
  'Optional limit of current mappings on the circuit; one more is refused by the database';
COMMENT ON COLUMN public.substation_circuits.source IS
  'Who registered it: migration, event, mapping, meter (automatic) or app, import, cli, sql';

-- Filled from the circuits already named by events and mappings.
INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
SELECT DISTINCT e.substation_id, e.circuit_id, 'migration'
FROM public.pq_events AS e
WHERE e.substation_id IS NOT NULL AND e.circuit_id IS NOT NULL
UNION
SELECT DISTINCT m.substation_id, m.circuit_id, 'migration'
FROM public.customer_transformer_matching AS m
ON CONFLICT DO NOTHING;

-- Grants
GRANT SELECT, INSERT, UPDATE, DELETE ON public.substation_circuits TO authenticated;

-- Row-level security
ALTER TABLE public.substation_circuits ENABLE ROW LEVEL SECURITY;

-- Triggers
CREATE TRIGGER substation_circuits_canonical_circuit
  BEFORE INSERT OR UPDATE OF circuit_id ON public.substation_circuits
  FOR EACH ROW
  WHEN (NEW.circuit_id <> upper(btrim(NEW.circuit_id, E' \t\r\n')))
  EXECUTE FUNCTION public.set_canonical_circuit_id();
CREATE TRIGGER substation_circuits_set_updated_at
  BEFORE UPDATE ON public.substation_circuits
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Policies (Action.EDIT_SUBSTATIONS in ctm/roles.py: admins)
CREATE POLICY "Users with a profile can read circuits" ON public.substation_circuits
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
CREATE POLICY "Admins can add circuits" ON public.substation_circuits
  FOR INSERT TO authenticated WITH CHECK ((SELECT public.current_user_role()) = 'admin');
CREATE POLICY "Admins can change circuits" ON public.substation_circuits
  FOR UPDATE TO authenticated USING ((SELECT public.current_user_role()) = 'admin')
  WITH CHECK ((SELECT public.current_user_role()) = 'admin');
CREATE POLICY "Admins can delete circuits" ON public.substation_circuits
  FOR DELETE TO authenticated USING ((SELECT public.current_user_role()) = 'admin');

-- Mappings register their circuit: one set-based statement per INSERT/UPDATE statement, definer
-- rights (an operator may map to a circuit only an admin could register), never a refusal.
CREATE FUNCTION public.register_mapping_circuits() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
  SELECT DISTINCT n.substation_id, n.circuit_id, 'mapping'
  FROM new_mappings AS n
  WHERE NOT EXISTS (
    SELECT 1 FROM public.substation_circuits AS r
    WHERE r.substation_id = n.substation_id AND r.circuit_id = n.circuit_id)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION public.register_mapping_circuits() FROM PUBLIC;

CREATE TRIGGER customer_transformer_matching_register_circuit
  AFTER INSERT ON public.customer_transformer_matching
  REFERENCING NEW TABLE AS new_mappings
  FOR EACH STATEMENT EXECUTE FUNCTION public.register_mapping_circuits();
CREATE TRIGGER customer_transformer_matching_register_moved_circuit
  AFTER UPDATE ON public.customer_transformer_matching
  REFERENCING NEW TABLE AS new_mappings
  FOR EACH STATEMENT EXECUTE FUNCTION public.register_mapping_circuits();

-- pq_meters: PQ monitors and where they hang ------------------------------------------------------
CREATE TABLE public.pq_meters (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  meter_id      text NOT NULL UNIQUE CHECK (btrim(meter_id) <> ''),
  substation_id uuid REFERENCES public.substations (id) ON DELETE RESTRICT,
  circuit_id    text,
  voltage_level text,
  site_id       text,
  location      text,
  active        boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- A circuit is named only within its substation.
  CONSTRAINT pq_meters_circuit_needs_substation CHECK (circuit_id IS NULL OR substation_id IS NOT NULL),
  -- The meter's circuit is a registered one (the insert registers it first, see below); a
  -- registered circuit with meters cannot be deleted, and renaming it carries its meters along.
  CONSTRAINT pq_meters_circuit_fkey FOREIGN KEY (substation_id, circuit_id)
    REFERENCES public.substation_circuits (substation_id, circuit_id)
    ON UPDATE CASCADE ON DELETE RESTRICT
);
COMMENT ON TABLE public.pq_meters IS
  'PQ monitors: an event that names a meter (pq_events.meter_id = meter_id) takes the place it lacks from it';
COMMENT ON COLUMN public.pq_meters.meter_id IS
  'The monitor''s name as the monitoring system sends it in pq_events.meter_id, e.g. PQMS_11KV.APA0042_H3';
CREATE INDEX pq_meters_substation_circuit_idx ON public.pq_meters (substation_id, circuit_id);

-- Grants
GRANT SELECT, INSERT, UPDATE, DELETE ON public.pq_meters TO authenticated;

-- Row-level security
ALTER TABLE public.pq_meters ENABLE ROW LEVEL SECURITY;

-- Triggers: canonical circuit, then (alphabetically after it) registration of the circuit.
CREATE TRIGGER pq_meters_canonical_circuit
  BEFORE INSERT OR UPDATE OF circuit_id ON public.pq_meters
  FOR EACH ROW
  WHEN (NEW.circuit_id <> upper(btrim(NEW.circuit_id, E' \t\r\n')) OR NEW.circuit_id = '')
  EXECUTE FUNCTION public.set_canonical_circuit_id('blank_is_null');

CREATE FUNCTION public.register_meter_circuit() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
BEGIN
  INSERT INTO public.substation_circuits (substation_id, circuit_id, source)
  VALUES (NEW.substation_id, NEW.circuit_id, 'meter')
  ON CONFLICT DO NOTHING;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION public.register_meter_circuit() FROM PUBLIC;

CREATE TRIGGER pq_meters_register_circuit
  BEFORE INSERT OR UPDATE OF substation_id, circuit_id ON public.pq_meters
  FOR EACH ROW
  WHEN (NEW.substation_id IS NOT NULL AND NEW.circuit_id IS NOT NULL)
  EXECUTE FUNCTION public.register_meter_circuit();
CREATE TRIGGER pq_meters_set_updated_at
  BEFORE UPDATE ON public.pq_meters
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Policies (Action.EDIT_SUBSTATIONS: admins)
CREATE POLICY "Users with a profile can read meters" ON public.pq_meters
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
CREATE POLICY "Admins can add meters" ON public.pq_meters
  FOR INSERT TO authenticated WITH CHECK ((SELECT public.current_user_role()) = 'admin');
CREATE POLICY "Admins can change meters" ON public.pq_meters
  FOR UPDATE TO authenticated USING ((SELECT public.current_user_role()) = 'admin')
  WITH CHECK ((SELECT public.current_user_role()) = 'admin');
CREATE POLICY "Admins can delete meters" ON public.pq_meters
  FOR DELETE TO authenticated USING ((SELECT public.current_user_role()) = 'admin');

-- Events take the place they lack from their meter ------------------------------------------------
-- pq_events.meter_id is the meter's name (text, as the base schema has it); no foreign key: events
-- of meters not registered yet are stored as they come (and counted, public.event_place_issues).
-- Only what the event lacks is filled: no substation and no circuit → both from the meter; no
-- circuit and the meter's substation → the meter's circuit. Values the event gives always win.
CREATE FUNCTION public.fill_event_place_from_meter() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_substation_id uuid;
  v_circuit_id text;
BEGIN
  NEW.circuit_id := NULL;  -- blank: the WHEN clause lets only NULL or blank circuits in
  SELECT m.substation_id, m.circuit_id INTO v_substation_id, v_circuit_id
  FROM public.pq_meters AS m
  WHERE m.meter_id = NEW.meter_id;
  IF FOUND THEN
    IF NEW.substation_id IS NULL THEN
      NEW.substation_id := v_substation_id;
      NEW.circuit_id := v_circuit_id;
    ELSIF NEW.substation_id = v_substation_id THEN
      NEW.circuit_id := v_circuit_id;
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION public.fill_event_place_from_meter() FROM PUBLIC;

-- Named to fire before pq_events_canonical_circuit (BEFORE triggers fire in name order): an event
-- with a blank circuit has none, and the meter's circuit is canonical already.
CREATE TRIGGER pq_events_a_fill_place_from_meter
  BEFORE INSERT ON public.pq_events
  FOR EACH ROW
  WHEN (NEW.meter_id IS NOT NULL AND (NEW.circuit_id IS NULL OR btrim(NEW.circuit_id) = ''))
  EXECUTE FUNCTION public.fill_event_place_from_meter();

-- Events of a meter: "the N earlier events of this meter", unknown meters on Statistics.
CREATE INDEX pq_events_meter_id_idx ON public.pq_events (meter_id) WHERE meter_id IS NOT NULL;
