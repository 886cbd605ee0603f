"""Chain helpers shared by prompts and task docs: execution order, task ids, files named.

All functions are pure: they look only at the chains of one agent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent_dispatch.plan.model import Chain
from agent_dispatch.plan.territory import parse_pattern

_SOURCE_EXTENSIONS = frozenset(
    "py pyi js jsx ts tsx mjs cjs go rs rb java kt kts php c h cc cpp hpp cs swift scala ex exs "
    "erl dart lua sql sh bash md rst txt yaml yml json toml ini cfg conf lock mod sum html css "
    "scss sass less vue svelte proto graphql tf xml gradle".split()
)
_TOKEN = re.compile(r"[\w./*-]+")


def ordered_chains(chains: Sequence[Chain]) -> list[Chain]:
    """Chains in execution order: P0 → P1 → P2 → P3, keeping plan order within a priority."""
    return sorted(chains, key=lambda c: c.priority)


def task_ids(letter: str, chains: Sequence[Chain]) -> dict[str, str]:
    """Task id (``F-01``) per chain id, numbered in execution order (REQ-1.16)."""
    return {c.id: f"{letter}-{n:02d}" for n, c in enumerate(ordered_chains(chains), start=1)}


def chain_waves(chains: Sequence[Chain]) -> list[list[Chain]]:
    """Agent-internal waves: chains with no unmet dependency first, then their dependants...

    Unknown or cyclic dependencies (the validator reports those) never block a chain forever:
    whatever is left when no progress is possible goes into one last wave.
    """
    pending = ordered_chains(chains)
    known = {c.id for c in chains}
    done: set[str] = set()
    waves: list[list[Chain]] = []
    while pending:
        ready = [c for c in pending if all(d in done or d not in known for d in c.depends_on)]
        ready = ready or pending
        waves.append(ready)
        done |= {c.id for c in ready}
        pending = [c for c in pending if c.id not in done]
    return waves


def path_tokens(text: str) -> list[str]:
    """File-like tokens in ``text``: contain a ``/`` or end in a known source extension.

    ``"bookshop/store.py Inventory.remove()"`` → ``["bookshop/store.py"]``; call-like tokens such
    as ``api.sell()`` and ``Class.method`` are not files.
    """
    found: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0).strip(".-")
        end = match.end()
        if not token or text[end : end + 1] == "(":
            continue
        suffix = token.rsplit(".", 1)[1].lower() if "." in token.rsplit("/", 1)[-1] else ""
        if ("/" in token or suffix in _SOURCE_EXTENSIONS) and token not in found:
            found.append(token)
    return found


def fix_site_files(chain: Chain) -> set[str]:
    """The files a chain's ``fix_site`` names (an annotation such as ``(CREATE)`` is dropped)."""
    return set(path_tokens(parse_pattern(chain.fix_site).pattern))


def chain_files(chain: Chain) -> list[str]:
    """Files named by a chain's fix site, then its vector, without duplicates."""
    files = sorted(fix_site_files(chain))
    return files + [f for f in path_tokens(chain.vector) if f not in files]
