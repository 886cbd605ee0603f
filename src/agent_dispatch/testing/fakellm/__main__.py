"""``python -m agent_dispatch.testing.fakellm --scenario F [--log F] [--port N]``.

Prints ``listening http://127.0.0.1:PORT`` once bound, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from .scenario import ScenarioError
from .server import FakeModelServer


def main(argv: list[str] | None = None) -> int:
    """Run the fake model server in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m agent_dispatch.testing.fakellm",
                                     description="Scripted fake model server (loopback only).")
    parser.add_argument("--scenario", type=Path, required=True, help="scenario JSON file")
    parser.add_argument("--log", type=Path, help="append one JSON line per request here")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1, ::1 or localhost")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server = FakeModelServer(args.scenario, args.log, args.host, args.port).start()
    except (ScenarioError, ValueError, OSError) as exc:
        print(f"fakellm: {exc}", file=sys.stderr)
        return 2
    print(f"listening {server.url}", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
