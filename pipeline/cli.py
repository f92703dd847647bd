"""The ``scnn`` command: a thin typed layer over the library.

Each sub-command lives in ``pipeline/commands/<name>.py`` and exposes
``register(app)``; this module only assembles them and turns
:class:`hw.errors.ScnnError` into a one-line message with exit status 2.
"""

from __future__ import annotations

import sys

import typer

from scnn.commands import convert as convert_cmd
from scnn.commands import data as data_cmd
from scnn.commands import export as export_cmd
from scnn.commands import nir_import as nir_import_cmd
from scnn.commands import profile as profile_cmd
from scnn.commands import report as report_cmd
from scnn.commands import run as run_cmd
from scnn.commands import sim as sim_cmd
from scnn.commands import sweep as sweep_cmd
from scnn.commands import train as train_cmd
from scnn.hw.errors import ScnnError

app = typer.Typer(
    help=(
        "scnn: spiking CNNs for audio, from training to bit-exact Loihi fixed point.\n\n"
        "Data flow: WAV -> features -> SNN -> Loihi fixed point -> NetX/NIR -> "
        "bit-exact simulation -> profile and report."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (data_cmd, run_cmd, train_cmd, convert_cmd, export_cmd, sim_cmd, profile_cmd,
                report_cmd, nir_import_cmd, sweep_cmd):
    _module.register(app)


def main() -> None:
    """Entry point: run the app, print user errors as one line (exit 2)."""
    try:
        app(standalone_mode=False)
    except ScnnError as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(2)
    except typer.Exit as ex:
        sys.exit(ex.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
