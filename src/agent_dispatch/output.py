"""The one choke point for terminal output."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
if not console.is_terminal:
    console.width = max(console.width, 140)  # tables piped to files or CI logs stay readable


def write(text: str = "") -> None:
    """Print plain text (no markup interpretation, no wrapping) to stdout."""
    console.print(text, markup=False, soft_wrap=True)


def write_err(text: str) -> None:
    """Print plain text to stderr."""
    err_console.print(text, markup=False)


def write_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (machine-readable output of ``--json``)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def write_json_line(data: Any) -> None:
    """Print ``data`` as one compact JSON line (streams such as ``events --follow --json``)."""
    sys.stdout.write(json.dumps(data, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()
