"""Git has one home: no module of agent_dispatch outside the ``git`` package starts git.

Every module's syntax tree is searched for an argv that starts with the literal ``"git"`` (a list or
tuple, or a call such as ``proc.run("git", ...)``) and for calls to the package's raw runner
(``git.git(...)``) or imports of it. Hook scripts that git itself runs are text inside modules, not
calls, so they pass.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import agent_dispatch

SRC = Path(agent_dispatch.__file__).resolve().parent
GIT_PACKAGE = SRC / "git"
PACKAGE = "agent_dispatch.git"
RUNNER_MODULE = "agent_dispatch.git.runner"
RUNNER = "git"  # the raw runner's name, in the runner module and re-exported by the package


def _imports(tree: ast.AST) -> tuple[set[str], set[str], list[tuple[int, str]]]:
    """(names bound to the git package, names bound to its runner module, imports of the runner)."""
    package, runner_module, offences = {PACKAGE}, {RUNNER_MODULE}, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE and alias.asname:
                    package.add(alias.asname)
                elif alias.name == RUNNER_MODULE and alias.asname:
                    runner_module.add(alias.asname)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name
                if node.module == "agent_dispatch" and alias.name == "git":
                    package.add(bound)
                elif node.module == PACKAGE and alias.name == "runner":
                    runner_module.add(bound)
                elif ((node.module == PACKAGE and alias.name == RUNNER) or node.module == RUNNER_MODULE) \
                        and alias.name != "no_git_env":
                    offences.append((node.lineno, f"imports the raw runner ({node.module}.{alias.name})"))
    return package, runner_module, offences


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _starts_with_git(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value == "git"


def git_starts(source: str) -> list[str]:
    """Where ``source`` starts git itself, as ``line N: what`` (empty when it only calls named functions)."""
    tree = ast.parse(source)
    package, runner_module, offences = _imports(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts and _starts_with_git(node.elts[0]):
            offences.append((node.lineno, "an argv starting with 'git'"))
        elif isinstance(node, ast.Call):
            if node.args and _starts_with_git(node.args[0]):
                offences.append((node.lineno, "a call with 'git' as its first argument"))
            name = _dotted(node.func)
            if name is not None and "." in name:
                owner, attr = name.rsplit(".", 1)
                if attr == RUNNER and (owner in package or owner in runner_module):
                    offences.append((node.lineno, f"a call to the raw runner {name}()"))
    return [f"line {line}: {what}" for line, what in sorted(offences)]


def _modules_outside_the_git_package() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if GIT_PACKAGE not in p.parents)


def test_no_module_outside_the_git_package_starts_git() -> None:
    modules = _modules_outside_the_git_package()
    assert len(modules) > 50  # the walk really covers the source tree
    found = {str(p.relative_to(SRC)): hits for p in modules
             if (hits := git_starts(p.read_text(encoding="utf-8")))}
    assert found == {}, "git runs outside agent_dispatch/git/: add a named function there and call it"


def test_the_git_package_itself_is_where_git_starts() -> None:
    # The same search finds the one runner: it is not blind to real code.
    assert git_starts((GIT_PACKAGE / "runner.py").read_text(encoding="utf-8"))


def test_every_way_of_starting_git_is_found() -> None:
    raw = {
        'from agent_dispatch import proc\nproc.run("git", "log", cwd=".")\n': "first argument",
        'import subprocess\nsubprocess.run(["git", "status"])\n': "argv starting",
        'argv = ("git", "init")\n': "argv starting",
        'from agent_dispatch import git\ngit.git("log", cwd=".")\n': "raw runner git.git()",
        'from agent_dispatch import git as g\ng.git("tag", cwd=".")\n': "raw runner g.git()",
        'import agent_dispatch.git\nagent_dispatch.git.git("log", cwd=".")\n': "raw runner agent_dispatch.git.git()",
        'from agent_dispatch.git import runner\nrunner.git("log", cwd=".")\n': "raw runner runner.git()",
        'from agent_dispatch.git import git\n': "imports the raw runner",
        'from agent_dispatch.git.runner import git as run_git\n': "imports the raw runner",
    }
    for source, what in raw.items():
        hits = git_starts(source)
        assert hits and any(what in hit for hit in hits), (source, hits)


def test_named_functions_and_paths_named_git_pass() -> None:
    source = ('from pathlib import Path\nfrom agent_dispatch import git\nfrom agent_dispatch.git import no_git_env\n'
              'git.rev_parse(".", "HEAD")\ngit.recent_log(".", 5)\nPath("x") / "git" / "ignore"\n'
              'no_git_env(keep_settings=True)\nSCRIPT = "git rev-parse HEAD"\n')
    assert git_starts(source) == []


def test_the_edit_hook_path_does_not_import_git() -> None:
    # The Claude Code edit hook runs before every file edit: the git package costs it ~14 ms.
    code = "import sys, agent_dispatch.workspace.hook_entry; print('agent_dispatch.git' in sys.modules)"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
