"""The `ctm` command: migrate, demo data, backfill, users and the embedded server's URL."""

from __future__ import annotations

import sys

import click

from ctm import db
from ctm.migrate import MigrationError, migrate


class Context:
    """The database the command works on, resolved lazily so `--help` never starts a server."""

    def __init__(self, database_url: str | None):
        self._explicit = database_url
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = db.database_url(self._explicit)
        return self._url

    @property
    def engine(self):
        return db.get_engine(self.url)


pass_context = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
    applied = migrate(ctx.engine, log=lambda line: click.echo(line))
    if not applied:
        click.echo("database is up to date")


@cli.command("db-url")
@pass_context
def db_url_command(ctx: Context) -> None:
    """Print the connection URL (open it with psql)."""
    click.echo(ctx.url)


def main(argv: list[str] | None = None) -> int:
    """Entry point: expected failures become one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="ctm", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (db.DatabaseUnavailable, MigrationError, CommandError) as exc:
        click.echo(f"ctm: {exc}", err=True)
        return 2
    finally:
        db.dispose_engines()
    return 0


class CommandError(Exception):
    """A command refused to run; the message says why and what to do."""


if __name__ == "__main__":
    sys.exit(main())
