"""``dispatch init``: detect the stack, propose territories, write a starter plan that validates."""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import pydantic

from agent_dispatch import git, output
from agent_dispatch.checkrun import missing_programs
from agent_dispatch.errors import FatalError
from agent_dispatch.files import write_atomic
from agent_dispatch.naming import paths
from agent_dispatch.plan.lint import PLACEHOLDER_FIELD, PLACEHOLDER_TITLE, placeholder_chains
from agent_dispatch.plan.loader import dump_yaml, load_text
from agent_dispatch.plan.model import KNOWN_TOOLS, SPRINT_ID_PATTERN, ToolName
from agent_dispatch.plan.propose import (
    ENTRY_STEMS,
    MAX_SCAN_BYTES,
    SOURCE_EXTS,
    Hit,
    Proposal,
    in_skip_dir,
    propose,
    scan,
)
from agent_dispatch.plan.roster import DEFAULT_MERGE_ORDER, ROLES
from agent_dispatch.plan.stack import Stack, detect_stack, is_placeholder
from agent_dispatch.plan.territory import TerritoryMatcher
from agent_dispatch.plan.validate import errors_only, validate

HEADER = """\
# Starter sprint plan written by `dispatch init` for a {stack} project. Before dispatching:
#  - rewrite every chain whose title starts with STARTER, and check the scan-seeded ones;
#  - check the commands and territories below (`dispatch init` listed the files nobody owns).
# Then: dispatch validate {plan}  &&  dispatch render {plan}
"""
WAVE_DESCRIPTIONS = {
    1: "Foundation: data, tests, infrastructure, design",
    2: "Core logic: backend and services",
    3: "Interfaces: frontend and command line",
    4: "Adversarial review",
    5: "Merge, docs and ship decision",
}
HIT_LABELS = {"stub": "Unfinished code", "swallowed": "Error silently ignored",
              "debug": "Leftover debug output"}
MAX_AGENTS_PER_WAVE = 8
STARTER = f"{PLACEHOLDER_TITLE} — rewrite before dispatch"


def _verify(test_command: str) -> str:
    if is_placeholder(test_command):
        return "the sprint's test_command passes"
    return f"`{test_command}` passes"


def _size(root: Path, path: str) -> int:
    try:
        return (root / path).stat().st_size
    except OSError:
        return 0


def _hit_chain(hit: Hit, test_command: str) -> dict:
    where = f"{hit.path}:{hit.line}" + (f" {hit.function}()" if hit.function else "")
    title = f"{HIT_LABELS.get(hit.kind, hit.kind)} at {where}"
    if hit.kind not in HIT_LABELS:  # a marker: its own words say what is wrong
        title += f": {hit.detail}"
    return {"priority": hit.priority, "title": title[:150],
            "vector": f"entry point (name it) → {hit.function or 'code'}() at {hit.path}:{hit.line}",
            "signal": f"scan found `{hit.text}` ({hit.detail}); confirm the defect and add its evidence",
            "fix_site": where, "verify": _verify(test_command)}


def _new_test_path(source: str, proposal: Proposal, tracked: set[str]) -> str | None:
    """Where QA would add tests for ``source``, when that place lies in QA's territory."""
    p = PurePosixPath(source)
    if p.suffix == ".py":  # next to most of the existing Python tests
        dirs = Counter(str(PurePosixPath(f).parent) for f in proposal.files_of("QA") if f.endswith(".py"))
        folder = PurePosixPath(dirs.most_common(1)[0][0]) if dirs else p.parent
        target = str(folder / f"test_{p.stem}.py")
    elif p.suffix == ".go":
        target = str(p.parent / f"{p.stem}_test.go")
    elif p.suffix in {".ts", ".tsx", ".js", ".jsx"}:
        target = str(p.parent / f"{p.stem}.test{p.suffix}")
    else:
        return None
    qa = proposal.territories.get("QA")
    if not qa or target in tracked:
        return None
    return target if TerritoryMatcher(tuple(qa["include"]), tuple(qa["exclude"])).owns(target) else None


def untested_sources(proposal: Proposal) -> list[str]:
    """Source files outside QA's territory with no test file named after them (REQ-2.09 scan)."""
    tested: set[str] = set()
    for f in proposal.files_of("QA"):
        stem = PurePosixPath(f).name.split(".")[0].removeprefix("test_")
        for suffix in ("_test", "_spec", "Tests", "Test"):
            stem = stem.removesuffix(suffix)
        tested.add(stem.lower())
    out = []
    for f, role in sorted(proposal.owners.items()):
        p = PurePosixPath(f)
        if role in {"QA", "LEAD", "INFRA", "DESIGN"} or p.suffix not in SOURCE_EXTS or p.suffix == ".h":
            continue
        skip = in_skip_dir(f) or p.stem.startswith("_") or p.stem in ENTRY_STEMS
        if not skip and p.stem.lower() not in tested:
            out.append(f)
    return out


