-- Revocable logins and password-guessing limits.
--
-- A login cookie carries only a random session id (signed by the app); the server keeps the
-- session here, so logout, a password change, a role change, disabling or removing the user ends
-- it at once, and an idle session expires. Failed logins are counted here per submitted username
-- (whether it exists or not), so every browser session and server process shares one count.
-- Everything lives in ctm_private: `authenticated` can read none of it.

-- Accounts: disabled (cannot log in, sessions ended) and when they last logged in.
ALTER TABLE ctm_private.user_credentials
  ADD COLUMN disabled_at   timestamptz,
  ADD COLUMN last_login_at timestamptz;

-- login_sessions ---------------------------------------------------------------------------------
-- The cookie holds the session id; only its SHA-256 is stored, so reading this table does not
-- give anyone a cookie. A session belongs to a profile id, never to a username: a user removed and
-- re-created under the same name is a new profile, and the old cookie names a deleted session.
CREATE TABLE ctm_private.login_sessions (
  id_hash      text PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  profile_id   uuid NOT NULL REFERENCES public.profiles (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  ended_at     timestamptz,
  end_reason   text
);
CREATE INDEX login_sessions_profile_id_idx ON ctm_private.login_sessions (profile_id)
  WHERE ended_at IS NULL;
REVOKE ALL ON ctm_private.login_sessions FROM PUBLIC;

-- login_failures / login_locks -------------------------------------------------------------------
-- `username` is what was typed (trimmed, lower-cased, at most 200 characters), not a reference:
-- unknown names are counted exactly like real ones, so the answer never tells which exist.
CREATE TABLE ctm_private.login_failures (
  username  text NOT NULL CHECK (length(username) <= 200),
  failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_username_failed_at_idx
  ON ctm_private.login_failures (username, failed_at);
REVOKE ALL ON ctm_private.login_failures FROM PUBLIC;

CREATE TABLE ctm_private.login_locks (
  username     text PRIMARY KEY CHECK (length(username) <= 200),
  locked_at    timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz NOT NULL,
  failures     integer NOT NULL
);
REVOKE ALL ON ctm_private.login_locks FROM PUBLIC;

-- Ending sessions whoever changes the account --------------------------------------------------
-- A trigger rather than only the services: a role changed with SQL (or by an admin through the
-- profiles policy) ends the sessions just the same.
CREATE FUNCTION ctm_private.end_sessions_on_account_change() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = ''
  AS $$
DECLARE
  v_reason  text;
  v_profile uuid;
BEGIN
  IF TG_TABLE_NAME = 'profiles' THEN
    v_profile := NEW.id;
    IF NEW.role IS DISTINCT FROM OLD.role THEN
      v_reason := 'role changed';
    END IF;
    -- Not evaluated for profiles: PL/pgSQL reads only the branch it takes.
  ELSIF NEW.password_hash IS DISTINCT FROM OLD.password_hash THEN
    v_reason := 'password changed';
  ELSIF NEW.disabled_at IS NOT NULL AND OLD.disabled_at IS NULL THEN
    v_reason := 'account disabled';
  ELSIF NEW.username IS DISTINCT FROM OLD.username THEN
    v_reason := 'username changed';
  END IF;
  IF TG_TABLE_NAME = 'user_credentials' THEN
    v_profile := NEW.profile_id;
  END IF;
  IF v_reason IS NOT NULL THEN
    UPDATE ctm_private.login_sessions
       SET ended_at = now(), end_reason = v_reason
     WHERE profile_id = v_profile
       AND ended_at IS NULL;
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION ctm_private.end_sessions_on_account_change() FROM PUBLIC;

CREATE TRIGGER profiles_end_sessions_on_role_change
  AFTER UPDATE OF role ON public.profiles
  FOR EACH ROW EXECUTE FUNCTION ctm_private.end_sessions_on_account_change();
CREATE TRIGGER user_credentials_end_sessions_on_change
  AFTER UPDATE OF password_hash, disabled_at, username ON ctm_private.user_credentials
  FOR EACH ROW EXECUTE FUNCTION ctm_private.end_sessions_on_account_change();
