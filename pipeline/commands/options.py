"""Typer options shared by several commands (Ray parallelism)."""

from __future__ import annotations

import typer

WORKERS_OPTION = typer.Option(1, "--workers", help="Ray tasks over shards of the clips "
                              "(1: one process, no Ray); results are identical.")
ADDRESS_OPTION = typer.Option(None, "--address", help="An existing Ray cluster (ray://HOST:"
                              "10001, or auto on a cluster node); default: a local Ray.")
