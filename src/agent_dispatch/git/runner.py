"""Running git: the one runner every other module of the package goes through, and the
environment it runs with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from agent_dispatch import proc
from agent_dispatch.errors import GitError

# Kept when the tool runs git: identity, transport, and which config files the user points at.
_KEEP = {"GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
         "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
         "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL",
         "GIT_TEMPLATE_DIR"}
# Prefixes of the variables that point git at another repository, index or work tree.
_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX")


def no_git_env(extra: Mapping[str, str] | None = None, *, keep_settings: bool = False) -> dict[str, str]:
    """The current environment without GIT_* variables that would redirect git (hooks set them).

    By default every GIT_* variable goes except identity, transport and config locations, so git
    run by the tool behaves the same wherever the tool was started. With ``keep_settings`` only
    the variables naming another repository, index or work tree go: agent sessions keep the
    user's other git settings (editor, pager, askpass...). ``extra`` is set on top.
    """
    if keep_settings:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_REDIRECTS)}
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP}
    if extra:
        env.update(extra)
    return env


def git(*args: str, cwd: str | Path, check: bool = True, input: str | None = None,
        env: Mapping[str, str] | None = None) -> proc.Result:
    """Run ``git args`` in ``cwd``; a failure becomes :class:`GitError` with git's own words.

    ``env`` holds variables set on top of :func:`no_git_env` (an index file, an identity).
    """
    result = proc.run("git", *args, cwd=cwd, env=no_git_env(env), check=False, input=input)
    if check and not result.ok:
        detail = (result.stderr or result.stdout).strip()
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {detail}")
    return result
