"""The merge train: land many agent branches with as few validation runs as the failures allow.

Modes (see docs/merge-train.md):
- ``serial``: the seed's procedure, merge then build + test, one branch at a time (N runs).
- ``strict``: every merge validated, speculating ahead on P slots: the next P prefixes are tested
  at once, each assuming the ones before it pass (Zuul's dependent pipeline).
- ``batch`` (default): validate the tip of the whole chain; on failure, search the prefix chain for
  the first failing prefix (P slots → a (P+1)-ary search), drop that culprit, re-chain the rest on
  the last good prefix and validate the new tip (bors-style batching with bisection).
Semantic conflicts are found by validation; textual ones by the chain builder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agent_dispatch.merge.chain import Candidate, Chain, Link, build_chain
from agent_dispatch.merge.validation import Validation, ValidationPool
from agent_dispatch.store.events import EventType

Mode = Literal["batch", "strict", "serial"]
Record = Callable[[EventType, dict[str, Any]], object]


@dataclass
class TrainResult:
    start: str
    tip: str  # last validated commit of the chain (== start when nothing was accepted)
    accepted: list[Link] = field(default_factory=list)
    culprits: dict[str, Validation] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    resolved: dict[str, list[str]] = field(default_factory=dict)
    already: list[str] = field(default_factory=list)
    passed: set[str] = field(default_factory=set)  # commits whose own validation run passed
    runs: int = 0
    rounds: int = 0


class Train:
    def __init__(self, root: str, pool: ValidationPool, *, sprint: str, record: Record | None = None) -> None:
        self.root, self.pool, self.sprint = root, pool, sprint
        self.record = record or (lambda type_, data: None)
        self.result: TrainResult | None = None

    def _chain(self, start: str, candidates: Sequence[Candidate]) -> list[Link]:
        chain: Chain = build_chain(self.root, start, candidates, sprint=self.sprint)
        assert self.result is not None
        self.result.conflicts.update(chain.conflicts)
        self.result.resolved.update(chain.resolved)
        self.result.already += chain.already
        for agent, files in chain.conflicts.items():
            self.record(EventType.MERGE_STEP, {"agent": agent, "ok": False, "conflicts": files})
        return chain.links

    def _round(self, links: Sequence[Link]) -> list[Validation]:
        assert self.result is not None
        results = self.pool.validate([link.commit for link in links])
        self.result.rounds += 1
        self.result.runs += len(results)
        for link, validation in zip(links, results):
            if validation.ok:
                self.result.passed.add(link.commit)
            self.record(EventType.MERGE_VALIDATION, {"agent": link.candidate.agent, "commit": link.commit,
                                             "ok": validation.ok,
                                             "checks": [c.as_data() for c in validation.checks]})
        return results

    def _accept(self, links: Sequence[Link]) -> None:
        assert self.result is not None
        for link in links:
            self.result.accepted.append(link)
            self.result.tip = link.commit
            self.record(EventType.MERGE_STEP, {"agent": link.candidate.agent, "ok": True, "commit": link.commit,
                                       "resolved": self.result.resolved.get(link.candidate.agent, [])})

    def _reject(self, link: Link, validation: Validation) -> None:
        assert self.result is not None
        self.result.culprits[link.candidate.agent] = validation
        self.record(EventType.MERGE_STEP, {"agent": link.candidate.agent, "ok": False, "culprit": True,
                                   "commit": link.commit, "checks": [c.as_data() for c in validation.checks]})

    def run(self, start: str, candidates: Sequence[Candidate], mode: Mode = "batch") -> TrainResult:
        """Run the train from commit ``start`` (assumed good: the current base) over ``candidates``."""
        self.result = TrainResult(start=start, tip=start)
        links = self._chain(start, candidates)
        if mode == "batch":
            self._batch(links)
        else:
            self._strict(links, 1 if mode == "serial" else self.pool.slots)
        return self.result

    def _strict(self, links: list[Link], slots: int) -> None:
        while links:
            window = links[:slots]
            results = self._round(window)
            failed = next((i for i, v in enumerate(results) if not v.ok), None)
            if failed is None:
                self._accept(window)
                links = links[slots:]
                continue
            self._accept(window[:failed])
            self._reject(window[failed], results[failed])
            rest = [link.candidate for link in links[failed + 1:]]
            links = self._chain(self._tip(), rest)  # speculation past the culprit is void

    def _batch(self, links: list[Link]) -> None:
        while links:
            tip = self._round([links[-1]])[0]
            if tip.ok:
                self._accept(links)
                return
            good, bad, bad_validation = -1, len(links) - 1, tip
            while bad - good > 1:
                probes = self._probes(good, bad)
                results = self._round([links[i] for i in probes])
                for index, validation in zip(probes, results):
                    if validation.ok:
                        good = max(good, index)
                    elif index < bad:
                        bad, bad_validation = index, validation
                good = min(good, bad - 1) if good >= bad else good
            self._accept(links[: bad])
            self._reject(links[bad], bad_validation)
            links = self._chain(self._tip(), [link.candidate for link in links[bad + 1:]])

    def _tip(self) -> str:
        assert self.result is not None
        return self.result.tip

    def _probes(self, good: int, bad: int) -> list[int]:
        """Up to P evenly spaced prefix indexes strictly between ``good`` and ``bad``."""
        span = bad - good
        count = min(self.pool.slots, span - 1)
        return sorted({good + (span * k) // (count + 1) for k in range(1, count + 1)})
