"""Run a command with no network but loopback: a fresh network namespace with only ``lo`` up.

    argv = loopback_only_argv(["claude", "-p", "hi"])
    subprocess.run(argv)  # unshare -n -- python -m agent_dispatch.testing.netns --exec -- claude

Inside, connections to anything but 127.0.0.1/::1 fail at once (no route), so an agent CLI
pointed at a fake model server on loopback cannot reach the internet, however it is configured.
The namespace lives as long as the command: a server it needs must start inside it too.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import socket
import struct
import subprocess
import sys

_IP_CANDIDATES = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def _unshare_prefix() -> list[str]:
    # Root can make a network namespace directly; anyone else needs a user namespace too, and
    # --map-current-user keeps their uid (a CLI that refuses to run as root stays happy).
    if os.geteuid() == 0:
        return ["unshare", "-n"]
    return ["unshare", "--map-current-user", "-n"]


def loopback_only_argv(argv: list[str]) -> list[str]:
    """An argv that runs ``argv`` in a new network namespace where only loopback is up."""
    if not argv:
        raise ValueError("loopback_only_argv needs a command")
    return [*_unshare_prefix(), "--", sys.executable, "-m", "agent_dispatch.testing.netns",
            "--exec", "--", *argv]


@functools.cache
def netns_available() -> bool:
    """True when this process can create a loopback-only network namespace here."""
    if shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(loopback_only_argv([sys.executable, "-c", "pass"]),
                               check=False, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def bring_loopback_up() -> None:
    """Set ``lo`` up in the current namespace: with ``ip`` when present, else one ioctl."""
    for ip in _IP_CANDIDATES:
        if os.access(ip, os.X_OK):
            subprocess.run([ip, "link", "set", "lo", "up"], check=True)
            return
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def main(argv: list[str]) -> int:
    """``--exec -- CMD...``: bring loopback up, then replace this process with CMD."""
    if len(argv) < 3 or argv[:2] != ["--exec", "--"]:
        print("usage: python -m agent_dispatch.testing.netns --exec -- CMD [ARGS...]",
              file=sys.stderr)
        return 2
    bring_loopback_up()
    command = argv[2:]
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        print(f"netns: cannot run {command[0]}: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
