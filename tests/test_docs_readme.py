"""README stays true: every `ctm` command is described, and the Quick start is two commands."""

from pathlib import Path

import click

from ctm.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _command_names(group: click.Group, prefix: str = "ctm") -> list[str]:
    names = []
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        if isinstance(command, click.Group):
            names.extend(_command_names(command, full))
        else:
            names.append(full)
    return names


def test_every_ctm_command_is_described_in_the_readme():
    missing = [name for name in _command_names(cli) if f"`{name}" not in README]
    assert not missing, f"README does not describe: {missing}"


def test_quick_start_is_exactly_two_commands_run_and_test():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in quick.splitlines() if line.startswith("    ")]
    assert len(commands) == 2
    assert "streamlit run app.py" in commands[0]
    assert "[test]" in commands[1] and "pytest" in commands[1]
