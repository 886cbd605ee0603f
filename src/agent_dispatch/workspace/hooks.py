"""Install the guards of one agent worktree, touching nothing outside it.

Everything lives in the worktree's own git directory (``.git/worktrees/<name>/dispatch/``) and
its per-worktree config (``extensions.worktreeConfig``): ``core.hooksPath`` points at our hooks
there, so the main checkout and the other worktrees keep their own hooks, and ``user.name`` /
``user.email`` give the agent's commits its own identity. Hooks the repository
already had are chained (ours run first), so a project's own pre-commit still runs in agent
worktrees. For Claude Code agents a PreToolUse hook goes into the worktree's
``.claude/settings.local.json``, which a per-worktree excludes file keeps out of ``git status``;
the same file keeps out the sprint documents copied into the worktree (``workspace.documents``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.files import write_atomic
from agent_dispatch.ownership import TerritoryRules
from agent_dispatch.workspace import guard
from agent_dispatch.workspace.rules import write_rules

HOOK_MODULE = "agent_dispatch.workspace.hook_entry"
CLAUDE_SETTINGS = ".claude/settings.local.json"
CLAUDE_MATCHER = "Write|Edit|MultiEdit|NotebookEdit"
OWN_HOOKS = ("pre-commit", "reference-transaction", "pre-push")
CONFIG_KEYS = ("core.hooksPath", "core.excludesFile", "gc.auto", "dispatch.agent", "dispatch.plan", "user.name",
               "user.email")


@dataclass(frozen=True)
class GuardSpec:
    """What to install in one agent's worktree."""

    rules: TerritoryRules
    plan_path: Path  # absolute; `dispatch territory check` inside the worktree reads it
    token: str  # the repository's ref-guard token (guard.repo_token), read once per run
    original_hooks: Path  # the repository's own hooks directory, chained from ours
    claude: bool = False  # also install the Claude Code PreToolUse hook
    global_excludes: Path | None = None  # the user's excludes file, copied into ours (global_excludes())
    identity: tuple[str, str] | None = None  # (name, email) of the agent's commits (naming.context.git_identity)
    event_log: Path | None = None  # the sprint's event log: the hooks record their refusals there
    documents: tuple[str, ...] = ()  # sprint documents copied into the worktree (naming.context.sprint_documents)


def dispatch_dir(worktree: Path) -> Path:
    """Our files for ``worktree``: inside its own git directory, removed with the worktree."""
    return git.worktree_git_dir(worktree) / "dispatch"


def rules_path(worktree: Path) -> Path:
    """Where the territory rules snapshot of ``worktree`` is stored."""
    return dispatch_dir(worktree) / "territory.json"


def hook_command(mode: str, rules_file: Path, event_log: Path | None = None) -> str:
    """The shell command an installed hook runs (``-I``: nothing from the worktree is imported);
    with ``event_log``, a refusal is also appended to that sprint log."""
    argv = [sys.executable, "-I", "-m", HOOK_MODULE, mode, str(rules_file), *([str(event_log)] if event_log else [])]
    return " ".join(shlex.quote(p) for p in argv)


def _write_script(path: Path, text: str) -> None:
    write_atomic(path, text, mode=0o755)


def _original(spec: GuardSpec, name: str) -> Path | None:
    path = spec.original_hooks / name
    return path if path.is_file() and os.access(path, os.X_OK) else None


def _pre_commit_script(spec: GuardSpec, rules_file: Path) -> str:
    original = _original(spec, "pre-commit")
    chain = f"exec {shlex.quote(str(original))} \"$@\"\n" if original else "exit 0\n"
    return ("#!/bin/sh\n"
            f"# agent-dispatch territory check for agent {spec.rules.agent} (see {HOOK_MODULE})\n"
            f"{hook_command('pre-commit', rules_file, spec.event_log)} || exit 1\n" + chain)


def _install_hooks(spec: GuardSpec, hooks: Path, rules_file: Path) -> None:
    if hooks.exists():
        shutil.rmtree(hooks)
    hooks.mkdir(parents=True)
    _write_script(hooks / "pre-commit", _pre_commit_script(spec, rules_file))
    _write_script(hooks / "reference-transaction", guard.script(
        agent=spec.rules.agent, branch=spec.rules.branch, token=spec.token,
        original=_original(spec, "reference-transaction")))
    _write_script(hooks / "pre-push", guard.push_script(
        agent=spec.rules.agent, branch=spec.rules.branch, token=spec.token, original=_original(spec, "pre-push")))
    if spec.original_hooks.is_dir():
        for hook in spec.original_hooks.iterdir():
            if hook.name not in OWN_HOOKS and "." not in hook.name and _original(spec, hook.name):
                _write_script(hooks / hook.name, f"#!/bin/sh\nexec {shlex.quote(str(hook))} \"$@\"\n")


