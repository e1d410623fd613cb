-- Bulk import bookkeeping: one row per applied import (and per undo of one): who, when, which
-- file (name and SHA-256), what kind, the counts, and the batch id its changes carry in the
-- history (ctm.change_batch), so an import can be found, audited and undone as a whole.

CREATE TABLE public.import_runs (
  batch_id       uuid PRIMARY KEY,
  kind           text NOT NULL
                 CHECK (kind IN ('mappings', 'substations', 'circuits', 'meters', 'undo')),
  file_name      text NOT NULL,
  checksum       text NOT NULL CHECK (checksum ~ '^[0-9a-f]{64}$'),
  encoding       text,
  rows_total     integer NOT NULL CHECK (rows_total >= 0),
  rows_new       integer NOT NULL CHECK (rows_new >= 0),
  rows_changed   integer NOT NULL CHECK (rows_changed >= 0),
  rows_unchanged integer NOT NULL CHECK (rows_unchanged >= 0),
  synced         boolean NOT NULL DEFAULT false,
  ended_by_sync  integer NOT NULL DEFAULT 0 CHECK (ended_by_sync >= 0),
  undoes_batch   uuid REFERENCES public.import_runs (batch_id) ON DELETE SET NULL,
  imported_by    uuid REFERENCES public.profiles (id) ON DELETE SET NULL,
  imported_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE public.import_runs IS
  'One row per applied bulk import or undo; batch_id is the ctm.change_batch its changes carry';

CREATE INDEX import_runs_imported_at_idx ON public.import_runs (imported_at DESC);
CREATE INDEX import_runs_undoes_batch_idx ON public.import_runs (undoes_batch);
CREATE INDEX import_runs_imported_by_idx ON public.import_runs (imported_by);

-- Grants: records are written once and never changed by the app.
GRANT SELECT, INSERT ON public.import_runs TO authenticated;

-- Row-level security
ALTER TABLE public.import_runs ENABLE ROW LEVEL SECURITY;

-- Trigger: the importer is whoever the database says is acting, never what the caller sends.
CREATE FUNCTION public.import_runs_stamp() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = ''
  AS $$
BEGIN
  NEW.imported_by := coalesce(auth.uid(), NEW.imported_by);
  NEW.imported_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER trigger_import_runs_stamp
  BEFORE INSERT ON public.import_runs
  FOR EACH ROW EXECUTE FUNCTION public.import_runs_stamp();

-- Policies
CREATE POLICY "Users with a profile can read import records" ON public.import_runs
  FOR SELECT TO authenticated USING ((SELECT public.current_user_role()) IS NOT NULL);

CREATE POLICY "Admins and operators can record imports" ON public.import_runs
  FOR INSERT TO authenticated
  WITH CHECK ((SELECT public.current_user_role()) IN ('admin', 'operator'));
