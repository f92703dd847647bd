"""The ``scnn`` command: a thin typed layer over the library, and its one error boundary.

Each sub-command lives in ``pipeline/commands/<name>.py`` and exposes ``register(app)``;
this module assembles them (on first use, so that ``main`` guards the imports too) and
turns every way a run can end badly into one line on stderr and an exit status:

* :class:`hw.errors.ScnnError` (bad input, broken hardware rule): ``error: ...``, 2;
* a usage error (unknown option, bad or missing value, as click reports it):
  ``error: ... (usage: scnn CMD [OPTIONS] ARGS; see scnn CMD --help)``, 2;
* Ctrl-C (at any point, the imports included): ``interrupted``, 130;
* SIGTERM: ``terminated``, 143.

Outputs are written atomically (``sim.atomic``), so an interrupted run leaves none.
"""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported inside the boundary, so that Ctrl-C there is handled too
    import click
    import typer

COMMANDS = ("data", "run", "train", "convert", "export", "sim", "profile", "report",
            "nir_import", "sweep", "stream")
_APP: typer.Typer | None = None


class Interrupted(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM, raised in the main thread so that ``finally`` blocks
    clean up; not a KeyboardInterrupt, which typer would turn into a quiet return."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def _interrupted(signum: int) -> None:
    term = signum == signal.SIGTERM
    print("terminated" if term else "interrupted", file=sys.stderr)
    sys.exit(143 if term else 130)


def get_app() -> typer.Typer:
    """The Typer app with every sub-command registered (built once)."""
    global _APP
    if _APP is None:
        import importlib

        import typer

        app = typer.Typer(
            help=(
                "scnn: spiking CNNs for audio, from training to bit-exact Loihi fixed point."
                "\n\nData flow: WAV -> features -> SNN -> Loihi fixed point -> NetX/NIR -> "
                "bit-exact simulation -> profile and report."
            ),
            no_args_is_help=True,
            add_completion=False,
            pretty_exceptions_enable=False,
        )
        for name in COMMANDS:
            importlib.import_module(f"scnn.commands.{name}").register(app)
        _APP = app
    return _APP


def __getattr__(name: str) -> object:
    if name == "app":  # ``from scnn.cli import app`` (tests, embedding)
        return get_app()
    raise AttributeError(name)


def _click_classes(name: str) -> tuple[type, ...]:
    """click's exception class ``name`` and the copy typer >= 0.2x vendors (``typer._click``:
    a new typer already changed which exceptions reach this boundary; both are caught)."""
    import click

    classes = [getattr(click.exceptions, name, None)]
    try:
        from typer._click import exceptions as vendored

        classes.append(getattr(vendored, name, None))
    except ImportError:
        pass
    return tuple(c for c in classes if c is not None)




def _command_context(argv: list[str]) -> object | None:
    """A click context of the sub-command named in ``argv`` (for errors raised without one,
    such as an option missing its value), or of the top-level command."""
    import typer.main

    top = typer.main.get_command(get_app())
    root = top.context_class(top, info_name="scnn")
    sub = top.get_command(root, argv[0]) if argv else None
    return sub.context_class(sub, info_name=argv[0], parent=root) if sub else root


def _usage(err: click.UsageError) -> str:
    """``error: <message> (usage: ...; see ... --help)``: click's own text on one line."""
    ctx = err.ctx or _command_context(sys.argv[1:])
    usage = " ".join(ctx.get_usage().split())
    usage = usage[len("Usage: "):] if usage.startswith("Usage: ") else usage
    return f"error: {err.format_message()} (usage: {usage}; see {ctx.command_path} --help)"


def main() -> None:
    """Entry point: run the app; every failure is one line and a non-zero status."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    try:
        import typer

        from scnn.hw.errors import ScnnError

        no_args = _click_classes("NoArgsIsHelpError")  # a UsageError asking for the help
        usage_error = _click_classes("UsageError")
        exit_ = (*_click_classes("Exit"), typer.Exit)
        abort = (*_click_classes("Abort"), typer.Abort)
        try:
            code = get_app()(standalone_mode=False, prog_name="scnn")
            if code == 130:  # typer's non-standalone return for a KeyboardInterrupt
                raise KeyboardInterrupt
            if isinstance(code, int) and code:
                sys.exit(code)
        except ScnnError as err:
            typer.echo(f"error: {err}", err=True)
            sys.exit(2)
        except no_args as err:
            typer.echo(err.ctx.get_help() if err.ctx else str(err))
            sys.exit(0)
        except usage_error as err:
            typer.echo(_usage(err), err=True)
            sys.exit(2)
        except exit_ as ex:
            sys.exit(getattr(ex, "exit_code", 0))
        except abort:  # click's Ctrl-C or EOF at a prompt
            raise KeyboardInterrupt from None
    except KeyboardInterrupt:  # a library restored the default handler
        _interrupted(signal.SIGINT)
    except Interrupted as sig:
        _interrupted(sig.signum)
