"""Confining a session's writes with bubblewrap (``bwrap``), inside the PID-namespace containment.

The local executor runs ``_nsinit.py`` as the namespace's PID 1, outside the sandbox (it writes
the exit status next to the session log, which the session itself may not touch), and ``_nsinit``
starts the agent through ``bwrap``::

    unshare --pid ... -- python _nsinit.py pidns STATUS -- bwrap <mounts> -- ARGV

``bwrap`` shares the PID namespace (``_nsinit``'s stop signals reach every process in it, and
the kernel still kills them all when ``_nsinit`` exits) and the network namespace (loopback, so a
local model server stays reachable); it only gives the session its own mount namespace: the whole
file system read-only, a fresh ``/dev`` and ``/proc``, an empty private ``/tmp``, and read-write
bind mounts of exactly the paths in `Sandbox.writable`.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

from agent_dispatch import proc
from agent_dispatch.executors.base import Sandbox

PRIVATE_TMP = "/tmp"


@functools.cache
def bwrap_problem() -> str | None:
    """None when ``bwrap`` can build a session's sandbox here, else why not (once per process).

    Tried for real with the mounts every session gets: an installed ``bwrap`` may still be unable
    to create its namespaces (no user namespaces for a non-root user, a seccomp policy).
    """
    if not sys.platform.startswith("linux"):
        return "bubblewrap sandboxes need Linux"
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        probe = proc.run(*bwrap_argv(Sandbox(writable=()), ["true"], bwrap=exe), check=False, timeout=20)
    except subprocess.TimeoutExpired:
        return "bwrap did not answer within 20 s"
    if not probe.ok:
        said = (probe.stderr or probe.stdout).strip().splitlines()
        return f"bwrap cannot create its namespaces here: {said[-1] if said else f'exit {probe.returncode}'}"
    return None


def _under(path: str, parent: str) -> bool:
    return PurePosixPath(path).is_relative_to(parent)


def bwrap_argv(sandbox: Sandbox, argv: list[str], *, bwrap: str = "bwrap") -> list[str]:
    """``argv`` run inside ``sandbox``: read-only root, private ``/tmp``, the writable paths bound.

    Mounts are laid parent before child (a writable ``.git/objects`` inside a visible checkout
    under ``/tmp`` comes after the checkout, a protected file after its writable directory). A
    visible path outside ``/tmp`` is readable already, and one inside a writable path is
    writable with it: neither gets a mount of its own.
    """
    mounts: dict[str, str] = {}
    for path in sandbox.visible:
        # One mount per tree: a second one inside it would need a mount point in a read-only
        # directory (and a symlink there, e.g. a venv's python, cannot be one).
        covered = [*sandbox.writable, *(p for p in sandbox.visible if p != path)]
        if (_under(path, PRIVATE_TMP) and not any(_under(path, c) for c in covered)
                and Path(path).exists()):
            mounts[path] = "--ro-bind"
    for path in sandbox.writable:
        mounts[path] = "--bind"
    for path in sandbox.protected:
        if Path(path).exists():
            mounts[path] = "--ro-bind"
    ordered = sorted(mounts.items(), key=lambda item: (len(PurePosixPath(item[0]).parts), item[0]))
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", PRIVATE_TMP]
    for path, flag in ordered:
        args += [flag, path, path]
    return [*args, "--die-with-parent", "--", *argv]
