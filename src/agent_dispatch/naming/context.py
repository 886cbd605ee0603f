"""The sprint context: every name the documents, prompts and engine derive from a plan.

Per agent: letter, codename, domain slug, branch, worktree, task doc, completion report and
prompt path. Letters come from the plan, else the roster default, else the next free letter;
clashes are resolved in plan order so the same plan always gives the same letters.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from agent_dispatch.naming import paths
from agent_dispatch.plan.model import GIT_AUTHOR_PATTERN, Plan, slug
from agent_dispatch.plan.roster import base_role, codename_for, default_letter
from agent_dispatch.plan.validate import dispatched_agents

# Letters handed out when neither the plan nor the roster gives one. O and R stay reserved for
# ORCHESTRATOR and RED TEAM; two-character letters come only after the alphabet is used up.
_FREE_LETTERS = (
    tuple(c for c in string.ascii_uppercase if c not in "OR")
    + ("O", "R")
    + tuple(f"{c}{d}" for c in string.ascii_uppercase for d in range(1, 10))
)

PROJECT_CONTEXT_CANDIDATES = ("CLAUDE.md", "AGENTS.md", "README.md", "docs/CONTEXT.md")

_LANGUAGES = {
    ".py": "Python",
    ".go": "Go",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".js": "JavaScript",
    ".jsx": "JavaScript",
    ".rs": "Rust",
    ".rb": "Ruby",
    ".java": "Java",
    ".kt": "Kotlin",
    ".php": "PHP",
    ".cs": "C#",
    ".c": "C",
    ".cpp": "C++",
    ".ex": "Elixir",
    ".exs": "Elixir",
    ".swift": "Swift",
    ".svelte": "Svelte",
    ".vue": "Vue",
    ".scala": "Scala",
    ".dart": "Dart",
}


@dataclass(frozen=True)
class AgentContext:
    """Everything derived for one agent of the plan (dispatched or not)."""

    name: str
    role: str  # as written in the plan
    base_role: str  # roster code: BACKEND, RED TEAM, ...
    letter: str
    codename: str
    domain: str
    tool: str
    wave: int | None  # None: in no wave, not dispatched
    branch: str
    worktree: Path
    task_doc: str  # repository-relative
    report: str  # repository-relative
    prompt: str  # repository-relative

    @property
    def dispatched(self) -> bool:
        return self.wave is not None


@dataclass(frozen=True)
class SprintContext:
    """Names and paths for one sprint; ``agents`` follows plan order, ``dispatched`` wave order."""

    sprint_id: str
    project_name: str
    repo_root: Path
    sprint_dir: str  # repository-relative folder holding dispatch.yaml and the documents
    languages: tuple[str, ...]
    project_context_file: str | None
    agents: tuple[AgentContext, ...]
    dispatched: tuple[str, ...]
    notes: tuple[str, ...] = ()  # things the operator should know (letter clashes, ...)

    @property
    def parent_dir(self) -> Path:
        return self.repo_root.parent

    def agent(self, name: str) -> AgentContext:
        """The context of agent ``name`` (KeyError when absent)."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)

    def dispatched_agents(self) -> list[AgentContext]:
        """Contexts of the dispatched agents, in wave order."""
        return [self.agent(name) for name in self.dispatched]


def git_identity(plan: Plan, agent_name: str) -> tuple[str, str]:
    """``(name, email)`` that agent ``agent_name``'s commits carry: the plan's ``git_author``,
    else ``<agent> <agent>@<sprint>.agents``; each agent's own, so authorship says who did what."""
    author = plan.agent(agent_name).git_author
    found = re.match(GIT_AUTHOR_PATTERN, author) if author else None
    if found:
        return found["name"], found["email"]
    return agent_name, f"{agent_name}@{plan.sprint.id}.agents"


def assign_letters(plan: Plan) -> tuple[dict[str, str], list[str]]:
    """Letter per agent name, plus a note for every plan letter that had to change.

    Pass 1 keeps plan letters (first claim wins), pass 2 gives roster defaults, pass 3 the next
    free letter; each pass walks the agents in plan order.
    """
    letters: dict[str, str] = {}
    notes: list[str] = []
    taken: dict[str, str] = {}
    for agent in plan.agents:
        if agent.letter and agent.letter not in taken:
            letters[agent.name] = agent.letter
            taken[agent.letter] = agent.name
    for agent in plan.agents:
        default = default_letter(agent.role)
        if agent.name not in letters and not agent.letter and default and default not in taken:
            letters[agent.name] = default
            taken[default] = agent.name
    for agent in plan.agents:
        if agent.name in letters:
            continue
        letter = next(letter for letter in _FREE_LETTERS if letter not in taken)
        letters[agent.name] = letter
        taken[letter] = agent.name
        if agent.letter:
            notes.append(
                f"agent {agent.name!r}: letter {agent.letter!r} is already used by "
                f"{taken[agent.letter]!r}; using {letter!r}"
            )
    return letters, notes


