-- created_at tells when a row was first written: a logged-in writer cannot backdate it.
--
-- For a writer acting as a user (role `authenticated` or `anon`: the app's user transactions and
-- Supabase's API alike) the database sets created_at on INSERT, whatever was given, and keeps it
-- on UPDATE. The connection owner (migrations, `ctm demo-data`, restores) and other systems' own
-- roles (bulk loads of the origin system's rows) may still set it. The test is on current_user
-- only: an ingest role may have no right to call auth.uid().

CREATE FUNCTION public.keep_created_at() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  IF current_user IN ('authenticated', 'anon') THEN
    IF TG_OP = 'INSERT' THEN
      NEW.created_at := now();
    ELSE
      NEW.created_at := OLD.created_at;
    END IF;
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION public.keep_created_at() FROM PUBLIC;

CREATE TRIGGER substations_keep_created_at
  BEFORE INSERT OR UPDATE ON public.substations
  FOR EACH ROW EXECUTE FUNCTION public.keep_created_at();
CREATE TRIGGER customers_keep_created_at
  BEFORE INSERT OR UPDATE ON public.customers
  FOR EACH ROW EXECUTE FUNCTION public.keep_created_at();
CREATE TRIGGER profiles_keep_created_at
  BEFORE INSERT OR UPDATE ON public.profiles
  FOR EACH ROW EXECUTE FUNCTION public.keep_created_at();
CREATE TRIGGER pq_events_keep_created_at
  BEFORE INSERT OR UPDATE ON public.pq_events
  FOR EACH ROW EXECUTE FUNCTION public.keep_created_at();
CREATE TRIGGER customer_transformer_matching_keep_created_at
  BEFORE INSERT OR UPDATE ON public.customer_transformer_matching
  FOR EACH ROW EXECUTE FUNCTION public.keep_created_at();
