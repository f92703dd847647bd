"""The CLI reference (docs/cli.md), written from the commands themselves.

``python -m scnn.clidoc > docs/cli.md`` (``make docs``) regenerates it; a test holds the
committed file equal to this output, so the reference cannot drift from the code.
"""

from __future__ import annotations

import sys

HEADER = """# CLI reference

Every `scnn` command with its arguments and options, written from the code by
`python -m scnn.clidoc` (`make docs`; a test keeps this file equal to its output). Bad
input is a one-line `error: ...` with exit status 2; Ctrl-C is `interrupted` (130),
SIGTERM `terminated` (143); outputs are written atomically.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _command(typer, cmd, path: str) -> list[str]:
    ctx = typer.Context(cmd, info_name=path)
    lines = [f"## `{path}`", ""]
    for para in (cmd.help or "").split("\n\n"):
        if para.strip():
            lines += [" ".join(para.split()), ""]
    lines += [f"Usage: `{path} {' '.join(cmd.collect_usage_pieces(ctx))}`", ""]
    rows = [p.get_help_record(ctx) for p in cmd.params]
    rows = [r for r in rows if r is not None]
    if rows:
        lines += ["| argument or option | what it is |", "|---|---|"]
        lines += [f"| `{_cell(name)}` | {_cell(text)} |" for name, text in rows]
        lines.append("")
    return lines


def cli_reference() -> str:
    """The markdown of every command and sub-command, in the order ``scnn --help`` lists
    them."""
    import typer  # its own click inside (typer 0.29), so typer.Context and duck typing

    from scnn.cli import get_app

    root = typer.main.get_command(get_app())
    lines = [HEADER]
    for name, cmd in root.commands.items():
        if hasattr(cmd, "commands"):  # a group: data check, data fetch, ...
            for sub, subcmd in cmd.commands.items():
                lines += _command(typer, subcmd, f"scnn {name} {sub}")
        else:
            lines += _command(typer, cmd, f"scnn {name}")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(cli_reference())
