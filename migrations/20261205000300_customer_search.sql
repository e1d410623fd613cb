-- The customer page's search in one indexed pass: the first p_max_rows customers in list order
-- (name, then account number) matching an ILIKE pattern on name or account number, a type and the
-- critical flag (NULL = any). The page takes its 50 rows from this ordered list and counts the
-- list for its total, so search + page + count read the customers once, and at most p_max_rows
-- of them when the list order's index can serve (the service caps the count the same way).
--
-- Why definer rights (as customer_ids_like()): for `authenticated` every scan of customers carries
-- the read policy first, and ILIKE is not LEAKPROOF, so as the user the pattern is a filter over
-- every row — the trigram indexes cannot serve it. Here EXECUTE plans for the actual values: a text
-- of 3 characters or more is found through the trigram indexes and its matches sorted; no text, or
-- one of 1–2 characters (no trigram), walks customers_name_account_idx in list order and stops
-- after p_max_rows matches (or scans once when the planner expects few). The visibility rule is
-- the policy's ("Users with a profile can read customers"): no profile, no ids. Only ids come
-- back; the caller joins customers as the user.
CREATE FUNCTION public.customer_search(
  p_pattern text, p_customer_type text, p_critical boolean, p_max_rows integer)
  RETURNS TABLE (id uuid)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = ''
  ROWS 1000
  AS $$
DECLARE
  -- The text between the pattern's wildcards (escapes undone) has a trigram when it is 3+ long.
  trigrams boolean := coalesce(length(regexp_replace(p_pattern, '\\(.)', '\1', 'g')) - 2 >= 3, false);
  conditions text := 'true';
BEGIN
  IF (SELECT public.current_user_role()) IS NULL OR coalesce(p_max_rows, 0) < 1 THEN
    RETURN;
  END IF;
  IF p_pattern IS NOT NULL THEN
    -- ILIKE on the columns themselves: their statistics tell the planner how many rows match
    -- (an expression such as lower(name) has none, and it would then walk the whole table in
    -- list order for a text nothing matches).
    conditions := conditions || ' AND (c.name ILIKE $1 OR c.account_number ILIKE $1)';
  END IF;
  IF p_customer_type IS NOT NULL THEN
    conditions := conditions || ' AND c.customer_type = $2';
  END IF;
  IF p_critical IS NOT NULL THEN
    conditions := conditions || ' AND c.critical_customer = $3';
  END IF;
  -- account_number is unique, so (name, account_number) is a total order.
  IF trigrams THEN
    -- A text of 3 characters or more: find every match through the trigram indexes (OFFSET 0
    -- keeps them from being looked for in list order) and sort them. In list order the planner
    -- assumes matches are spread evenly; when they cluster (a word most names in one part of the
    -- alphabet share) it would read most of the table row by row before it has a page.
    RETURN QUERY EXECUTE
      'SELECT m.id FROM (SELECT c.id, c.name, c.account_number FROM public.customers AS c WHERE '
      || conditions || ' OFFSET 0) AS m ORDER BY m.name, m.account_number LIMIT $4'
      USING p_pattern, p_customer_type, p_critical, p_max_rows;
  ELSE
    -- No text, or one of 1–2 characters (no trigram): the planner chooses between the list-order
    -- index (stops after p_max_rows matches) and one scan of the table.
    RETURN QUERY EXECUTE
      'SELECT c.id FROM public.customers AS c WHERE ' || conditions
      || ' ORDER BY c.name, c.account_number LIMIT $4'
      USING p_pattern, p_customer_type, p_critical, p_max_rows;
  END IF;
END
$$;
COMMENT ON FUNCTION public.customer_search(text, text, boolean, integer) IS
  'The first p_max_rows customer ids in list order (name, account number) matching an ILIKE pattern on name or account number, a type and the critical flag (NULL = any), for users with a profile; uses the trigram and list-order indexes';
REVOKE EXECUTE ON FUNCTION public.customer_search(text, text, boolean, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.customer_search(text, text, boolean, integer) TO authenticated;
