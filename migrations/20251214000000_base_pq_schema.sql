-- Base PQ schema: the tables of the origin system (PQMAP) that the customer-transformer matching
-- feature builds on, with the Supabase pieces (role `authenticated`, auth.uid()) created only where
-- they do not exist yet, so the same file applies to a plain PostgreSQL and to a Supabase project.
-- The runner wraps this file in one transaction.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Supabase compatibility -------------------------------------------------------------------------
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN;
  END IF;
  -- The app acts as a user with SET LOCAL ROLE authenticated: its login role must be a member.
  IF NOT pg_has_role(current_user, 'authenticated', 'MEMBER') THEN
    EXECUTE format('GRANT authenticated TO %I', current_user);
  END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO authenticated;

DO $$
BEGIN
  IF to_regprocedure('auth.uid()') IS NULL THEN
    -- Reads the user id the way Supabase does: the single claim setting first, else the JSON claims.
    CREATE FUNCTION auth.uid() RETURNS uuid
      LANGUAGE sql STABLE
      AS $f$
        SELECT coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
        )::uuid
      $f$;
    GRANT EXECUTE ON FUNCTION auth.uid() TO authenticated;
  END IF;
END
$$;

-- Where secrets live: nothing in this schema is granted to `authenticated`.
CREATE SCHEMA IF NOT EXISTS ctm_private;
REVOKE ALL ON SCHEMA ctm_private FROM PUBLIC;

-- Shared trigger function ------------------------------------------------------------------------
CREATE FUNCTION public.set_updated_at() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

