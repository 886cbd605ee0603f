"""Follow-up messages the engine sends to an agent: retry tiers, missing report, continue, recover."""

from __future__ import annotations

from typing import Any

import jinja2

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("agent_dispatch.engine", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)

RETRY_TEMPLATES = {1: "retry-1.md.j2", 2: "retry-2.md.j2", 3: "retry-3.md.j2"}

# The intervention (seed-spec REQ-6.06 catalog) each kind of follow-up message delivers; a message
# is an intervention once the session that carries it starts (``intervention_sent``, REQ-6.08).
INTERVENTIONS = {
    "territory": "INT-01",  # files outside the territory: revert them, stay within it
    "missing_report": "INT-03",  # the report is missing or does not match git
    "uncommitted": "INT-05",  # claimed done without committed, verifiable work
    "operator": "INT-08",  # the operator supplies facts or a decision
    "recover": "INT-16",  # resume after a crash, a timeout or Ctrl-C
    "continue": "INT-16",  # resume after the context limit
    "merge_conflict": "INT-13",
    "merge_failed": "INT-20",  # the merged result fails build or test
    "red_team_fix": "INT-19",  # RED TEAM findings to fix before landing (REQ-8.08)
    "retry_1": "INT-RETRY-1",
    "retry_2": "INT-RETRY-2",
    "retry_3": "INT-RETRY-3",
}


def intervention_id(kind: str) -> str:
    """The catalog id of the intervention a message of ``kind`` delivers (unknown kinds: upper-cased)."""
    return INTERVENTIONS.get(kind, kind.upper())


def render_message(name: str, **values: Any) -> str:
    """Render the message template ``name`` (a file in ``engine/templates``)."""
    return _ENV.get_template(name).render(**values)


def retry_message(tier: int, **values: Any) -> str:
    """The tier-``tier`` retry message (1 focused fix, 2 rethink, 3 fresh approach).

    Raises ValueError when ``failures`` hold no error output: a retry must show the agent what failed.
    """
    failures = values.get("failures") or []
    if not any(str(getattr(check, "output", "")).strip() for check in failures):
        raise ValueError(f"retry message without error output for chain {getattr(values.get('chain'), 'id', '?')}: "
                         "no error output to show")
    return render_message(RETRY_TEMPLATES[tier], **values)
