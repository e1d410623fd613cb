-- Bookkeeping of `ctm demo-data`: which rows it created (so --force replaces only those and never
-- touches rows loaded by anyone else) and the demo logins whose passwords the login page may show.
-- Both live in ctm_private, which `authenticated` cannot read.

CREATE TABLE ctm_private.demo_rows (
  table_name text NOT NULL CHECK (table_name IN ('substations', 'customers',
                                                 'customer_transformer_matching', 'pq_events',
                                                 'profiles')),
  id         uuid NOT NULL,
  PRIMARY KEY (table_name, id)
);
COMMENT ON TABLE ctm_private.demo_rows IS
  'Rows created by ctm demo-data; demo-data --force deletes exactly these before loading again';

-- A row here means: this user was made by demo-data and still has the password shown at login.
-- Changing the user's password or role (ctm users set-password / set-role) deletes the row.
CREATE TABLE ctm_private.demo_users (
  username text PRIMARY KEY
           REFERENCES ctm_private.user_credentials (username) ON DELETE CASCADE ON UPDATE CASCADE,
  password text NOT NULL
);
COMMENT ON TABLE ctm_private.demo_users IS
  'Demo logins whose plain passwords the login page shows; only ever filled by ctm demo-data';
