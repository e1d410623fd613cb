-- One time zone for the whole product (DESIGN.md "One time zone"): it decides the date of an event
-- for validity, day filters, hand-entered times and Excel timestamps. Stored in the database, never
-- taken from a session's own TimeZone, so the app, the CLI, the triggers and analytics agree.
-- ctm_settings is a small key/value table other settings may join later; only the database owner
-- writes it (`ctm time-zone ZONE`), every user with a profile reads it.

CREATE TABLE public.ctm_settings (
  key        text PRIMARY KEY CHECK (btrim(key) <> ''),
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.ctm_settings IS
  'Product-wide settings (key/value); time_zone is the IANA zone every date is taken in';

INSERT INTO public.ctm_settings (key, value) VALUES ('time_zone', 'UTC');

-- Grants: read only. No INSERT/UPDATE/DELETE for authenticated: the owner is the only writer.
GRANT SELECT ON public.ctm_settings TO authenticated;

-- Row-level security
ALTER TABLE public.ctm_settings ENABLE ROW LEVEL SECURITY;

-- Triggers: a zone PostgreSQL does not know would make every date computation fail later, far
-- from the mistake; refuse it when it is written (a CHECK cannot look at pg_timezone_names).
CREATE FUNCTION public.ctm_settings_check() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  IF NEW.key = 'time_zone' AND NOT EXISTS (
       SELECT 1 FROM pg_catalog.pg_timezone_names AS z WHERE z.name = NEW.value) THEN
    RAISE EXCEPTION 'unknown time zone %', pg_catalog.quote_literal(NEW.value)
      USING ERRCODE = '22023',
            HINT = 'use an IANA name PostgreSQL knows (pg_timezone_names), e.g. Asia/Hong_Kong';
  END IF;
  NEW.updated_at := pg_catalog.now();
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION public.ctm_settings_check() FROM PUBLIC;

CREATE TRIGGER ctm_settings_check
  BEFORE INSERT OR UPDATE ON public.ctm_settings
  FOR EACH ROW EXECUTE FUNCTION public.ctm_settings_check();

-- Policies
CREATE POLICY "Users with a profile can read settings" ON public.ctm_settings
  FOR SELECT TO authenticated
  USING ((SELECT public.current_user_role()) IS NOT NULL);

-- The stored zone. Definer rights: triggers and ingestion roles without a grant on ctm_settings
-- (and users without a profile) still get the product's zone, never a silent NULL.
CREATE FUNCTION public.ctm_time_zone() RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = ''
  AS $$
    SELECT coalesce(
      (SELECT s.value FROM public.ctm_settings AS s WHERE s.key = 'time_zone'), 'UTC')
  $$;
COMMENT ON FUNCTION public.ctm_time_zone() IS
  'The product''s IANA time zone (ctm_settings.time_zone), UTC when unset';
REVOKE EXECUTE ON FUNCTION public.ctm_time_zone() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ctm_time_zone() TO authenticated;

-- The date of an instant in the stored zone. Plain SQL without SET so the planner inlines it;
-- the zone is a scalar subquery, so a set-based query looks it up once (an InitPlan), not per row.
CREATE FUNCTION public.ctm_local_date(p_at timestamptz) RETURNS date
  LANGUAGE sql STABLE
  AS $$ SELECT (p_at AT TIME ZONE (SELECT public.ctm_time_zone()))::date $$;
COMMENT ON FUNCTION public.ctm_local_date(timestamptz) IS
  'The calendar date of an instant in the product''s time zone (ctm_time_zone())';
REVOKE EXECUTE ON FUNCTION public.ctm_local_date(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ctm_local_date(timestamptz) TO authenticated;