def definitions(root: Path, path: str, limit: int = 4) -> list[str]:
    """Names of the first public top-level functions or classes in ``path``."""
    try:
        text = (root / path).read_text(encoding="utf-8", errors="replace")[:MAX_SCAN_BYTES]
    except OSError:
        return []
    names = re.findall(r"^(?:export\s+)?(?:pub\s+)?(?:async\s+)?(?:def|func|fn|function|class|struct)"
                       r"\s+(?:\([^)]*\)\s*)?([A-Za-z]\w*)", text, re.M)
    return list(dict.fromkeys(n for n in names if not n.startswith("_")))[:limit]


def _untested_chains(root: Path, proposal: Proposal, test_command: str,
                     tracked: set[str]) -> list[dict]:
    chains = []
    sources = sorted(untested_sources(proposal), key=lambda f: (-_size(root, f), f))
    for source in sources:
        target = _new_test_path(source, proposal, tracked)
        names = definitions(root, source)
        if not target or not names:
            continue
        module = PurePosixPath(source).stem
        calls = " → ".join(f"{module}.{n}()" for n in names[:3])
        chains.append({"priority": "P2", "title": f"Add tests for {source}",
                       "vector": f"{target} → {calls}",
                       "signal": f"{source} has no test file: {', '.join(names)} run untested "
                                 "(scan: source file without a matching test)",
                       "fix_site": f"{target} (CREATE — new test file)",
                       "verify": f"{_verify(test_command)}, running the new tests in {target}"})
        if len(chains) == 2:
            break
    return chains


def _starter_chain(root: Path, proposal: Proposal, role: str, test_command: str) -> dict:
    owned = proposal.files_of(role)
    code = [f for f in owned if PurePosixPath(f).name != "__init__.py" and definitions(root, f)]
    target = max(code or owned, key=lambda f: (_size(root, f), f))
    names = definitions(root, target)
    defines = f" (defines {', '.join(names)})" if names else ""
    return {"priority": "P2", "title": f"{STARTER}: {role} work in {target}",
            "vector": f"{PLACEHOLDER_FIELD} entry point → call path into {target}{defines}",
            "signal": f"{PLACEHOLDER_FIELD} what is broken in {target} and the evidence "
                      "(error, failing request, log line)",
            "fix_site": target, "verify": _verify(test_command)}


def agent_chains(root: Path, proposal: Proposal, hits: dict[str, list[Hit]], role: str,
                 test_command: str, tracked: set[str]) -> list[dict]:
    """Starter chains for ``role``: untested modules (QA), then scan hits, else one STARTER chain."""
    chains = _untested_chains(root, proposal, test_command, tracked) if role == "QA" else []
    chains = (chains + [_hit_chain(h, test_command) for h in hits.get(role, [])])[:3]
    chains = chains or [_starter_chain(root, proposal, role, test_command)]
    return [{"id": f"chain-{n}", **chain} for n, chain in enumerate(chains, start=1)]


def build_plan(root: Path, files: list[str], stack: Stack, proposal: Proposal, *, sprint: str,
               theme: str, goal: str | None, tool: str, base: str) -> dict:
    """The starter plan as plain data (what gets written as YAML)."""
    hits = scan(root, proposal)
    tracked = set(files)
    roles = sorted(proposal.territories, key=lambda r: (ROLES[r].wave, ROLES[r].merge_position))
    agents: list[dict[str, Any]] = []
    for role in roles:
        territory = proposal.territories[role]
        chains = [] if role == "LEAD" else agent_chains(root, proposal, hits, role, stack.test, tracked)
        agents.append({"name": role.lower(), "role": role,
                       "territory": {k: v for k, v in territory.items() if v or k == "include"},
                       "chains": chains})
    if agents and "LEAD" not in proposal.territories:
        agents.append({"name": "lead", "role": "LEAD", "territory": {"include": []}, "chains": []})
    data: dict = {"sprint": {"id": sprint, "theme": theme, "goal": goal, "base_branch": base,
                             "build_command": stack.build, "test_command": stack.test,
                             "lint_command": stack.lint, "setup_command": stack.setup, "tool": tool}}
    data["sprint"] = {k: v for k, v in data["sprint"].items() if v}
    data["agents"] = agents
    waves: dict[int, list[str]] = {}
    for agent in agents:
        wave = ROLES[agent["role"]].wave
        assert wave is not None, f"{agent['role']} is proposed but has no wave"  # the orchestrator is never proposed
        waves.setdefault(wave, []).append(agent["name"])
    numbers = sorted(waves)
    data["waves"] = [{"number": n, "agents": waves[n], **({"depends_on": [numbers[i - 1]]} if i else {}),
                      "description": WAVE_DESCRIPTIONS.get(n, f"Wave {n}")}
                     for i, n in enumerate(numbers)]
    data["merge_order"] = [a["name"] for r in DEFAULT_MERGE_ORDER for a in agents if a["role"] == r]
    data["scaling"] = {"max_agents_per_wave": MAX_AGENTS_PER_WAVE}
    owner = "infra" if "INFRA" in proposal.territories else "lead"
    if agents and proposal.shared:
        data["shared_files"] = [{"path": p, "owner": owner, "policy": policy}
                                for p, policy in sorted(proposal.shared.items())]
    return data