-- substations ------------------------------------------------------------------------------------
CREATE TABLE public.substations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name          text NOT NULL CHECK (btrim(name) <> ''),
  code          text UNIQUE,
  voltage_level text,
  region        text,
  latitude      numeric(9, 6) CHECK (latitude BETWEEN -90 AND 90),
  longitude     numeric(9, 6) CHECK (longitude BETWEEN -180 AND 180),
  status        text NOT NULL DEFAULT 'operational'
                CHECK (status IN ('operational', 'maintenance', 'offline')),
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- customers (transformer_id is dropped by 20251215000002) ----------------------------------------
CREATE TABLE public.customers (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_number      text NOT NULL UNIQUE CHECK (btrim(account_number) <> ''),
  name                text NOT NULL CHECK (btrim(name) <> ''),
  address             text,
  substation_id       uuid REFERENCES public.substations (id) ON DELETE SET NULL,
  transformer_id      text,
  contract_demand_kva numeric(12, 2),
  customer_type       text NOT NULL DEFAULT 'residential'
                      CHECK (customer_type IN ('residential', 'commercial', 'industrial')),
  critical_customer   boolean NOT NULL DEFAULT false,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_substation_id_idx ON public.customers (substation_id);
-- Customer search by any part of the name or account number stays fast on 100,000 customers.
CREATE INDEX customers_name_trgm_idx ON public.customers USING gin (name gin_trgm_ops);
CREATE INDEX customers_account_number_trgm_idx
  ON public.customers USING gin (account_number gin_trgm_ops);

-- profiles ---------------------------------------------------------------------------------------
-- On Supabase the id is the auth.users id; here profiles stand alone.
CREATE TABLE public.profiles (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email      text,
  full_name  text,
  role       text NOT NULL DEFAULT 'viewer' CHECK (role IN ('admin', 'operator', 'viewer')),
  department text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER profiles_set_updated_at
  BEFORE UPDATE ON public.profiles
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- Login credentials: bcrypt hashes, never readable by `authenticated`.
CREATE TABLE ctm_private.user_credentials (
  profile_id    uuid PRIMARY KEY REFERENCES public.profiles (id) ON DELETE CASCADE,
  username      text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,62}$'),
  password_hash text NOT NULL CHECK (password_hash LIKE '$2%'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER user_credentials_set_updated_at
  BEFORE UPDATE ON ctm_private.user_credentials
  FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

-- The acting user's role, for policies; definer rights so policies need no grant on profiles.
CREATE FUNCTION public.current_user_role() RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = ''
  AS $$ SELECT p.role FROM public.profiles AS p WHERE p.id = auth.uid() $$;
REVOKE EXECUTE ON FUNCTION public.current_user_role() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.current_user_role() TO authenticated;

-- pq_events --------------------------------------------------------------------------------------
CREATE TABLE public.pq_events (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_type        text CHECK (event_type IN ('voltage_dip', 'voltage_swell', 'harmonic',
                                               'interruption', 'transient', 'flicker')),
  substation_id     uuid REFERENCES public.substations (id) ON DELETE RESTRICT,
  meter_id          text,
  "timestamp"       timestamptz NOT NULL DEFAULT now(),
  duration_ms       integer CHECK (duration_ms >= 0),
  magnitude         numeric(10, 3),
  severity          text,
  status            text NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'acknowledged', 'investigating', 'resolved', 'false')),
  circuit_id        text,
  voltage_level     text,
  remaining_voltage numeric(6, 2),
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pq_events_timestamp_idx ON public.pq_events ("timestamp" DESC);
-- Circuit lookups, blind-spot statistics and the event list filtered by place.
CREATE INDEX pq_events_substation_circuit_idx
  ON public.pq_events (substation_id, circuit_id, "timestamp" DESC);

-- event_customer_impact --------------------------------------------------------------------------
-- The composite key is the natural identity of an impact and the index the queries use; a random
-- surrogate key plus a separate unique index would double the index writes of every bulk ingest.
CREATE TABLE public.event_customer_impact (
  event_id               uuid NOT NULL REFERENCES public.pq_events (id) ON DELETE CASCADE,
  customer_id            uuid NOT NULL REFERENCES public.customers (id) ON DELETE CASCADE,
  impact_level           text NOT NULL DEFAULT 'minor'
                         CHECK (impact_level IN ('severe', 'moderate', 'minor')),
  estimated_downtime_min numeric(10, 2),
  created_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, customer_id)
);
-- Serves ON DELETE CASCADE from customers and "events that hit this customer".
CREATE INDEX event_customer_impact_customer_id_idx ON public.event_customer_impact (customer_id);

-- Grants and row-level security ------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.substations, public.customers, public.pq_events
  TO authenticated;
GRANT SELECT, UPDATE ON public.profiles TO authenticated;
GRANT SELECT ON public.event_customer_impact TO authenticated;

ALTER TABLE public.substations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.pq_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.event_customer_impact ENABLE ROW LEVEL SECURITY;

CREATE POLICY "Users with a profile can read substations" ON public.substations
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
CREATE POLICY "Admins can add substations" ON public.substations
  FOR INSERT TO authenticated WITH CHECK ((SELECT public.current_user_role()) = 'admin');
CREATE POLICY "Admins can change substations" ON public.substations
  FOR UPDATE TO authenticated USING ((SELECT public.current_user_role()) = 'admin')
  WITH CHECK ((SELECT public.current_user_role()) = 'admin');
CREATE POLICY "Admins can delete substations" ON public.substations
  FOR DELETE TO authenticated USING ((SELECT public.current_user_role()) = 'admin');

CREATE POLICY "Users with a profile can read customers" ON public.customers
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
CREATE POLICY "Admins and operators can add customers" ON public.customers
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.current_user_role()) IN ('admin', 'operator'));
CREATE POLICY "Admins and operators can change customers" ON public.customers
  FOR UPDATE TO authenticated
  USING ((SELECT public.current_user_role()) IN ('admin', 'operator'))
  WITH CHECK ((SELECT public.current_user_role()) IN ('admin', 'operator'));
CREATE POLICY "Admins can delete customers" ON public.customers
  FOR DELETE TO authenticated USING ((SELECT public.current_user_role()) = 'admin');

CREATE POLICY "Users with a profile can read profiles" ON public.profiles
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
CREATE POLICY "Admins can change profiles" ON public.profiles
  FOR UPDATE TO authenticated USING ((SELECT public.current_user_role()) = 'admin')
  WITH CHECK ((SELECT public.current_user_role()) = 'admin');

CREATE POLICY "Users with a profile can read events" ON public.pq_events
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
CREATE POLICY "Admins and operators can record events" ON public.pq_events
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.current_user_role()) IN ('admin', 'operator'));
CREATE POLICY "Admins and operators can correct events" ON public.pq_events
  FOR UPDATE TO authenticated
  USING ((SELECT public.current_user_role()) IN ('admin', 'operator'))
  WITH CHECK ((SELECT public.current_user_role()) IN ('admin', 'operator'));
CREATE POLICY "Admins can delete events" ON public.pq_events
  FOR DELETE TO authenticated USING ((SELECT public.current_user_role()) = 'admin');

-- Impacts are written only by the definer-rights trigger functions.
CREATE POLICY "Users with a profile can read impacts" ON public.event_customer_impact
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);
