"""The `ctm` command: migrate, demo data, backfill, users, the time zone and the embedded server's
URL. Every command takes `--database-url` before or after its name."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click
import sqlalchemy as sa

from ctm import db
from ctm.migrate import MigrationError, applied_migrations, load_migrations, migrate


class CommandError(Exception):
    """A command refused to run; the message says why and what to do."""


def check_url(url: str) -> str:
    """The URL itself if it names a PostgreSQL database; a one-line refusal otherwise."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    try:
        if scheme not in ("postgresql", "postgres", "postgresql+psycopg2"):
            raise ValueError
        sa.engine.make_url(db._sqlalchemy_url(url))
    except (ValueError, sa.exc.ArgumentError):
        shown = scheme + "://..." if scheme else repr(url[:20])
        raise CommandError(
            f"the database URL {shown} is not a PostgreSQL URL: "
            "expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    return url


class Context:
    """The database the command works on, resolved lazily so `--help` never starts a server."""

    def __init__(self, database_url: str | None):
        self._explicit = database_url
        self._url: str | None = None
        self._announced = False

    def use_url(self, database_url: str) -> None:
        """`--database-url` given after the command name: it wins over DATABASE_URL, but two
        different explicit URLs are a mistake, not a choice."""
        if self._url is not None:
            raise click.UsageError("--database-url came too late: the database was already opened")
        self._explicit = database_url

    def announce(self, engine, *, at_start: bool = True) -> None:
        """Say on standard error which database a writing command acts on (host:port/database as
        the server reports it, so a bare postgresql:// names what libpq chose; no password).
        `at_start`: now, before a long run; otherwise once the command has done its work (a
        refusal of bad input then stays the one line it should be: nothing was written)."""
        if not self._announced:
            self._announced = True
            line = f"ctm: database {db.describe_engine(engine)}"
            if at_start:
                click.echo(line, err=True)
            else:
                _after_success.append(line)

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = check_url(db.database_url(self._explicit))
        return self._url

    @property
    def engine(self):
        return db.get_engine(self.url)

    def migrated_engine(self, *, writes: bool = False, at_start: bool = False):
        """The engine, once the schema is known to be complete; never migrates implicitly.
        `writes`: the command changes the database, so name it on standard error."""
        engine = self.engine
        done = applied_migrations(engine)
        pending = [m.filename for m in load_migrations() if m.filename not in done]
        if pending:
            where = db.describe_url(self.url)
            if not done:
                raise CommandError(
                    f"the database at {where} has no ctm schema yet: run `ctm migrate`"
                )
            raise CommandError(
                f"the database at {where} lacks {len(pending)} migration(s) "
                f"(first: {pending[0]}): run `ctm migrate`"
            )
        if writes:
            self.announce(engine, at_start=at_start)
        return engine


pass_context = click.make_pass_decorator(Context)
# Lines a command prints on standard error only once it has succeeded (or failed in the database).
_after_success: list[str] = []


def _database_url_after_command(ctx: click.Context, _param, value: str | None) -> None:
    if value is None:
        return
    obj = ctx.find_object(Context)
    if obj is None:  # the command was built on its own (tests); give it a context of its own
        ctx.obj = Context(value)
    else:
        obj.use_url(value)


def _with_database_url_option(command: click.Command) -> click.Command:
    """Let `ctm COMMAND --database-url URL` work like `ctm --database-url URL COMMAND`."""
    if not any(p.name == "database_url_after" for p in command.params):
        command.params.append(
            click.Option(
                ["--database-url", "database_url_after"],
                default=None,
                expose_value=False,
                is_eager=True,
                callback=_database_url_after_command,
                help="PostgreSQL URL (same as giving it before the command name).",
            )
        )
    return command


class CtmGroup(click.Group):
    """A group whose every command (and sub-group's command) accepts `--database-url` after its
    name, including commands added later by other modules."""

    group_class = type  # sub-groups are CtmGroups too

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _with_database_url_option(cmd)
        super().add_command(cmd, name)


@click.group(cls=CtmGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    default=None,
    help="PostgreSQL 15+ URL (default: DATABASE_URL, else the embedded server in CTM_DATA_DIR).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Customer Transformer Matching: which critical customers hang off which circuit."""
    ctx.obj = Context(database_url)


@cli.command("migrate")
@pass_context
def migrate_command(ctx: Context) -> None:
    """Apply pending migrations (each once, in file-name order)."""
    engine = ctx.engine
    ctx.announce(engine)
    applied = migrate(engine, log=lambda line: click.echo(line))
    if not applied:
        click.echo("database is up to date")


@cli.command("db-url")
@pass_context
def db_url_command(ctx: Context) -> None:
    """Print the connection URL (open it with psql).

    For the embedded server this leaves it running after ctm exits, so psql can connect; the next
    ctm command (or the app) to use it stops it again when it exits."""
    url = ctx.url
    if not ctx._explicit:
        db.keep_embedded_servers_running()
    click.echo(url)


# demo-data ---------------------------------------------------------------------------------------


@cli.command("demo-data")
@click.option("--seed", type=int, default=42, show_default=True, help="Same seed, same rows.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace the rows an earlier demo-data created; rows it did not create are kept.",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Day the year of events ends on (default: today, UTC); fixes the timestamps too.",
)
@pass_context
def demo_data_command(ctx: Context, seed: int, force: bool, as_of: datetime | None) -> None:
    """Fill the database with a realistic demo grid and the demo users admin/operator/viewer."""
    from ctm.demo import DemoDataRefused, load_demo_data

    engine = ctx.migrated_engine(writes=True, at_start=True)
    try:
        summary = load_demo_data(
            engine,
            seed=seed,
            force=force,
            as_of=as_of.date() if as_of else None,
            progress=lambda step: click.echo(f"  {step}", err=True),
        )
    except DemoDataRefused as exc:
        raise CommandError(f"demo-data refused: {exc}") from None
    if summary.replaced_rows:
        click.echo(f"removed {summary.replaced_rows:,} rows of the earlier demo data")
    click.echo(
        f"demo data loaded in {summary.seconds:.1f} s (seed {seed}, events up to {summary.as_of}):\n"
        f"  substations  {summary.substations:>7,}\n"
        f"  circuits     {summary.circuits:>7,}\n"
        f"  customers    {summary.customers:>7,}\n"
        f"  mappings     {summary.mappings:>7,}  ({summary.inactive_mappings:,} inactive)\n"
        f"  events       {summary.events:>7,}\n"
        f"  impacts      {summary.impacts:>7,}"
    )
    from ctm.demo import DEMO_USERS

    passwords = {u[0]: u[1] for u in DEMO_USERS}
    for username in summary.users:
        click.echo(f"  login {username} / {passwords[username]}")
    for username in summary.skipped_users:
        click.echo(f"  user {username} already existed and was left unchanged")


# backfill ----------------------------------------------------------------------------------------


def _plus_days(moment: datetime, days: int) -> datetime | None:
    """moment + days, or None (an open end) past the calendar's end: --batch-days may be huge."""
    try:
        return moment + timedelta(days=days)
    except OverflowError:
        return None


@cli.command("backfill")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only events from this day on (00:00 in the stored time zone); default: every event.",
)
@click.option(
    "--batch-days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Days of events per transaction (a huge number means one transaction).",
)
@click.option("--customer", "account", default=None, help="Only this customer (account number).")
@click.option("--substation", default=None, help="Only events of this substation (name or code).")
@click.option("--circuit", default=None, help="Only events of this circuit (e.g. H1).")
@click.option(
    "--dry-run", is_flag=True, help="Count the impacts it would create by level; write nothing."
)
@pass_context
def backfill_command(
    ctx: Context,
    since: datetime | None,
    batch_days: int,
    account: str | None,
    substation: str | None,
    circuit: str | None,
    dry_run: bool,
) -> None:
    """Create the missing customer impacts of past events, set-based, one transaction per batch,
    from the mappings that applied on each event's date (validity dates honoured).

    Batches cover only stretches that hold events: an event dated in year 1 and one today make
    a few batches, not 24,000."""
    from ctm import clock

    engine = ctx.migrated_engine(writes=True, at_start=True)
    with db.owner_transaction(engine) as conn:
        scope = _backfill_scope(conn, account, substation, circuit)
        since_ts = since.replace(tzinfo=clock.time_zone(conn)) if since else None
        first, count = conn.execute(
            sa.text(
                'SELECT min("timestamp"), count(*) FROM public.pq_events'
                " WHERE \"timestamp\" >= coalesce(CAST(:since AS timestamptz), '-infinity')"
            ),
            {"since": since_ts},
        ).one()
    totals = {"events": 0, "severe": 0, "moderate": 0, "minor": 0}

    def run_batch(lo: datetime | None, hi: datetime | None) -> None:
        with db.owner_transaction(engine) as conn:
            row = conn.execute(
                sa.text(
                    "SELECT * FROM public.backfill_customer_impacts_between("
                    "CAST(:lo AS timestamptz), CAST(:hi AS timestamptz),"
                    " CAST(:customer AS uuid), CAST(:substation AS uuid),"
                    " CAST(:circuit AS text), CAST(:dry_run AS boolean))"
                ),
                {"lo": lo, "hi": hi, "dry_run": dry_run, **scope},
            ).one()
        totals["events"] += row.events_scanned
        for level in ("severe", "moderate", "minor"):
            totals[level] += getattr(row, level)
        bar.update(row.events_scanned)

    def next_event_at(moment: datetime) -> datetime | None:
        with db.owner_transaction(engine) as conn:
            return conn.scalar(
                sa.text('SELECT min("timestamp") FROM public.pq_events WHERE "timestamp" >= :t'),
                {"t": moment},
            )

    if first is None:
        click.echo("no events to scan" + (f" since {since.date()}" if since else ""))
    else:
        batches = 0
        with click.progressbar(
            length=count, label="backfilling", file=sys.stderr, show_pos=True, show_eta=True
        ) as bar:
            # The first batch is open below (unless --since) and a last, open-ended batch catches
            # events that arrive while the backfill runs; stretches without events are skipped
            # (the next batch starts where the previous ended, so none is missed).
            lo: datetime | None = since_ts or first
            lower: datetime | None = since_ts
            hi: datetime | None = None
            while lo is not None:
                hi = _plus_days(lo, batch_days)
                run_batch(lower, hi)
                batches += 1
                if hi is None:
                    break
                lo = next_event_at(hi)
                lower = hi
            if hi is not None:
                run_batch(hi, None)
                batches += 1
        click.echo(
            f"scanned in {batches:,} batch(es) of up to {batch_days:,} days"
            " (stretches without events skipped)",
            err=True,
        )
    created = totals["severe"] + totals["moderate"] + totals["minor"]
    verb = "impacts to create" if dry_run else "impacts created"
    click.echo(f"events scanned:  {totals['events']:,}")
    click.echo(
        f"{verb}: {created:,} (severe {totals['severe']:,}, "
        f"moderate {totals['moderate']:,}, minor {totals['minor']:,})"
        + (" — dry run, nothing written" if dry_run else "")
    )


def _backfill_scope(
    conn: sa.Connection, account: str | None, substation: str | None, circuit: str | None
) -> dict:
    """The backfill's scope as ids, or a CommandError naming what was not found."""
    scope: dict = {"customer": None, "substation": None, "circuit": None}
    if account is not None:
        scope["customer"] = conn.scalar(
            sa.text("SELECT id FROM public.customers WHERE account_number = :a"),
            {"a": account.strip()},
        )
        if scope["customer"] is None:
            raise CommandError(f"no customer with account number {account.strip()!r}")
    if substation is not None:
        found = conn.execute(
            sa.text(
                "SELECT id FROM public.substations"
                " WHERE lower(name) = lower(:s) OR lower(code) = lower(:s)"
            ),
            {"s": substation.strip()},
        ).all()
        if not found:
            raise CommandError(f"no substation named or coded {substation.strip()!r}")
        if len(found) > 1:
            raise CommandError(
                f"{substation.strip()!r} names {len(found)} substations; use its code"
            )
        scope["substation"] = found[0].id
    if circuit is not None:
        scope["circuit"] = circuit.strip().upper()
        if not scope["circuit"]:
            raise CommandError("--circuit is empty")
    return scope


# time zone ---------------------------------------------------------------------------------------


@cli.command("time-zone")
@click.argument("zone", required=False)
@pass_context
def time_zone_command(ctx: Context, zone: str | None) -> None:
    """Print the product's time zone, or set it (an IANA name such as Asia/Hong_Kong).

    Every date the app shows, filters on or exports is taken in this zone."""
    from ctm import clock
    from ctm.errors import ValidationError

    if zone is None:
        with db.owner_transaction(ctx.migrated_engine()) as conn:
            click.echo(clock.time_zone_name(conn))
        return
    engine = ctx.migrated_engine(writes=True)
    try:
        with db.owner_transaction(engine) as conn:
            before = clock.time_zone_name(conn)
            stored = clock.set_time_zone(conn, zone)
    except ValidationError as exc:
        raise CommandError(str(exc)) from None
    # A new zone moves events between local months: the database recounted the analytics
    # summary (public.analytics_monthly) in the same transaction.
    click.echo(
        f"time zone set to {stored}"
        + (
            f" (was {before}); analytics summary recounted by month in {stored}"
            if before != stored
            else ""
        ),
        err=True,
    )
    click.echo(stored)


# users -------------------------------------------------------------------------------------------

ROLE_CHOICE = click.Choice(["admin", "operator", "viewer"])


@cli.group("users")
def users_group() -> None:
    """Login accounts: add, change role or password, disable, enable, unlock, remove, list."""


def _read_password(password_stdin: bool) -> str:
    """Asked twice on a terminal; from stdin's first line only when --password-stdin says so (a
    pipe that was meant for something else must not silently become a password)."""
    if password_stdin:
        raw = sys.stdin.buffer.readline()
        if not raw:
            raise CommandError("no password on standard input")
        try:
            password = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"the password on standard input is not UTF-8 text (byte {raw[exc.start]:#04x}"
                f" at position {exc.start + 1}); type it in UTF-8"
            ) from None
    elif not sys.stdin.isatty():
        raise CommandError(
            "standard input is not a terminal, so the password cannot be asked twice: "
            "pass --password-stdin to read it from the first line of standard input"
        )
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    # One of only spaces, or with a NUL, is refused here with one line (not a traceback later).
    if not password.strip():
        raise CommandError("the password is empty or only spaces: choose a real password")
    if "\x00" in password:
        raise CommandError("the password contains a NUL character (\\x00): choose another")
    return password