def check_commands(root: Path, stack: Stack) -> Stack:
    """``stack`` with its commands checked for existence: a lint command whose programs are not
    installed is left out of the plan (the prompt would say it "must pass"), a missing build, test
    or setup program is kept (the plan needs them) but noted — gate 1 refuses it until installed."""
    notes = list(stack.notes)
    lint = stack.lint
    for label, command in (("build", stack.build), ("test", stack.test), ("setup", stack.setup), ("lint", lint)):
        if not command or is_placeholder(command):
            continue
        missing = missing_programs(command, root)
        if not missing:
            continue
        names = ", ".join(missing)
        if label == "lint":
            lint = None
            notes.append(f"lint command `{command}` not written into the plan: {names} not installed; "
                         "install it and set sprint.lint_command")
        else:
            notes.append(f"{label} command `{command}`: {names} not installed; install it or change "
                         f"sprint.{label}_command (gate 1 refuses the sprint until it runs)")
    return dataclasses.replace(stack, lint=lint, notes=tuple(notes))


def _check_options(sprint: str, tool: str) -> str:
    if not re.fullmatch(SPRINT_ID_PATTERN, sprint):
        raise FatalError(f"invalid --sprint {sprint!r}: use letters, digits, '.', '_' and '-' "
                         "(e.g. sprint-01)")
    allowed = ", ".join(t for t in KNOWN_TOOLS if t != "command")
    try:
        normalized = str(pydantic.TypeAdapter(ToolName).validate_python(tool))
    except pydantic.ValidationError:
        raise FatalError(f"unknown --tool {tool!r}; choose one of: {allowed}") from None
    if normalized == "command":
        raise FatalError("--tool command needs a command per agent, which init cannot guess\n"
                         f"hint: pass one of {allowed}, then set tool and command in the plan by hand")
    return normalized


def _next_free_sprint(root: Path, sprint: str) -> str:
    match = re.fullmatch(r"(.*?)(\d+)", sprint)
    if not match:
        return f"{sprint}-2"
    head, number = match.group(1), int(match.group(2))
    while (root / paths.sprint_dir(f"{head}{number:0{len(match.group(2))}d}") / "dispatch.yaml").exists():
        number += 1
    return f"{head}{number:0{len(match.group(2))}d}"


def init_project(repo: Path | None = None, *, sprint: str = "sprint-01", theme: str | None = None,
                 goal: str | None = None, tool: str = "claude", force: bool = False,
                 as_json: bool = False) -> int:
    """Write ``docs/agent-dispatch/sprints/<sprint>/dispatch.yaml`` for the repository at ``repo``."""
    tool = _check_options(sprint, tool)
    if repo is not None and not Path(repo).is_dir():
        raise FatalError(f"--repo {str(repo)!r} is not a directory\nhint: pass the repository's folder")
    root = git.get_root(repo or Path.cwd())
    target = root / paths.sprint_dir(sprint) / "dispatch.yaml"
    shown = _display(target)
    if target.exists() and not force:
        raise FatalError(f"{shown} already exists; not overwriting it\n"
                         f"hint: pass --force to replace it, or --sprint {_next_free_sprint(root, sprint)} "
                         "to start another sprint")
    files = git.list_tracked_files(root)
    stack = check_commands(root, detect_stack(root, files))
    proposal = propose(files, stack)
    if not set(proposal.territories) - {"LEAD"}:
        raise FatalError(f"no territory could be proposed: none of the {len(files)} tracked file(s) in "
                         f"{root} matches a coding role\nhint: commit the project's code first "
                         "(dispatch init reads `git ls-files`), or write the plan by hand")
    if not theme:
        first = goal.strip().splitlines()[0] if goal and goal.strip() else None
        theme = first[:80] if first else f"Starter sprint for {root.name}"
    data = build_plan(root, files, stack, proposal, sprint=sprint, theme=theme, goal=goal, tool=tool,
                      base=git.current_branch(root) or "main")
    header = HEADER.format(stack=stack.language, plan=f"{paths.sprint_dir(sprint)}/dispatch.yaml")
    text = header + dump_yaml(data)
    warnings, placeholders = _write_checked(target, text, files)
    summary = _summary(target, stack, proposal, data, warnings, placeholders)
    if as_json:
        output.write_json(summary)
    else:
        _print_summary(summary, shown)
    return 0


