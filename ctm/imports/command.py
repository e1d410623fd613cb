"""`ctm import FILE`: the import from a terminal. Row errors and the summary go to standard output
(the summary last); progress and every other message to standard error. Exit 0 applied (or would
apply), 1 refused because of row errors, 2 usage, file or database error.

Kept apart from ctm/cli.py (which only registers it) and without importing it, so `python -m
ctm.cli` never imports the command module twice."""

from __future__ import annotations

import sys
import time

import click

from ctm.imports.kinds import KINDS

EXIT_ROW_ERRORS = 1
EXIT_REFUSED = 2


class ImportCommandError(click.ClickException):
    """A usage, file, permission or database problem: one line on stderr, exit 2."""

    exit_code = EXIT_REFUSED

    def show(self, file=None) -> None:
        click.echo(f"ctm import: {self.message}", err=True)


class RowErrorsExit(click.ClickException):
    """Row errors were printed already; exit 1 without another message."""

    exit_code = EXIT_ROW_ERRORS

    def show(self, file=None) -> None:
        pass


class _Progress:
    """The import's progress on standard error. The work is set-based — one statement per step
    (match and check, write), so the bar advances per step, never per row. On a
    terminal: one line redrawn in place, `[##########----------] 1/2 writing 25,000 changes (4.1 s)`; to a
    pipe or file: one timestamped line per step, which logs read better."""

    WIDTH = 20

    def __init__(self, steps: int, stream=None):
        self.stream = stream if stream is not None else click.get_text_stream("stderr")
        self.steps = steps
        self.done = 0
        self.message = ""
        self.started = time.monotonic()
        self.on_terminal = self.stream.isatty()

    def __call__(self, message: str) -> None:
        """A new step starts: the previous one is done."""
        if self.message:
            self.done = min(self.done + 1, self.steps)
        self.message = message
        self._draw()

    def finish(self, message: str) -> None:
        self.done, self.message = self.steps, message
        self._draw()
        if self.on_terminal:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        elapsed = time.monotonic() - self.started
        if not self.on_terminal:
            click.echo(f"  [{elapsed:5.1f} s] {self.message}", file=self.stream)
            return
        filled = self.WIDTH * self.done // self.steps
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = f"[{bar}] {self.done}/{self.steps} {self.message} ({elapsed:.1f} s)"
        self.stream.write("\r" + line[:100].ljust(100))
        self.stream.flush()


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--kind",
    type=click.Choice(KINDS),
    default="mappings",
    show_default=True,
    help="What the file lists.",
)
@click.option("--dry-run", is_flag=True, help="Check and show what would change; write nothing.")
@click.option(
    "--sync",
    is_flag=True,
    help="Also end the current mappings of the file's substations that the file does not list"
    " (admins).",
)
@click.option(
    "--as",
    "as_user",
    metavar="USERNAME",
    default=None,
    help="Act as this user under row-level security (default: the database owner, admin rules).",
)
@click.option(
    "--encoding",
    default=None,
    metavar="NAME",
    help="Encoding of a CSV without BOM that is not UTF-8 (default cp1252), e.g. big5.",
)
@click.pass_obj
def import_command(
    ctx, file: str, kind: str, dry_run: bool, sync: bool, as_user: str | None, encoding: str | None
) -> None:
    """Import mappings (with customers), substations, circuits or meters from .xlsx or .csv.

    Every row or none: with any row error nothing is written (exit 1)."""
    from ctm import users
    from ctm.db import DatabaseUnavailable
    from ctm.errors import ServiceError
    from ctm.imports.kinds import SPECS
    from ctm.imports.reading import read_import_file
    from ctm.imports.service import ImportRefused, apply_import, preview_import

    try:
        source = read_import_file(file, SPECS[kind], encoding=encoding)
    except ServiceError as exc:
        raise ImportCommandError(str(exc)) from None
    for note in source.notes:
        click.echo(f"ctm import: {note}", err=True)
    where = f"header on {source.row_word} {source.header_row}"
    if source.file_type == "csv":
        where += f", encoding {source.encoding}, {_separator(source.separator)} separated"
    click.echo(f"ctm import: {source.file_name}: {len(source.rows):,} rows ({where})", err=True)
    if source.ignored_columns:
        click.echo(f"ctm import: ignored columns: {', '.join(source.ignored_columns)}", err=True)
    try:
        engine = ctx.migrated_engine(writes=not dry_run)
    except TypeError:  # before `writes` existed
        engine = ctx.migrated_engine()
    except DatabaseUnavailable as exc:
        raise ImportCommandError(str(exc)) from None
    identity = None
    if as_user:
        identity = users.identity_for(engine, as_user)
        if identity is None:
            raise ImportCommandError(f"there is no user {as_user!r} (see `ctm users list`)")
    # The bar starts once the file's own messages are out: match and check, then (unless a dry
    # run) write.
    progress = _Progress(steps=1 if dry_run else 2)
    try:
        if dry_run:
            result = preview_import(engine, identity, source, kind, sync=sync, progress=progress)
        else:
            result = apply_import(engine, identity, source, kind, sync=sync, progress=progress)
    except ImportRefused as refused:
        result = refused.preview
    except ServiceError as exc:
        raise ImportCommandError(str(exc)) from None
    progress.finish("checked" if dry_run or result.error_rows else "written")
    for line in result.error_lines():
        click.echo(line)
    if sync and len(result.ended_by_sync):
        verb = "would end" if dry_run or result.error_rows else "ended"
        click.echo(f"ctm import: --sync {verb} {len(result.ended_by_sync)} mapping(s):", err=True)
        for r in result.ended_by_sync.head(50).itertuples(index=False):
            click.echo(
                f"  {r.account_number} {r.customer_name} — {r.substation} / {r.circuit}", err=True
            )
        if len(result.ended_by_sync) > 50:
            click.echo(f"  … and {len(result.ended_by_sync) - 50} more", err=True)
    if result.error_rows:
        click.echo(
            f"ctm import: {result.error_rows} row(s) with errors: nothing was written", err=True
        )
    elif dry_run:
        click.echo(
            "ctm import: dry run: the file would apply cleanly; nothing was written", err=True
        )
    else:
        click.echo(f"ctm import: applied as batch {result.batch_id}", err=True)
    click.echo(result.summary_line())
    sys.stdout.flush()
    if result.error_rows:
        raise RowErrorsExit("row errors")


def _separator(separator: str | None) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab"}.get(separator or ",", "comma")
