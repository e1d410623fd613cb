-- Customer text search that keeps the trigram indexes usable under row-level security.
--
-- Why a function: for the `authenticated` role every scan of customers carries the read policy as
-- a security qual, and PostgreSQL may only use an index for a user's condition that is LEAKPROOF
-- or evaluated after the policy. ILIKE is not leakproof, so `name ILIKE '%abc%'` as the user
-- becomes a filter over all 100,000 rows instead of a GIN index scan. This definer-rights
-- function runs the ILIKE with the indexes and applies the very same visibility rule as the
-- policy "Users with a profile can read customers": no profile, no ids. It returns ids only; the
-- callers join customers as the user, so the policies still decide what is shown.
CREATE FUNCTION public.customer_ids_like(p_pattern text)
  RETURNS TABLE (id uuid)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = ''
  ROWS 500
  AS $$
BEGIN
  IF (SELECT public.current_user_role()) IS NULL THEN
    RETURN;
  END IF;
  -- EXECUTE plans for this pattern: '%abc%' uses the trigram indexes, '%a%' (no trigram) scans.
  RETURN QUERY EXECUTE
    'SELECT c.id FROM public.customers AS c WHERE c.name ILIKE $1 OR c.account_number ILIKE $1'
    USING p_pattern;
END
$$;
COMMENT ON FUNCTION public.customer_ids_like(text) IS
  'Ids of customers whose name or account number matches an ILIKE pattern, for users with a profile; uses the pg_trgm indexes';
REVOKE EXECUTE ON FUNCTION public.customer_ids_like(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.customer_ids_like(text) TO authenticated;
