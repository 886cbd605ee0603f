"""Where sprint artefacts live and what branches and worktrees are called.

Pure string/path functions, shared by ``dispatch render`` and the engine so both agree on every
name. Repository-relative paths use forward slashes.
"""

from __future__ import annotations

import re
from pathlib import Path

SPRINTS_DIR = "docs/agent-dispatch/sprints"
CONFIG_DIR = "docs/agent-dispatch/config"
TEMPLATE_OVERRIDE_DIR = f"{CONFIG_DIR}/templates"
PROMPTS_DIRNAME = "activation-prompts"
DISPATCH_FILENAME = "DISPATCH.md"
PROMPTS_ARCHIVE_FILENAME = "DISPATCH-PROMPTS.md"
FINDINGS_FILENAME = "red-team-findings.md"


def sprint_dir(sprint_id: str) -> str:
    """The canonical sprint folder, ``docs/agent-dispatch/sprints/<sprint_id>``."""
    return f"{SPRINTS_DIR}/{sprint_id}"


def sprint_label(sprint_id: str) -> str:
    """``"sprint-01"`` → ``"01"`` for headings such as "Sprint 01"; other ids come back as is."""
    match = re.fullmatch(r"sprint[-_]?(\w+)", sprint_id, re.I)
    return match.group(1) if match else sprint_id


def branch_name(sprint_id: str, agent_name: str) -> str:
    """The agent's branch: ``<sprint_id>/<agent_name>``."""
    return f"{sprint_id}/{agent_name}"


def worktree_path(repo_root: Path, sprint_id: str, agent_name: str, template: str | None = None) -> Path:
    """The agent's worktree: ``<PARENT>/<PROJECT>-<sprint>-<agent>`` by default, else ``template``
    (placeholders ``{parent} {project} {sprint} {agent}``; a relative result is taken relative to
    the repository root)."""
    if not template:
        return repo_root.parent / f"{repo_root.name}-{sprint_id}-{agent_name}"
    text = template.format(parent=repo_root.parent, project=repo_root.name, sprint=sprint_id, agent=agent_name)
    path = Path(text).expanduser()
    return path if path.is_absolute() else (repo_root / path).resolve()


def task_doc_name(letter: str, domain: str) -> str:
    """File name of an agent's task doc: ``agent-<LETTER>-<domain>.md``."""
    return f"agent-{letter}-{domain}.md"


def report_name(letter: str) -> str:
    """File name of an agent's completion report: ``agent-<LETTER>-completion.md``."""
    return f"agent-{letter}-completion.md"


def prompt_name(letter: str, agent_name: str) -> str:
    """File name of an agent's activation prompt: ``agent-<LETTER>-<name>.md``."""
    return f"agent-{letter}-{agent_name}.md"


def task_doc_path(sprint_id: str, letter: str, domain: str, *, directory: str | None = None) -> str:
    """Repository-relative task doc path (``directory`` defaults to the canonical sprint folder)."""
    return f"{directory or sprint_dir(sprint_id)}/{task_doc_name(letter, domain)}"


def report_path(sprint_id: str, letter: str, *, directory: str | None = None) -> str:
    """Repository-relative completion report path, the file gate 3 looks for."""
    return f"{directory or sprint_dir(sprint_id)}/{report_name(letter)}"


def prompt_path(
    sprint_id: str, letter: str, agent_name: str, *, directory: str | None = None
) -> str:
    """Repository-relative activation prompt path under ``activation-prompts/``."""
    return (
        f"{directory or sprint_dir(sprint_id)}/{PROMPTS_DIRNAME}/{prompt_name(letter, agent_name)}"
    )


def findings_path(sprint_id: str, *, directory: str | None = None) -> str:
    """Repository-relative path of the RED TEAM findings report."""
    return f"{directory or sprint_dir(sprint_id)}/{FINDINGS_FILENAME}"