def _user_call(fn, *args, **kwargs):
    from ctm.errors import ServiceError

    try:
        return fn(*args, **kwargs)
    except ServiceError as exc:
        raise CommandError(str(exc)) from None


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=ROLE_CHOICE, required=True)
@click.option("--name", "full_name", default=None, help="Full name shown in the app.")
@click.option("--email", default=None)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@pass_context
def users_add(
    ctx: Context,
    username: str,
    role: str,
    full_name: str | None,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Add a login (password asked twice, or read from stdin)."""
    from ctm import users

    engine = ctx.migrated_engine(writes=True)
    _user_call(users.check_username, username)
    password = _read_password(password_stdin)
    _user_call(users.add_user, engine, username, role, password, full_name, email)
    click.echo(f"added user {username} ({role})")


@users_group.command("set-role")
@click.argument("username")
@click.argument("role", type=ROLE_CHOICE)
@pass_context
def users_set_role(ctx: Context, username: str, role: str) -> None:
    """Give a user another role."""
    from ctm import users

    _user_call(users.set_role, ctx.migrated_engine(writes=True), username, role)
    click.echo(f"{username} is now {role}")


@users_group.command("set-password")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@pass_context
def users_set_password(ctx: Context, username: str, password_stdin: bool) -> None:
    """Set a user's password (asked twice, or read from stdin)."""
    from ctm import users

    engine = ctx.migrated_engine(writes=True)
    if users.identity_for(engine, username) is None:
        raise CommandError(f"there is no user {username!r} (see `ctm users list`)")
    password = _read_password(password_stdin)
    _user_call(users.set_password, engine, username, password)
    click.echo(f"password of {username} changed")


@users_group.command("disable")
@click.argument("username")
@pass_context
def users_disable(ctx: Context, username: str) -> None:
    """Stop a user from logging in and end all of their sessions."""
    from ctm import users

    changed = _user_call(users.disable_user, ctx.migrated_engine(), username)
    click.echo(f"{username} is disabled" + ("" if changed else " (it already was)"))


@users_group.command("enable")
@click.argument("username")
@pass_context
def users_enable(ctx: Context, username: str) -> None:
    """Let a disabled user log in again."""
    from ctm import users

    changed = _user_call(users.enable_user, ctx.migrated_engine(), username)
    click.echo(f"{username} can log in" + ("" if changed else " (it was not disabled)"))


@users_group.command("unlock")
@click.argument("username")
@pass_context
def users_unlock(ctx: Context, username: str) -> None:
    """Lift the lock that failed logins put on a username (known or not)."""
    from ctm import users

    was_locked = _user_call(users.unlock_user, ctx.migrated_engine(), username)
    click.echo(f"{username} is unlocked" + ("" if was_locked else " (it was not locked)"))


@users_group.command("remove")
@click.argument("username")
@pass_context
def users_remove(ctx: Context, username: str) -> None:
    """Delete a login and end its sessions (the last administrator cannot be removed)."""
    from ctm import users

    _user_call(users.remove_user, ctx.migrated_engine(), username)
    click.echo(f"removed user {username}")


@users_group.command("list")
@pass_context
def users_list(ctx: Context) -> None:
    """List the logins."""
    from ctm import users

    records = users.list_users(ctx.migrated_engine())
    if not records:
        click.echo("no users yet: add one with `ctm users add USERNAME --role admin`")
        return
    header = ("USERNAME", "ROLE", "NAME", "EMAIL", "CREATED", "LAST_LOGIN", "STATE", "DEMO")

    def when(moment) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"

    rows = [
        (
            r.username,
            r.role,
            r.full_name,
            r.email,
            when(r.created_at),
            when(r.last_login_at),
            "disabled" if r.disabled else ("locked" if r.locked_until else "active"),
            "yes" if r.is_demo else "",
        )
        for r in records
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


# import (its own module: ctm/imports/command.py) ---------------------------------------------------

from ctm.imports.command import import_command

cli.add_command(import_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: expected failures become one line on stderr and exit status 2."""
    _after_success.clear()
    try:
        cli.main(args=argv, prog_name="ctm", standalone_mode=False)
        for line in _after_success:
            click.echo(line, err=True)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except KeyboardInterrupt:
        # The transaction in progress (one backfill batch, the whole demo load) rolls back.
        click.echo("ctm: interrupted; the unfinished transaction was rolled back", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (db.DatabaseUnavailable, MigrationError, CommandError) as exc:
        click.echo(f"ctm: {exc}", err=True)
        return 2
    except sa.exc.DBAPIError as exc:
        for line in _after_success:
            click.echo(line, err=True)
        # E.g. the server went away mid-command: one line, not a driver traceback.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        click.echo(f"ctm: database error: {reason}", err=True)
        return 2
    finally:
        db.dispose_engines()
    return 0


if __name__ == "__main__":
    sys.exit(main())
