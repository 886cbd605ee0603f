"""A scripted `command` agent for the bookshop demo: it really edits code, commits, reports chain
progress with ``dispatch chain`` and writes its completion report, like a real agent would.

Run by the engine as ``python -m agent_dispatch.testing.demo_agent`` in the agent's worktree, with
the DISPATCH_* environment. The SERVICES agent gets its first fix wrong on purpose, so the demo
shows verification failing and the tier-1 retry message fixing it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from agent_dispatch import git


def _edit(path: str, old: str, new: str) -> None:
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if old not in text:
        if new in text:
            return  # already applied by an earlier session
        raise SystemExit(f"demo agent: cannot find the code to change in {path}")
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def _chain(chain_id: str, state: str) -> None:
    subprocess.run([sys.executable, "-m", "agent_dispatch", "chain", chain_id, state], check=False)


def _commit(message: str) -> None:
    git.commit_all(Path.cwd(), message, run_hooks=True)  # like an agent: through the territory hook


def data() -> list[str]:
    _edit("bookshop/store.py",
          "        self.get(isbn)\n        self._stock[isbn] = self._stock[isbn] - copies\n",
          "        self.get(isbn)\n        if copies < 1:\n            raise ValueError(\"copies must be at least 1\")\n"
          "        if self._stock[isbn] < copies:\n"
          "            raise OutOfStock(f\"{isbn}: {self._stock[isbn]} on the shelf, {copies} asked\")\n"
          "        self._stock[isbn] -= copies\n")
    return ["bookshop/store.py"]


def services() -> list[str]:
    if int(os.environ.get("DISPATCH_ATTEMPT", "1")) == 1:
        # First attempt: drops the float conversion but forgets to round to cents.
        _edit("bookshop/pricing.py", "    return Decimal(float(price) * (100 - percent) / 100)\n",
              "    return price * (100 - percent) / 100\n")
    else:
        _edit("bookshop/pricing.py", "from decimal import Decimal\n",
              "from decimal import ROUND_HALF_UP, Decimal\n")
        for old in ("    return price * (100 - percent) / 100\n",
                    "    return Decimal(float(price) * (100 - percent) / 100)\n"):
            _edit_if_present("bookshop/pricing.py", old,
                             "    exact = price * (100 - percent) / 100\n"
                             "    return exact.quantize(Decimal(\"0.01\"), rounding=ROUND_HALF_UP)\n")
    return ["bookshop/pricing.py"]


def _edit_if_present(path: str, old: str, new: str) -> None:
    if old in Path(path).read_text(encoding="utf-8"):
        _edit(path, old, new)


def backend() -> list[str]:
    _edit("bookshop/api.py", "    book = inventory.get(isbn)\n",
          "    if quantity < 1:\n        raise ValueError(\"quantity must be at least 1\")\n"
          "    book = inventory.get(isbn)\n")
    return ["bookshop/api.py"]


def frontend() -> list[str]:
    _edit("bookshop/cli.py", "def main() -> None:\n    print(render_report(stock_report(demo_inventory())))\n",
          "def main() -> None:\n    inventory = demo_inventory()\n"
          "    rows = [(f\"{b.title}\", inventory.count(b.isbn)) for b in inventory.books()]\n"
          "    prices = {b.title: b.price for b in inventory.books()}\n"
          "    print(\"\\n\".join(f\"{t}: {c} @ {prices[t]}\" for t, c in rows))\n")
    return ["bookshop/cli.py"]


def qa() -> list[str]:
    Path("tests/test_guards.py").write_text(
        "import unittest\nfrom decimal import Decimal\n\n"
        "from bookshop.models import Book\nfrom bookshop.pricing import apply_discount\n"
        "from bookshop.store import Inventory\n\n\n"
        "class GuardTest(unittest.TestCase):\n"
        "    def test_add_needs_a_copy(self):\n"
        "        with self.assertRaises(ValueError):\n"
        "            Inventory().add(Book(\"1\", \"Dune\", \"F. Herbert\", Decimal(\"1\")), copies=0)\n\n"
        "    def test_discount_bounds(self):\n"
        "        with self.assertRaises(ValueError):\n"
        "            apply_discount(Decimal(\"1\"), 101)\n\n"
        "    def test_zero_discount_keeps_price(self):\n"
        "        self.assertEqual(apply_discount(Decimal(\"4\"), 0), Decimal(\"4\"))\n",
        encoding="utf-8",
    )
    return ["tests/test_guards.py"]


def lead() -> list[str]:
    _edit("CHANGELOG.md", "## Unreleased\n",
          "## Unreleased\n\n- Overselling raises OutOfStock; sell() rejects quantities below 1.\n"
          "- Discounts are exact to the cent.\n- The stock report shows prices.\n")
    return ["CHANGELOG.md"]


# Test-only, off unless set: "<agent>:<marker name>" makes that agent's first session stop after its
# edits, before committing them, write the marker and wait, so a crash test can kill the session
# while it holds uncommitted work (tests/test_kill_points.py). The marker goes into the worktree's
# own git directory: writable in the sandbox, and no part of the agent's work.
HOLD_ENV = "DEMO_AGENT_HOLD"  # not DISPATCH_*: sessions do not inherit those (pass it: DISPATCH_SESSION_ENV)


def _hold_if_asked(agent: str) -> None:
    who, _, marker = os.environ.get(HOLD_ENV, "").partition(":")
    if who != agent or not marker or os.environ.get("DISPATCH_ATTEMPT", "1") != "1":
        return
    (git.worktree_git_dir(Path.cwd()) / marker).write_text("holding uncommitted edits\n", encoding="utf-8")
    time.sleep(300)  # the test kills the session long before this ends


WORK = {"data": data, "services": services, "backend": backend, "frontend": frontend, "qa": qa, "lead": lead}


def _report(files: list[str], chains: list[str]) -> str:
    agent, sprint = os.environ["DISPATCH_AGENT"], os.environ["DISPATCH_SPRINT"]
    rows = "\n".join(f"| {c} | {agent} fix | P1 | COMPLETE | {len(files)} |" for c in chains) or "| — | — | — | — | — |"
    modified = "\n".join(f"MODIFIED  {f}" for f in files)
    return (
        f"# Agent {agent.upper()} — {os.environ['DISPATCH_ROLE']}: Sprint {sprint} Completion Report\n\n"
        f"Branch: {os.environ['DISPATCH_BRANCH']}\nDate: {date.today().isoformat()}\nStatus: COMPLETE\n\n"
        f"## Summary\nScripted demo agent {agent} applied its planned change and verified it.\n\n"
        "## Tasks Completed\n| Task ID | Title | Priority | Status | Files Changed |\n|---|---|---|---|---|\n"
        f"{rows}\n\n## P0 Discoveries\nNone discovered.\n\n## Issues for Other Agents\nNone.\n\n"
        f"## Files Modified\n{modified}\n\n## Verification Results\n- Build: PASS\n- Tests: PASS\n"
        "- Territory: All modified files are within declared territory: YES\n"
    )


def main() -> int:
    agent = os.environ["DISPATCH_AGENT"]
    prompt = Path(os.environ["DISPATCH_PROMPT_FILE"]).read_text(encoding="utf-8")
    chains = list(dict.fromkeys(re.findall(r"^Chain (\S+) \[P\d\]:", prompt, re.M)))
    work = WORK.get(agent)
    if work is None:
        print(f"demo agent: nothing scripted for {agent!r}", file=sys.stderr)
        return 1
    message = os.environ.get("DISPATCH_MESSAGE_FILE")
    if message:
        print(f"demo agent {agent}: follow-up session, message:\n{Path(message).read_text(encoding='utf-8')}")
    for chain in chains:
        _chain(chain, "FIXING")
    files = work()
    _hold_if_asked(agent)
    _commit(f"fix: {agent} — scripted demo change (attempt {os.environ.get('DISPATCH_ATTEMPT', '1')})")
    for chain in chains:
        _chain(chain, "VERIFYING")
    report = Path(os.environ["DISPATCH_REPORT_PATH"])
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(_report(files, chains), encoding="utf-8")
    _commit(f"docs: {agent} completion report")
    print(f"demo agent {agent}: done, changed {', '.join(files)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