def global_excludes(root: Path) -> Path | None:
    """The user's own excludes file (``core.excludesFile`` or git's XDG default), if any."""
    configured = git.get_config(root, "core.excludesFile")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "git" / "ignore"


def _install_claude(worktree: Path, spec: GuardSpec, rules_file: Path) -> bool:
    if git.is_tracked(worktree, CLAUDE_SETTINGS):
        return False  # the project tracks it: writing it would dirty the worktree
    settings_file = worktree / CLAUDE_SETTINGS
    settings = json.loads(settings_file.read_text(encoding="utf-8")) if settings_file.exists() else {}
    entries = settings.setdefault("hooks", {}).setdefault("PreToolUse", [])
    entries[:] = [e for e in entries if HOOK_MODULE not in json.dumps(e)]
    entries.append({"matcher": CLAUDE_MATCHER,
                    "hooks": [{"type": "command", "command": hook_command("claude", rules_file, spec.event_log)}]})
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return True


def _write_excludes(spec: GuardSpec, ours: Path, paths: list[str]) -> None:
    """This worktree's excludes file: ``paths`` (anchored) plus the user's own excludes, which a
    per-worktree ``core.excludesFile`` would otherwise replace."""
    original = spec.global_excludes
    copied = original.read_text(encoding="utf-8") if original and original.is_file() and original != ours else ""
    listed = "".join(f"/{p}\n" for p in paths)
    ours.write_text(f"# agent-dispatch: this worktree's excludes (core.excludesFile, --worktree)\n"
                    f"{listed}# copied from {original}:\n{copied}", encoding="utf-8")


def install(worktree: Path, spec: GuardSpec) -> list[str]:
    """Install (or refresh) the guards of ``worktree``; returns notes for the operator."""
    folder = dispatch_dir(worktree)
    rules_file = folder / "territory.json"
    write_rules(rules_file, spec.rules)
    _install_hooks(spec, folder / "hooks", rules_file)
    notes = []
    claude = spec.claude and _install_claude(worktree, spec, rules_file)
    if spec.claude and not claude:
        notes.append(f"{CLAUDE_SETTINGS} is tracked by the project: Claude Code edit hook not installed")
    # Sprint documents are copies for the agent to read: never part of its work (status, commits, audit).
    excluded = [*([CLAUDE_SETTINGS] if claude else []), *spec.documents]
    if excluded:
        _write_excludes(spec, folder / "exclude", excluded)
    git.set_worktree_configs(worktree, {
        "core.hooksPath": str(folder / "hooks"),
        **({"core.excludesFile": str(folder / "exclude")} if excluded else {}),
        # No automatic gc here: git 2.39's pack-refs rewrites every ref through the ref guard,
        # which refuses the pruning step. Maintenance belongs to the main checkout.
        "gc.auto": "0",
        "dispatch.agent": spec.rules.agent,
        "dispatch.plan": str(spec.plan_path),
        # Why per worktree: an agent's `git config user.email ...` writes the shared config, which
        # every other agent's commits then carried; the worktree's own setting wins over it.
        **({"user.name": spec.identity[0], "user.email": spec.identity[1]} if spec.identity else {}),
    })
    return notes


def uninstall(worktree: Path) -> None:
    """Remove everything :func:`install` put into ``worktree`` (before it goes back to the pool)."""
    for key in CONFIG_KEYS:
        git.unset_config(worktree, key, worktree=True)
    settings_file = worktree / CLAUDE_SETTINGS
    if settings_file.exists() and not git.is_tracked(worktree, CLAUDE_SETTINGS):
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
        entries = settings.get("hooks", {}).get("PreToolUse", [])
        entries[:] = [e for e in entries if HOOK_MODULE not in json.dumps(e)]
        if settings in ({"hooks": {"PreToolUse": []}}, {}):
            settings_file.unlink()
        else:
            settings_file.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(dispatch_dir(worktree), ignore_errors=True)
    git.drop_empty_worktree_config(worktree)
