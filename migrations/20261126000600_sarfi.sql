-- Critical-customer SARFI (DESIGN.md "Analytics" and "Event values"): one function other systems
-- and independent checks call, so its rules are written here once.
--
--   sarfi(x, p_from, p_to, p_substation_id) = customers_hit / customers_mapped, where
--   counted events  = events in [p_from, p_to) (of the substation when given) whose status is not
--                     'false', whose event_type is voltage_dip / voltage_swell / interruption or
--                     NULL, whose duration_ms is NULL or at most 60,000, and whose residual
--                     (remaining_voltage, or 0 for an interruption without one) is below x
--                     (x < 100, dips) or above x (x > 100, swells); events without a residual
--                     are never counted;
--   customers_hit   = the impact rows of the counted events (one per customer an event hit);
--   customers_mapped = the distinct customers with a mapping that applies (the validity rule,
--                     public.mapping_applies_on) on at least one day of [p_from, p_to), days in the
--                     stored time zone (same substation filter).
-- Invoker rights: row-level security decides what the caller sees, exactly as the pages do; every
-- role with a profile reads events, impacts and mappings.

CREATE FUNCTION public.sarfi(
  x numeric,
  p_from timestamptz,
  p_to timestamptz,
  p_substation_id uuid DEFAULT NULL
) RETURNS TABLE (events bigint, customers_hit bigint, customers_mapped bigint, sarfi numeric)
  LANGUAGE plpgsql STABLE
  SET search_path = ''
  AS $$
DECLARE
  v_first_day date;
  v_last_day date;
BEGIN
  IF x IS NULL OR NOT ((x > 0 AND x < 100) OR (x > 100 AND x <= 200)) THEN
    RAISE EXCEPTION 'sarfi: threshold x = % is not a percentage of nominal in (0, 100) or (100, 200]',
      coalesce(x::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  IF p_from IS NULL OR p_to IS NULL THEN
    RAISE EXCEPTION 'sarfi: the period needs both ends (p_from %, p_to %)',
      coalesce(p_from::text, 'NULL'), coalesce(p_to::text, 'NULL')
      USING ERRCODE = '22023';
  END IF;
  -- The days of [p_from, p_to) in the stored zone: from p_from's date to the date of the last
  -- instant before p_to. An empty period has no day and maps nobody.
  v_first_day := public.ctm_local_date(p_from);
  v_last_day := public.ctm_local_date(p_to - interval '1 microsecond');

  RETURN QUERY
  WITH counted AS (
    SELECT e.id
    FROM public.pq_events AS e
    WHERE e."timestamp" >= p_from AND e."timestamp" < p_to
      AND (p_substation_id IS NULL OR e.substation_id = p_substation_id)
      AND e.status <> 'false'
      AND (e.event_type IS NULL OR e.event_type IN ('voltage_dip', 'voltage_swell', 'interruption'))
      AND (e.duration_ms IS NULL OR e.duration_ms <= 60000)
      AND CASE WHEN x < 100
               THEN coalesce(e.remaining_voltage,
                             CASE WHEN e.event_type = 'interruption' THEN 0 END) < x
               ELSE coalesce(e.remaining_voltage,
                             CASE WHEN e.event_type = 'interruption' THEN 0 END) > x
          END
  ),
  hit AS (
    SELECT count(DISTINCT c.id) AS n_events, count(i.customer_id) AS n_hit
    FROM counted AS c
    LEFT JOIN public.event_customer_impact AS i ON i.event_id = c.id
  ),
  mapped AS (
    -- A mapping applies on some day of [first, last] exactly when it applies on the earliest day
    -- of that range on which it is connected: the rule's end condition (day < disconnected_on)
    -- only gets harder later, so that one day decides, via the one rule.
    SELECT count(DISTINCT m.customer_id) AS n_mapped
    FROM public.customer_transformer_matching AS m
    WHERE (p_substation_id IS NULL OR m.substation_id = p_substation_id)
      AND v_first_day <= v_last_day
      AND greatest(v_first_day, coalesce(m.connected_since, v_first_day)) <= v_last_day
      AND public.mapping_applies_on(
            m.active, m.connected_since, m.disconnected_on,
            greatest(v_first_day, coalesce(m.connected_since, v_first_day)))
  )
  SELECT h.n_events, h.n_hit, m.n_mapped,
         CASE WHEN m.n_mapped = 0 THEN NULL
              ELSE h.n_hit::numeric / m.n_mapped END
  FROM hit AS h CROSS JOIN mapped AS m;
END
$$;
COMMENT ON FUNCTION public.sarfi(numeric, timestamptz, timestamptz, uuid) IS
  'Critical-customer SARFI-x over [p_from, p_to): impacts of counted events / customers mapped';
REVOKE EXECUTE ON FUNCTION public.sarfi(numeric, timestamptz, timestamptz, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.sarfi(numeric, timestamptz, timestamptz, uuid) TO authenticated;

-- On Supabase, default privileges hand every new function to anon as well: take it back here (this
-- file runs after any earlier sweep of those defaults).
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
    REVOKE EXECUTE ON FUNCTION public.sarfi(numeric, timestamptz, timestamptz, uuid) FROM anon;
  END IF;
END
$$;