def _write_checked(target: Path, text: str, files: list[str]) -> tuple[int, int]:
    """Validate ``text`` as `dispatch validate` would, then write it atomically; the counts of
    warnings and of placeholder chains (errors the user must fix by rewriting them, on purpose)."""
    loaded = load_text(text, str(target))
    problems = validate(loaded, files) + list(loaded.warnings)
    placeholders = set(placeholder_chains(loaded))
    errors = [p for p in errors_only(problems) if p not in placeholders]
    if errors:  # a starter plan that does not validate is a bug here: never write it
        listing = "\n".join(str(p) for p in errors)
        raise FatalError(f"the starter plan did not validate, so it was not written:\n{listing}\n"
                         "hint: this is a bug in dispatch init; report it with `git ls-files` output")
    write_atomic(target, text)
    return len(problems) - len(placeholders), len(placeholders)


def _display(path: Path) -> str:
    try:
        cwd = Path.cwd().resolve()
        return os.path.relpath(path, cwd) if path.is_relative_to(cwd) else str(path)
    except ValueError:
        return str(path)


def _summary(target: Path, stack: Stack, proposal: Proposal, data: dict, warnings: int,
             placeholders: int) -> dict:
    waves = {name: w["number"] for w in data["waves"] for name in w["agents"]}
    return {
        # not valid while a placeholder chain is left: `dispatch validate` refuses it until rewritten
        "plan": str(target), "valid": not placeholders, "placeholders": placeholders, "warnings": warnings,
        "stack": {"name": stack.name, "language": stack.language, "evidence": list(stack.evidence),
                  "build_command": stack.build, "test_command": stack.test, "lint_command": stack.lint,
                  "setup_command": stack.setup, "components": [c.path for c in stack.components]},
        "base_branch": data["sprint"]["base_branch"],
        "agents": [{"name": a["name"], "role": a["role"], "wave": waves[a["name"]],
                    "territory": a["territory"], "files": len(proposal.files_of(a["role"])),
                    "chains": [{k: c[k] for k in ("id", "priority", "title")} for c in a["chains"]]}
                   for a in data["agents"]],
        "merge_order": data["merge_order"],
        "shared_files": data.get("shared_files", []),
        "unassigned": proposal.unassigned,
        "notes": list(stack.notes) + proposal.notes,
    }


def _print_summary(s: dict, shown: str) -> None:
    st = s["stack"]
    output.write(f"stack: {st['language']}  (from {', '.join(st['evidence']) or 'no manifest'})")
    for key in ("build_command", "test_command", "lint_command", "setup_command"):
        output.write(f"  {key.split('_')[0]:<6} {st[key] or '(none detected)'}")
    output.write(f"base branch: {s['base_branch']}")
    output.write(f"agents ({len(s['agents'])}), merge order: {' → '.join(s['merge_order'])}")
    for a in s["agents"]:
        territory = a["territory"]
        excluded = f"  except {', '.join(territory['exclude'])}" if territory.get("exclude") else ""
        output.write(f"  wave {a['wave']}  {a['name']:<9} {a['files']:>3} file(s)  "
                     f"{', '.join(territory['include']) or '(merge only)'}{excluded}")
        for chain in a["chains"]:
            output.write(f"           {chain['id']} {chain['priority']} {chain['title']}")
    for shared in s["shared_files"]:
        output.write(f"  shared   {shared['path']} (owner {shared['owner']}, {shared['policy']})")
    unassigned = s["unassigned"]
    more = f" (+{len(unassigned) - 8} more)" if len(unassigned) > 8 else ""
    listed = f": {', '.join(unassigned[:8])}{more}" if unassigned else ""
    output.write(f"unassigned: {len(unassigned)} file(s){listed}")
    for note in s["notes"]:
        output.write(f"note: {note}")
    if s["placeholders"]:
        output.write(f"wrote {shown} ({s['placeholders']} STARTER chain(s) to rewrite before it validates, "
                     f"{s['warnings']} warning(s))")
    else:
        output.write(f"wrote {shown} (valid, {s['warnings']} warning(s))")
    output.write("next:\n  1. edit the plan: rewrite the STARTER chains, check commands and territories\n"
                 f"  2. dispatch validate {shown}\n  3. dispatch render {shown}")
