"""The operator's message to an agent, delivered by the engine when the agent's next session starts.

The message is queued exactly like the engine's own follow-ups (`engine/agent_loop.py`): a file
``.dispatch/<sprint>/messages/<agent>-<attempt>-operator.md`` and a ``message_queued`` event with
kind ``operator``. The engine starts the agent's next session with it (``DISPATCH_MESSAGE_FILE``, or
the CLI's own resumed session). ``attempt`` is the engine's: sessions started so far + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent_dispatch.engine.state import ENGINE, AgentProgress, EngineState
from agent_dispatch.errors import FatalError
from agent_dispatch.operations.caller import refuse_agent_session
from agent_dispatch.operations.sprint import opened, operator_name
from agent_dispatch.store.events import EventType
from agent_dispatch.store.log import EventLog

MESSAGE_KIND = "operator"
MESSAGES_DIRNAME = "messages"
CARRIED_SEPARATOR = "\n---\n\n"  # after the text, which ends with a newline


@dataclass(frozen=True)
class MessageQueued:
    """A message waiting for ``agent``'s session number ``attempt``.

    ``carried`` names the kind of a follow-up that was already waiting for that session (e.g.
    ``retry_1``): the engine delivers one message per session, so the file holds both texts.
    """

    sprint: str
    agent: str
    attempt: int
    file: Path
    by: str
    seq: int
    session_running: bool  # the agent is in a session now; the message waits for the next one
    carried: str | None = None


def message_path(sprint_dir: Path, agent: str, attempt: int, kind: str = MESSAGE_KIND) -> Path:
    """Where a message for ``agent``'s session ``attempt`` lives (the engine's own naming)."""
    return sprint_dir / MESSAGES_DIRNAME / f"{agent}-{attempt}-{kind}.md"


def _receiver(events: EventLog, agent: str) -> AgentProgress:
    """The agent's progress from the log; FatalError when it will start no further session."""
    agents = sorted(events.status().agents)
    if agent not in agents:
        if not agents:
            raise FatalError(f"sprint {events.sprint} has no agents yet\nhint: dispatch run <plan> starts them")
        raise FatalError(f"no agent {agent!r} in sprint {events.sprint}; agents are: {', '.join(agents)}")
    state: EngineState = events.live(ENGINE).get()
    if state.finished:
        raise FatalError(f"sprint {events.sprint} has finished: {agent} starts no more sessions")
    progress = state.agents[agent]
    if progress.gate3 is not None:
        verdict = "passed" if progress.gate3 else "failed"
        raise FatalError(f"{agent} is done (gate 3 {verdict}): it starts no more sessions")
    return progress


def send_message(agent: str, text: str, *, by: str | None = None, log: EventLog | None = None,
                 sprint: str | None = None, start: Path = Path(".")) -> MessageQueued:
    """Queue ``text`` from the operator for ``agent``'s next session.

    FatalError when the text is empty, the agent is not in the sprint, or it will start no further
    session (its gate 3 decided, or the sprint finished).
    """
    if not text.strip():
        raise FatalError("a message needs text: dispatch message AGENT \"text\" (or --file F)")
    with opened(log, sprint=sprint, start=start) as events:
        refuse_agent_session(f"a message to {agent}", events, start)
        progress = _receiver(events, agent)
        attempt = progress.attempts + 1
        path = message_path(events.path.parent, agent, attempt)
        body = text if text.endswith("\n") else text + "\n"
        pending = progress.pending_message
        carried = None
        if pending and int(pending.get("attempt", attempt)) == attempt and Path(pending["file"]).is_file():
            # Only the last queued message is delivered: keep the one already waiting in this file.
            carried = str(pending.get("kind"))
            body += CARRIED_SEPARATOR + Path(pending["file"]).read_text(encoding="utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
        who = operator_name(by)
        seq = events.append(EventType.MESSAGE_QUEUED, agent=agent,
                            data={"kind": MESSAGE_KIND, "file": str(path), "attempt": attempt, "by": who})
        return MessageQueued(events.sprint, agent, attempt, path, who, seq,
                             session_running=progress.open_session is not None, carried=carried)
