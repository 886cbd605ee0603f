"""Lints: trace quality, measurable success criteria, paths that do not exist (warnings), and the
placeholder chains of a starter plan that nobody rewrote (errors)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent_dispatch.errors import Problem
from agent_dispatch.plan.loader import LoadedPlan
from agent_dispatch.plan.territory import matches_any, parse_pattern
from agent_dispatch.plan.verify import verify_command

_CALL = re.compile(r"[A-Za-z_][\w.]*\(\)|\b[A-Z]\w*\.[a-z_]\w*|\b[a-z_]\w*\.[a-z_]\w*\(")
_VAGUE = re.compile(r"\b(somewhere|something|the backend|the frontend|the code|etc\.?|various)\b", re.I)
_BARE_FIX = re.compile(r"^\s*(fix|change|update|improve|refactor)\b(\s+(it|this|that|the \w+))?\s*\.?\s*$", re.I)
_CONCRETE_VERIFY = re.compile(
    r"`[^`]+`|\bcurl\b|\bpytest\b|\bunittest\b|\bgo test\b|\bnpm\b|\bcargo\b|\bmake\b|\bexpect"
    r"|\breturns?\b|\bexits?\b|\bprints?\b|\braises?\b|\b[1-5]\d\d\b|\d+\s*(ms|s|%|MB|KB)\b",
    re.I,
)
_MEASURABLE = re.compile(
    r"\d|[<>=≤≥]|\b(zero|none|no|never|every|all|returns?|raises?|prints?|passes|fails?|exits?"
    r"|rejects?|refuses?|contains?|equals?|exactly)\b",
    re.I,
)
_PATH = re.compile(r"(?<![\w`'\"])((?:[\w.-]+/)+[\w.-]*|[\w-]+\.(?:py|go|ts|tsx|js|jsx|rs|rb|java|php|c|h|cpp|md|yml|yaml|toml|json|sql))(?![\w(])")

# What `dispatch init` writes into a chain it could not fill in from the code (commands/init.py).
PLACEHOLDER_TITLE = "STARTER"
PLACEHOLDER_FIELD = "REWRITE:"
_PLACEHOLDER_KEYS = ("vector", "signal", "fix_site", "verify")


def is_placeholder_chain(title: str, fields: Sequence[str]) -> bool:
    """True for a chain still as ``dispatch init`` wrote it: titled STARTER or a field saying REWRITE."""
    return title.lstrip().upper().startswith(PLACEHOLDER_TITLE) or any(
        f.lstrip().upper().startswith(PLACEHOLDER_FIELD) for f in fields)


def placeholder_chains(loaded: LoadedPlan) -> list[Problem]:
    """Errors for starter chains nobody rewrote: dispatching one sends an agent a made-up task."""
    problems = []
    for i, agent in enumerate(loaded.plan.agents):
        for j, chain in enumerate(agent.chains):
            fields = [getattr(chain, key) for key in _PLACEHOLDER_KEYS]
            if is_placeholder_chain(chain.title, fields):
                problems.append(loaded.problem(
                    ("agents", i, "chains", j, "title"),
                    f"chain {chain.id!r} of {agent.name!r} is a placeholder written by `dispatch init`; "
                    "hint: rewrite its title, vector, signal, fix_site and verify from the real defect "
                    "(drop the STARTER / REWRITE markers), or delete the chain"))
    return problems


def trace_lint(loaded: LoadedPlan) -> list[Problem]:
    """Warnings for chains whose vector, fix site or verify step is too vague to act on."""
    problems = []
    for i, agent in enumerate(loaded.plan.agents):
        for j, chain in enumerate(agent.chains):
            base = ("agents", i, "chains", j)

            def warn(key: str, message: str) -> None:
                problems.append(loaded.problem((*base, key), message, severity="warning"))

            if len(set(_CALL.findall(chain.vector))) < 2:
                warn("vector", "trace names fewer than two functions; name the call path, "
                               "e.g. 'handler.create() → store.insert()'")
            for key in ("vector", "fix_site"):
                vague = _VAGUE.search(getattr(chain, key))
                if vague:
                    warn(key, f"vague wording {vague.group(0)!r}; name the exact file or function")
            if _BARE_FIX.match(chain.fix_site) or not re.search(r"[/.()]", chain.fix_site):
                warn("fix_site", "fix site should name a file and function (e.g. 'app/store.py save()')")
            if not _CONCRETE_VERIFY.search(chain.verify):
                warn("verify", "verify has no runnable command or concrete expected result; "
                               "write a `command` in backticks or the exact output expected")
            elif verify_command(chain) is None:
                # Prose verification (docs/engine.md): the tool cannot run it, so the agent's claim decides.
                warn("verify", "verify is prose, weaker than a command: the tool cannot run it, so the chain "
                               "completes on the agent's COMPLETE claim once build and tests pass; write the "
                               "check as a `command` in backticks to have the tool verify it")
    return problems


def criteria_lint(loaded: LoadedPlan) -> list[Problem]:
    """Warnings for success criteria that cannot be judged pass/fail."""
    return [
        loaded.problem(("sprint", "success_criteria", i),
                       f"criterion {c.text!r} is not measurable; state a number, threshold or "
                       "observable result (e.g. 'returns 401', 'zero failures')",
                       severity="warning")
        for i, c in enumerate(loaded.plan.sprint.success_criteria)
        if c.measurable is not True and not _MEASURABLE.search(c.text)
    ]


def missing_paths(loaded: LoadedPlan, repo_files: Sequence[str]) -> list[Problem]:
    """Warnings for territory patterns and fix sites naming paths that do not exist (AP-11)."""
    files = list(repo_files)
    dirs = {f.rsplit("/", k)[0] + "/" for f in files for k in range(1, f.count("/") + 1)}
    problems = []
    for i, agent in enumerate(loaded.plan.agents):
        for j, text in enumerate(agent.territory.include):
            pattern = parse_pattern(text)
            if pattern.creates or matches_any([pattern.pattern], files):
                continue
            problems.append(loaded.problem(("agents", i, "territory", "include", j),
                                           f"{pattern.pattern!r} matches no tracked file; mark new "
                                           "paths with '(CREATE)' or fix the path", severity="warning"))
        for j, chain in enumerate(agent.chains):
            if "CREATE" in chain.fix_site.upper():
                continue
            for path in _PATH.findall(chain.fix_site):
                if path not in files and (path if path.endswith("/") else path + "/") not in dirs:
                    problems.append(loaded.problem(("agents", i, "chains", j, "fix_site"),
                                                   f"path {path!r} does not exist in the repository",
                                                   severity="warning"))
    return problems
