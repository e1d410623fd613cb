-- A backfill batch of one day took 0.7-0.9 s on PostgreSQL 15 whatever it held (a batch with one
-- event: 0.89 s; with jit off: 0.014 s). The function runs with enable_nestloop = off, which before
-- PostgreSQL 18 prices every plan that would use a nested loop at 10^10; that total is far above
-- jit_above_cost (100,000 by default), so each statement inside the batch, the summary triggers'
-- upserts included, was compiled by LLVM first (about 0.85 s here). PostgreSQL 18 counts disabled
-- nodes instead of adding that cost, which is why the embedded server never showed it.
-- `ctm backfill --batch-days 1` over 42 days of events: 23.7 s before this file.
-- The batches' statements are plain set-based SQL for which compilation never pays back, so JIT is
-- off for the function (and the triggers it fires), on every server version.
ALTER FUNCTION public.backfill_customer_impacts_between(timestamptz, timestamptz, uuid, uuid, text, boolean)
  SET jit = off;
