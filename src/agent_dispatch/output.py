"""The one choke point for terminal output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def write(text: str = "") -> None:
    """Print plain text (no markup interpretation) to stdout."""
    console.print(text, markup=False)


def write_err(text: str) -> None:
    """Print plain text to stderr."""
    err_console.print(text, markup=False)


def write_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (machine-readable output of ``--json``)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()
