"""The one place that starts short-lived subprocesses (agents go through executors)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class CalledProcessError(RuntimeError):
    """A command exited non-zero while ``check=True``; ``str()`` shows everything."""

    def __init__(self, result: Result) -> None:
        self.result = result
        super().__init__(result)

    def __str__(self) -> str:
        def block(text: str) -> str:
            text = text.rstrip()
            return "\n".join("    " + line for line in text.splitlines()) if text else "    (none)"

        r = self.result
        return (
            f"command: {list(r.argv)!r}\nreturn code: {r.returncode}\n"
            f"stdout:\n{block(r.stdout)}\nstderr:\n{block(r.stderr)}"
        )


def run(
    *argv: str,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float | None = None,
    input: str | None = None,
) -> Result:
    """Run ``argv`` (never through a shell) and capture text output.

    A missing executable becomes a result with return code 127 rather than an ``OSError``.
    """
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        result = Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    except FileNotFoundError as e:
        result = Result(tuple(argv), 127, "", f"executable not found: {e.filename}")
    if check and not result.ok:
        raise CalledProcessError(result)
    return result


def run_shell_command(
    command: str,
    *,
    cwd: str | Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Result:
    """Run a plan's build/test/verify command (operator-authored text) with ``bash -c``.

    Only commands the operator wrote in the plan go through here; agent or chain text never does.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    try:
        return run("bash", "-c", command, cwd=cwd, env=full_env, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return Result(("bash", "-c", command), 124, out, err + f"\ntimed out after {timeout}s")

