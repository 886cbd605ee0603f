"""Progress signals in an agent's commit subjects (REQ-5.03): chain ids and ``P0:``.

Prompts teach agents to start a commit subject with the chain's id and a P0 commit with ``P0:``.
After each session the engine reads the subjects of the agent's branch: a subject naming a chain
(by chain id or task id) is the agent's claim that the chain's work is committed, recorded as a
``chain_state`` COMPLETE claim with ``source: commit`` (kept apart from the tool's verified
states, like ``dispatch chain``); a subject starting with ``P0:`` is recorded as a P0 discovery.
A claim never overrides one the agent made itself (PARKED, BLOCKED, COMPLETE), and each P0 commit
is recorded once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from agent_dispatch import git
from agent_dispatch.engine.gates import SETTLED_STATES
from agent_dispatch.engine.runtime import Runtime
from agent_dispatch.prompts.chains import task_ids
from agent_dispatch.prompts.reporting import P0_PREFIX
from agent_dispatch.store.events import WORKING_CHAIN_STATES, EventType

COMMIT_SOURCE = "commit"


@dataclass(frozen=True)
class SubjectSignals:
    """What one commit subject says: the chains it names, and its P0 description when it is one."""

    chains: tuple[str, ...]
    p0: str | None


def parse_subject(subject: str, names: Mapping[str, str]) -> SubjectSignals:
    """The signals in ``subject``; ``names`` maps every chain id and task id to its chain id.
    A name counts as a whole token ("chain-1" is not in "chain-10")."""
    chains = [chain for name, chain in names.items()
              if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", subject)]
    text = subject.strip()
    p0 = text[len(P0_PREFIX):].strip() or text if text.startswith(P0_PREFIX) else None
    return SubjectSignals(tuple(dict.fromkeys(chains)), p0)


def record_commit_signals(rt: Runtime, name: str) -> None:
    """Record the chain claims and P0s in the subjects of agent ``name``'s commits (base..HEAD)."""
    agent, ctx = rt.agent(name)
    commits = git.commit_subjects(ctx.worktree, rt.plan.sprint.base_branch, "HEAD")
    if not commits:
        return
    names = {c.id: c.id for c in agent.chains}
    names.update({task: chain for chain, task in task_ids(ctx.letter, agent.chains).items()})
    progress = rt.state().agents[name]
    claimed = dict(progress.claimed)
    seen = {e.data.get("commit") for e in rt.log.read(types=[EventType.P0_DISCOVERED]) if e.agent == name}
    for sha, subject in commits:
        signals = parse_subject(subject, names)
        if signals.p0 is not None and sha not in seen:
            rt.record(EventType.P0_DISCOVERED, agent=name, description=signals.p0, commit=sha, source=COMMIT_SOURCE)
            seen.add(sha)
        for chain in signals.chains:
            open_claim = claimed.get(chain) is None or claimed[chain] in WORKING_CHAIN_STATES
            if open_claim and progress.chain_state.get(chain) not in SETTLED_STATES:
                rt.record(EventType.CHAIN_STATE, agent=name, chain=chain, state="COMPLETE", source=COMMIT_SOURCE,
                          commit=sha)
                claimed[chain] = "COMPLETE"
