-- The customer page: its list is ordered by name (then account number) and paged, and the add/edit
-- form checks that an account number is not taken in any letter case. Without these indexes both
-- read all 100,000 customers on every page view or save.
CREATE INDEX customers_name_account_idx ON public.customers (name, account_number);
CREATE INDEX customers_account_number_lower_idx ON public.customers (lower(account_number));