def codename_of(letter: str, plan_codename: str | None = None) -> str:
    """The plan's codename, else the letter-based NATO word (``A2`` → ``ALPHA-2``)."""
    if plan_codename:
        return plan_codename.upper()
    word = codename_for(letter)
    return f"{word}-{letter[1:]}" if len(letter) > 1 else word


def sprint_dir_for(plan_path: str | Path, repo_root: Path, sprint_id: str) -> str:
    """The folder holding ``plan_path``, relative to ``repo_root`` (canonical when outside it)."""
    folder = Path(plan_path).resolve().parent
    try:
        return PurePosixPath(folder.relative_to(repo_root.resolve())).as_posix()
    except ValueError:
        return paths.sprint_dir(sprint_id)


def detect_languages(files: Iterable[str], *, limit: int = 2) -> tuple[str, ...]:
    """The most common programming languages among ``files``, by file extension."""
    counts = Counter(_LANGUAGES.get(PurePosixPath(f).suffix.lower()) for f in files)
    return tuple(lang for lang, _ in counts.most_common(limit + 1) if lang is not None)[:limit]


def find_project_context_file(plan: Plan, files: Sequence[str]) -> str | None:
    """The plan's ``project_context_file``, else the first of the usual candidates present."""
    if plan.sprint.project_context_file:
        return plan.sprint.project_context_file
    present = set(files)
    return next((c for c in PROJECT_CONTEXT_CANDIDATES if c in present), None)


def build_context(
    plan: Plan,
    repo_root: Path,
    *,
    sprint_dir: str | None = None,
    repo_files: Sequence[str] = (),
) -> SprintContext:
    """Derive the :class:`SprintContext` of ``plan`` for the repository at ``repo_root``."""
    sid = plan.sprint.id
    folder = sprint_dir or paths.sprint_dir(sid)
    letters, notes = assign_letters(plan)
    waves = {name: w.number for w in plan.waves for name in w.agents}
    agents = []
    for agent in plan.agents:
        letter = letters[agent.name]
        domain = agent.domain or slug(agent.role)
        agents.append(
            AgentContext(
                name=agent.name,
                role=agent.role,
                base_role=base_role(agent.role),
                letter=letter,
                codename=codename_of(letter, agent.codename),
                domain=domain,
                tool=agent.tool or plan.sprint.tool,
                wave=waves.get(agent.name),
                branch=paths.branch_name(sid, agent.name),
                worktree=paths.worktree_path(repo_root, sid, agent.name, plan.sprint.worktree_dir),
                task_doc=paths.task_doc_path(sid, letter, domain, directory=folder),
                report=paths.report_path(sid, letter, directory=folder),
                prompt=paths.prompt_path(sid, letter, agent.name, directory=folder),
            )
        )
    known = {a.name for a in plan.agents}
    return SprintContext(
        sprint_id=sid,
        project_name=repo_root.name,
        repo_root=repo_root,
        sprint_dir=folder,
        languages=detect_languages(repo_files),
        project_context_file=find_project_context_file(plan, repo_files),
        agents=tuple(agents),
        dispatched=tuple(n for n in dispatched_agents(plan) if n in known),
        notes=tuple(notes),
    )


def sprint_documents(ctx: SprintContext, plan_file: str | None = None) -> tuple[str, ...]:
    """Repository-relative paths of the documents every agent worktree gets a copy of before a
    session starts: DISPATCH.md, the prompts archive, every dispatched agent's task doc and
    activation prompt, the plan file and the project context file (see docs/agent-documents.md).
    ``plan_file`` is the plan's path relative to the repository root, when it is inside it."""
    folder = ctx.sprint_dir
    docs = [f"{folder}/{paths.DISPATCH_FILENAME}", f"{folder}/{paths.PROMPTS_ARCHIVE_FILENAME}"]
    for agent in ctx.dispatched_agents():
        docs += [agent.task_doc, agent.prompt]
    if plan_file:
        docs.append(plan_file)
    if ctx.project_context_file:
        docs.append(ctx.project_context_file)
    return tuple(dict.fromkeys(docs))
