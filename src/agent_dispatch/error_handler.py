"""Turn the outcome of a command into an exit code: FatalError → its code, bug → 3, Ctrl-C → 130."""

from __future__ import annotations

import contextlib
import platform
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path

from agent_dispatch import __version__, output
from agent_dispatch.errors import FatalError, PlanError
from agent_dispatch.redact import redact


class Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


def _crash_log(exc: BaseException) -> Path:
    log = Path(tempfile.gettempdir()) / "agent-dispatch-crash.log"
    # An exception's message, a local in the traceback or argv may hold a key from the environment.
    log.write_text(redact(
        f"# agent-dispatch crash\n\n- version: {__version__}\n- python: {sys.version.split()[0]}\n"
        f"- platform: {platform.platform()}\n- argv: {sys.argv!r}\n\n```\n"
        + "".join(traceback.format_exception(exc))
        + "```\n"),
        encoding="utf-8",
    )
    return log


@contextlib.contextmanager
def error_handler() -> Iterator[None]:
    """Map exceptions escaping a command to messages and exit codes (raised as :class:`Exit`)."""
    try:
        yield
    except PlanError as e:
        for problem in e.problems:
            output.write_err(str(problem))
        errors = sum(p.severity == "error" for p in e.problems)
        output.write_err(f"{errors} error(s) in plan")
        raise Exit(e.exit_code) from None
    except FatalError as e:
        output.write_err(f"error: {e}")
        raise Exit(e.exit_code) from None
    except KeyboardInterrupt:
        output.write_err("interrupted")
        raise Exit(130) from None
    except Exception as e:  # noqa: BLE001 - last line of defence
        log = _crash_log(e)
        output.write_err(redact(f"internal error: {type(e).__name__}: {e}\nA crash log was written to {log}"))
        raise Exit(3) from None
