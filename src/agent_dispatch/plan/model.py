"""The sprint plan (``dispatch.yaml``) as typed, immutable records.

Source fields (sprint, agents, chains, waves, merge_order, scaling) keep their exact names; the
extensions (goal, success criteria, tool, tone, letters, codenames, chain dependencies, shared
files...) are optional with defaults, so a plan in the seed's own format loads unchanged.
"""

from __future__ import annotations

import re
import string
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

Priority = Literal["P0", "P1", "P2", "P3"]
Tone = Literal["professional", "collaborative", "maximum"]
WaveBase = Literal["main", "merged"]
SharedPolicy = Literal["add-only", "owner-only", "any"]

# Names end up in branch names, directory names and environment variables.
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
SPRINT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
CHAIN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]
# A git identity as git prints it: "Name <email>".
GIT_AUTHOR_PATTERN = r"^(?P<name>[^<>\n]*[^<>\s])\s+<(?P<email>[^<>\s]+)>$"
GitAuthor = Annotated[str, StringConstraints(pattern=GIT_AUTHOR_PATTERN, max_length=200)]

KNOWN_TOOLS = ("command", "claude", "codex", "aider", "opencode", "gemini", "qwen")
Tool = Literal["command", "claude", "codex", "aider", "opencode", "gemini", "qwen"]

_TOOL_ALIASES = {"claude-code": "claude", "claude_code": "claude", "codex-cli": "codex",
                 "gemini-cli": "gemini", "qwen-code": "qwen", "qwen-coder": "qwen"}


def _normalize_tool(value: object) -> object:
    if isinstance(value, str):
        key = value.strip().lower()
        return _TOOL_ALIASES.get(key, key)
    return value


ToolName = Annotated[Tool, BeforeValidator(_normalize_tool)]

# Where sessions run; the same names as `executors.registry` (which the plan layer may not import).
KNOWN_EXECUTORS = ("local",)


def _executor_name(value: str) -> str:
    if value not in KNOWN_EXECUTORS:
        raise ValueError(f"not a known executor; use one of: {', '.join(KNOWN_EXECUTORS)}")
    return value


ExecutorName = Annotated[str, AfterValidator(_executor_name)]


class _Record(BaseModel):
    # Unknown keys are reported as warnings by the loader, not rejected here.
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class SuccessCriterion(_Record):
    text: NonEmpty
    measurable: bool | None = None


def _criterion(value: object) -> object:
    return {"text": value} if isinstance(value, str) else value


Criterion = Annotated[SuccessCriterion, BeforeValidator(_criterion)]


class Budget(_Record):
    """A ceiling on what agent sessions may spend; exceeded: the agent stops after its turn."""

    tokens: Annotated[int, Field(ge=1)] | None = None  # input + output tokens, as the CLIs report them
    cost_usd: Annotated[float, Field(gt=0)] | None = None  # where the CLI reports cost


class Fallback(_Record):
    """Another model or CLI for an agent's last retry (tier 3 of the retry ladder)."""

    tool: ToolName | None = None
    model: str | None = None
    command: tuple[NonEmpty, ...] | None = None  # for the generic ``command`` tool


def _worktree_template(value: str) -> str:
    fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    allowed = {"parent", "project", "sprint", "agent"}
    if fields - allowed:
        raise ValueError(f"unknown placeholder(s) {', '.join(sorted(fields - allowed))} in {value!r}; "
                         "use {parent} {project} {sprint} {agent}")
    if "agent" not in fields:
        raise ValueError(f"{value!r} must contain {{agent}}: every agent needs its own worktree")
    return value


WorktreeTemplate = Annotated[str, AfterValidator(_worktree_template)]


class Sprint(_Record):
    id: Annotated[str, StringConstraints(pattern=SPRINT_ID_PATTERN, max_length=64)]
    theme: NonEmpty
    base_branch: NonEmpty
    build_command: NonEmpty
    test_command: NonEmpty
    goal: str | None = None
    success_criteria: tuple[Criterion, ...] = ()
    setup_command: str | None = None
    lint_command: str | None = None
    tool: ToolName = "claude"
    tone: Tone = "professional"
    wave_base: WaveBase = "merged"
    project_context_file: str | None = None
    merge_mode: Literal["batch", "strict", "serial"] = "batch"  # how the merge train validates
    merge_slots: Annotated[int, Field(ge=1, le=16)] = 1  # parallel validation worktrees
    executor: ExecutorName = "local"  # where agent sessions run (`--executor` overrides it)
    # confine each agent session's writes with bubblewrap; unset: bwrap where it works, else a warning
    sandbox: Literal["bwrap", "none"] | None = None
    max_returns: Annotated[int, Field(ge=0, le=5)] = 1  # times a branch that failed to land goes back to its agent
    tag_on_ship: bool = False  # tag the base `<sprint>-complete` when the sprint ships
    worktree_dir: WorktreeTemplate | None = None  # agent worktree path template: {parent} {project} {sprint} {agent}
    model: str | None = None  # default model for real agent CLIs (each CLI's own default otherwise)
    base_url: str | None = None  # default model API endpoint (e.g. a local fake model server)
    budget: Budget | None = None  # whole sprint, all agents together


class Chain(_Record):
    id: Annotated[str, StringConstraints(pattern=CHAIN_ID_PATTERN, max_length=64)]
    priority: Priority
    title: NonEmpty
    vector: NonEmpty
    signal: NonEmpty
    fix_site: NonEmpty
    verify: NonEmpty
    depends_on: tuple[str, ...] = ()
    hypothesis: str | None = None


class Territory(_Record):
    include: tuple[NonEmpty, ...]
    exclude: tuple[NonEmpty, ...] = ()


class Agent(_Record):
    name: Name
    role: NonEmpty
    territory: Territory
    chains: tuple[Chain, ...]
    tool: ToolName | None = None
    command: tuple[NonEmpty, ...] | None = None
    letter: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]?$")] | None = None
    codename: str | None = None
    domain: Annotated[str, StringConstraints(pattern=NAME_PATTERN)] | None = None
    model: str | None = None
    base_url: str | None = None
    budget: Budget | None = None
    fallbacks: tuple[Fallback, ...] = ()
    git_author: GitAuthor | None = None  # "Name <email>" of its commits (default: naming.context.git_identity)


class Wave(_Record):
    number: Annotated[int, Field(ge=0)]
    agents: tuple[Name, ...]
    depends_on: tuple[int, ...] = ()
    description: str | None = None


class Scaling(_Record):
    max_agents_per_wave: Annotated[int, Field(ge=1)] = 8
    sub_agents_enabled: bool = True
    nested_teams: bool = False


class SharedFile(_Record):
    path: NonEmpty
    owner: Name
    policy: SharedPolicy = "add-only"


class Plan(_Record):
    sprint: Sprint
    agents: tuple[Agent, ...]
    waves: tuple[Wave, ...]
    merge_order: tuple[Name, ...] | None = None
    scaling: Scaling = Scaling()
    shared_files: tuple[SharedFile, ...] = ()

    def agent(self, name: str) -> Agent:
        """The agent called ``name`` (KeyError when absent)."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(name)


def slug(text: str) -> str:
    """Lowercase dash-separated form of ``text`` for file and sub-agent names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
