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
