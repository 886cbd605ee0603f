"""The ``dispatch`` command line: thin typer wiring over the functions in ``commands/``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from agent_dispatch import __version__
from agent_dispatch.error_handler import Exit, error_handler

app = typer.Typer(
    name="dispatch",
    help="Run a team of AI coding agents in parallel on one git repository and land their work safely.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PlanArg = Annotated[Path, typer.Argument(help="Path to the sprint plan (dispatch.yaml).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RepoOpt = Annotated[
    Optional[Path],
    typer.Option("--repo", help="Repository root (default: the repository containing the plan)."),
]


def _run(fn, *args, **kwargs) -> None:
    try:
        with error_handler():
            code = fn(*args, **kwargs)
    except Exit as e:
        raise typer.Exit(e.code) from None
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dispatch {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Run a team of AI coding agents in parallel on one git repository and land their work safely."""


@app.command()
def validate(plan: PlanArg, repo: RepoOpt = None, json: JsonOpt = False) -> None:
    """Check a sprint plan: schema, waves, merge order, territory overlap, trace quality.

    Every problem is printed as path:line:col: field: message. Exit code 2 when the plan has errors.
    """
    from agent_dispatch.commands.validate import validate_plan

    _run(validate_plan, plan, repo=repo, as_json=json)


def main() -> None:
    """Console-script entry point."""
    app()
