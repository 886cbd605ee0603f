"""Run one operator-written check command (build, test, a chain's verify) and keep the tail of its
output.

Below ``engine`` and ``merge`` so that the engine's checks in an agent's worktree and the merge
train's validation runs share one runner; it knows nothing of plans or sprints.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch import proc

OUTPUT_TAIL = 4000  # characters of output kept in the log and in retry messages
# The tool's own checks never leave Python bytecode in an agent's worktree, where gate 3's territory
# and "uncommitted work" audits would count it against the agent (a project without a .gitignore
# for __pycache__ has nowhere to hide it): imports write none, and what `compileall` writes anyway
# goes to a cache outside every worktree.
CHECK_ENV = {"PYTHONDONTWRITEBYTECODE": "1",
             "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "agent-dispatch-pycache")}

_SEPARATORS = frozenset({"&&", "||", ";", ";;", "|", "|&", "&", "(", ")", "{", "}", "!"})
# Words after which the next word is the program (keywords, and wrappers that run their arguments).
_PREFIX_WORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until", "time", "exec", "command",
                           "env", "nice", "nohup"})
# Words a shell runs itself: nothing to look up on PATH.
_SHELL_WORDS = frozenset({
    ".", ":", "[", "[[", "alias", "break", "case", "cd", "command", "continue", "do", "done", "echo",
    "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fi", "for", "function", "if",
    "in", "local", "printf", "pwd", "read", "return", "set", "shift", "source", "test", "then", "time",
    "trap", "true", "type", "ulimit", "umask", "unset", "until", "wait", "while",
})


@dataclass(frozen=True)
class CheckResult:
    """How one check command ended, with the tail of its combined output."""

    kind: str  # build | test | verify
    name: str  # "build", "test" or the chain id
    command: str
    ok: bool
    returncode: int
    output: str  # tail of stdout + stderr

    def as_data(self) -> dict[str, Any]:
        """JSON-ready form (what the ``verification`` event holds)."""
        return {"kind": self.kind, "name": self.name, "command": self.command, "ok": self.ok,
                "returncode": self.returncode, "output": self.output}


def tail(text: str) -> str:
    """The last :data:`OUTPUT_TAIL` characters of ``text`` (marked with an ellipsis when cut)."""
    return text if len(text) <= OUTPUT_TAIL else "…" + text[-OUTPUT_TAIL:]


def run_check(kind: str, name: str, command: str, worktree: Path, *, timeout: float | None) -> CheckResult:
    """Run one operator-written command in ``worktree`` and keep the tail of its output."""
    result = proc.run_shell_command(command, cwd=worktree, env=CHECK_ENV, timeout=timeout)
    output = tail((result.stdout + ("\n" if result.stdout and result.stderr else "") + result.stderr).strip())
    if not result.ok and not output:  # a silent failure still tells whoever reads it what happened
        output = f"(the command printed nothing; exit status {result.returncode})"
    return CheckResult(kind, name, command, result.ok, result.returncode, output)


def command_programs(command: str) -> list[str]:
    """The programs a shell command line starts: the first word of each simple command in it
    (after ``VAR=value`` assignments), shell builtins and words built at run time (``$X``) left out.
    An unparsable line (unbalanced quotes) gives none: bash will report it."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        return []
    programs: list[str] = []
    first, skip = True, False
    for word in words:
        if skip:  # the file name after a redirection
            skip = False
        elif word in _SEPARATORS:
            first = True
        elif set(word) <= set("&<>|") and ("<" in word or ">" in word):
            skip = True
        elif not first or ("=" in word and not word.startswith("=")):
            continue  # an argument, or an assignment before the program
        elif word in _PREFIX_WORDS:
            continue  # the next word is the program
        else:
            first = False
            if word not in _SHELL_WORDS and "$" not in word and "`" not in word and word not in programs:
                programs.append(word)
    return programs


def find_program(program: str, cwd: Path) -> str | None:
    """Where ``program`` is: a path (relative to ``cwd``) when it names one, else found on PATH."""
    if "/" in program:
        path = Path(program) if os.path.isabs(program) else cwd / program
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program)


def missing_programs(command: str, cwd: Path) -> list[str]:
    """The programs of ``command`` that are not installed (not on PATH, or no such file in ``cwd``)."""
    return [p for p in command_programs(command) if find_program(p, cwd) is None]
