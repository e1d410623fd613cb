-- Supabase's default privileges, undone on ctm's objects.
--
-- A Supabase project runs `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES /
-- FUNCTIONS / SEQUENCES TO anon, authenticated, service_role`, so every object a migration creates
-- there is open to `anon` (and fully to `authenticated`), and `REVOKE ... FROM PUBLIC` does not
-- take that away. Two parts keep ctm's grants exactly the ones its migrations write:
-- 1. the migration runner (ctm/migrate.py) applies each file with those default grants of its own
--    role suspended, restoring them in the same transaction, so new objects get only explicit
--    GRANTs;
-- 2. after every `ctm migrate` it calls the function below, which also cleans objects created
--    before part 1 existed (or by hand): `anon` and `service_role` lose every privilege on ctm's
--    objects; `authenticated` loses what ctm never grants it.
-- ctm's objects: tables, views, sequences and functions in public and ctm_private owned by the
-- migrating role, extension members excluded.

CREATE FUNCTION ctm_private.revoke_unmeant_privileges() RETURNS integer
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
DECLARE
  v_others  text;  -- anon, service_role: as many of them as exist here
  v_changed integer := 0;
  r         record;
BEGIN
  SELECT string_agg(quote_ident(rolname), ', ' ORDER BY rolname) INTO v_others
    FROM pg_catalog.pg_roles WHERE rolname IN ('anon', 'service_role');

  IF v_others IS NOT NULL THEN
    EXECUTE format('REVOKE ALL ON SCHEMA ctm_private FROM %s', v_others);
  END IF;
  REVOKE ALL ON SCHEMA ctm_private FROM authenticated;

  FOR r IN
    SELECT c.oid::regclass::text AS name, c.relkind
      FROM pg_catalog.pg_class AS c
      JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'ctm_private')
       AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
       AND c.relowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                        WHERE d.classid = 'pg_catalog.pg_class'::regclass
                          AND d.objid = c.oid AND d.deptype = 'e')
  LOOP
    IF v_others IS NOT NULL THEN
      EXECUTE format('REVOKE ALL ON %s FROM %s', r.name, v_others);
    END IF;
    IF r.relkind IN ('r', 'p', 'v', 'm', 'f') THEN
      -- Never part of what ctm grants: emptying a table, foreign keys to it, triggers on it.
      EXECUTE format('REVOKE TRUNCATE, REFERENCES, TRIGGER ON %s FROM authenticated', r.name);
    END IF;
    v_changed := v_changed + 1;
  END LOOP;

  FOR r IN
    SELECT p.oid::regprocedure::text AS name, p.proname, n.nspname,
           p.prorettype = 'pg_catalog.trigger'::pg_catalog.regtype AS is_trigger
      FROM pg_catalog.pg_proc AS p
      JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('public', 'ctm_private')
       AND p.proowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                        WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                          AND d.objid = p.oid AND d.deptype = 'e')
  LOOP
    IF v_others IS NOT NULL THEN
      EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %s', r.name, v_others);
      -- Where anon exists, "everyone" (PUBLIC, PostgreSQL's default for functions) would include
      -- it: what ctm left open to everyone is open to `authenticated` (and the owner) instead.
      IF pg_catalog.has_function_privilege('public', r.name, 'EXECUTE') THEN
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', r.name);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO authenticated', r.name);
      END IF;
    END IF;
    -- Owner-only: the backfills and the one-event generator (any signature), every trigger
    -- function (a trigger fires without EXECUTE rights; nobody needs to call one), and all of
    -- ctm_private.
    IF r.is_trigger OR r.nspname = 'ctm_private'
       OR r.proname IN ('backfill_customer_impacts', 'backfill_customer_impacts_between',
                        'generate_customer_impacts_for_event') THEN
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, authenticated', r.name);
    END IF;
    v_changed := v_changed + 1;
  END LOOP;
  RETURN v_changed;
END
$$;
REVOKE EXECUTE ON FUNCTION ctm_private.revoke_unmeant_privileges() FROM PUBLIC;
