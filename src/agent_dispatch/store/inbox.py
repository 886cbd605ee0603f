"""Agents' claims waiting to be appended: the channel from a session that cannot write the log.

Under the sandbox an agent session cannot write ``.dispatch/<sprint>/`` (``events.db`` included).
Its ``dispatch chain`` / ``dispatch p0`` then post the claim as one JSON file in the agent's own
inbox (``DISPATCH_INBOX``: ``.dispatch/<sprint>/inbox/<agent>/``, the one place there a session may
write), and the orchestrator appends it to the log (`ingest`) while the session runs and when it
ends: attributed to the inbox's agent whatever the file says, only claim types, each file once.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_dispatch.files import write_atomic
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog

INBOX_VAR = "DISPATCH_INBOX"
INBOX_DIRNAME = "inbox"
# What a session may leave for the orchestrator: its claims, and its territory hooks' refusals.
CLAIM_TYPES = frozenset({EventType.CHAIN_STATE, EventType.P0_DISCOVERED, EventType.TERRITORY_REJECTED})
REJECTED_SUFFIX = ".rejected"


def inbox_dir(state_dir: Path, agent: str) -> Path:
    """The inbox of ``agent`` in the sprint's state directory ``.dispatch/<sprint>/``."""
    return state_dir / INBOX_DIRNAME / agent


def post_claim(inbox: Path, type: EventType, *, chain: str | None, data: Mapping[str, Any]) -> Path:
    """Leave one claim in ``inbox`` for the orchestrator (written atomically: a reader never sees
    half a file); returns its path. Names sort by time, so claims are appended in order."""
    if type not in CLAIM_TYPES:
        raise ValueError(f"{type.value} is not an agent's claim")
    path = inbox / f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.json"
    write_atomic(path, json.dumps({"type": type.value, "chain": chain, "data": dict(data)}) + "\n")
    return path


def _ingested_ids(log: EventLog) -> set[str]:
    return {str(e.data["claim"]) for e in log.read(types=sorted(CLAIM_TYPES)) if "claim" in e.data}


def ingest(log: EventLog, state_dir: Path, agent: str | None = None) -> int:
    """Append the claims waiting in the inboxes (``agent``'s only, or every agent's) to ``log``,
    oldest first, and remove their files; returns how many were appended.

    A file that is no valid claim is renamed ``*.rejected`` (kept for the operator, never retried).
    A claim already in the log (the orchestrator died between appending and removing) is not
    appended twice: each event carries its file's name as ``claim``.
    """
    root = state_dir / INBOX_DIRNAME
    inboxes = [root / agent] if agent else sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    files = [(box.name, path) for box in inboxes if box.is_dir() for path in sorted(box.glob("[0-9]*.json"))]
    if not files:
        return 0
    seen = _ingested_ids(log)
    appended = 0
    for owner, path in files:
        if path.stem in seen:
            path.unlink(missing_ok=True)
            continue
        try:
            claim = json.loads(path.read_text(encoding="utf-8"))
            type = EventType(claim["type"])
            if type not in CLAIM_TYPES or not isinstance(claim.get("data"), dict):
                raise ValueError(f"not a claim: {claim.get('type')!r}")
            data = {**claim["data"], "claim": path.stem}
            if type is EventType.CHAIN_STATE:
                data["source"] = "agent"  # a claim, never a tool-verified state
            chain = claim.get("chain")
            log.append(type, agent=owner, chain=str(chain) if chain else None, data=data)
        except (OSError, ValueError, KeyError, TypeError):
            path.replace(path.with_name(path.name + REJECTED_SUFFIX))
            continue
        path.unlink(missing_ok=True)
        appended += 1
    return appended
