"""The ref guard: per-worktree ``reference-transaction`` and ``pre-push`` hooks so that, from
inside an agent's worktree, only the agent's own branch can move.

Git runs the hook for every ref transaction started in that worktree, including a ``git push .``
into the same repository (receive-pack runs with the pushing worktree's git directory as its
``GIT_DIR``, so the per-worktree ``core.hooksPath`` applies). In the ``prepared`` state the hook
refuses updates to shared refs (other branches, tags, remote-tracking refs, ``refs/stash``, notes)
unless the ref already points where the update would put it: git 2.39's ``pack-refs`` re-writes
every ref with its current value through the same hook. Pseudo-refs (``HEAD``, ``ORIG_HEAD``,
``FETCH_HEAD``...) and worktree-private refs (``refs/bisect``, ``refs/worktree``, ``refs/rewritten``)
always pass, so commits, rebases and bisects of the agent's own branch work. ``refs/stash`` is
refused on purpose: the stash is shared by every worktree, so one agent's ``git stash pop`` could
take another agent's (or the user's) changes.

A ``pre-push`` hook covers the one way around it from inside the worktree: ``git push <path of
this repository>`` runs receive-pack in the main checkout, where no hook is installed, so pushes
into the same repository by path may only update the agent's own branch.

Escape hatch: a transaction started with ``DISPATCH_REF_GUARD_TOKEN`` set to the repository's
token (:func:`bypass_env`) is not checked. The token keeps an agent from bypassing the guard by
accident (copying a variable name from an error message); it is not a secret from a process
running as the same user, which could also just delete the hook. The guard prevents mistakes;
landing only validated commits and gate 3 are what make the result safe.
"""

from __future__ import annotations

import os
import secrets
import shlex
from pathlib import Path

from agent_dispatch import git

TOKEN_ENV = "DISPATCH_REF_GUARD_TOKEN"
PRIVATE_REF_GLOBS = ("refs/bisect/*", "refs/worktree/*", "refs/rewritten/*")

_SCRIPT = """#!/bin/sh
# agent-dispatch ref guard for agent {agent} (installed by `dispatch workspaces up`; see
# agent_dispatch/workspace/guard.py). From this worktree only {own} may move.
own={own_q}
token={token_q}
original={original_q}
input=$(cat)
if [ "$1" = prepared ] && [ "${{{token_env}:-}}" != "$token" ]; then
  refused=''
  current=''
  while read -r old new ref; do
    case "$ref" in
      "$own"|{private}) continue ;;
      refs/*) ;;
      *) continue ;;
    esac
    case "$new" in
      *[!0]*)
        [ -n "$current" ] || current=$(git for-each-ref --format='%(objectname) %(refname)')
        if printf '%s\\n' "$current" | grep -qxF "$new $ref"; then continue; fi ;;
    esac
    refused="$refused $ref"
  done <<END_OF_UPDATES
$input
END_OF_UPDATES
  if [ -n "$refused" ]; then
    echo "dispatch: refused to change$refused from the worktree of agent {agent}." >&2
    echo "Only your own branch ({branch}) may move here; the base branch, other agents'" >&2
    echo "branches, tags and shared refs are moved by the tool after validation." >&2
    echo "hint: commit your work on {branch}; mention anything else in your completion report." >&2
    exit 1
  fi
fi
if [ -n "$original" ] && [ -x "$original" ]; then
  printf '%s\\n' "$input" | "$original" "$@"
  exit $?
fi
exit 0
"""


def repo_token(root: Path) -> str:
    """The repository's escape-hatch token (created on first use, kept in the shared git dir)."""
    path = git.common_dir(root) / "dispatch" / "ref-guard-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(16) + "\n", encoding="utf-8")
        try:
            os.link(tmp, path)  # exactly one of several concurrent installers creates it
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip()


def bypass_env(root: Path) -> dict[str, str]:
    """Environment for the tool's own git commands that must move refs from inside an agent's
    worktree (landing normally runs in the main checkout, which has no hooks, and needs none)."""
    return {TOKEN_ENV: repo_token(root)}


_PUSH_SCRIPT = """#!/bin/sh
# agent-dispatch push guard for agent {agent} (see agent_dispatch/workspace/guard.py): a push
# into this same repository through its path would run in another checkout, out of reach of the
# reference-transaction hook, so it may only update {own}.
own={own_q}
token={token_q}
original={original_q}
input=$(cat)
url=${{2#file://}}
if [ "${{{token_env}:-}}" != "$token" ] && [ -d "$url" ]; then
  ours=$(cd "$(git rev-parse --path-format=absolute --git-common-dir)" && pwd -P)
  theirs=$(cd "$url" && cd "$(env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE -u GIT_COMMON_DIR \\
           -u GIT_PREFIX git rev-parse --path-format=absolute --git-common-dir 2>/dev/null)" && pwd -P)
  if [ -n "$theirs" ] && [ "$ours" = "$theirs" ]; then
    refused=''
    while read -r local_ref local_oid remote_ref remote_oid; do
      [ -z "$remote_ref" ] || [ "$remote_ref" = "$own" ] || refused="$refused $remote_ref"
    done <<END_OF_UPDATES
$input
END_OF_UPDATES
    if [ -n "$refused" ]; then
      echo "dispatch: refused to push$refused into this repository from the worktree of agent {agent}." >&2
      echo "Only your own branch ({branch}) may move; the tool lands it after validation." >&2
      echo "hint: commit your work on {branch}; there is nothing to push." >&2
      exit 1
    fi
  fi
fi
if [ -n "$original" ] && [ -x "$original" ]; then
  printf '%s\\n' "$input" | "$original" "$@"
  exit $?
fi
exit 0
"""


def push_script(*, agent: str, branch: str, token: str, original: Path | None) -> str:
    """The text of the ``pre-push`` hook for ``agent`` on ``branch``."""
    own = f"refs/heads/{branch}"
    return _PUSH_SCRIPT.format(agent=agent, branch=branch, own=own, own_q=shlex.quote(own),
                               token_q=shlex.quote(token), token_env=TOKEN_ENV,
                               original_q=shlex.quote(str(original) if original else ""))


def script(*, agent: str, branch: str, token: str, original: Path | None) -> str:
    """The text of the ``reference-transaction`` hook for ``agent`` on ``branch``."""
    own = f"refs/heads/{branch}"
    return _SCRIPT.format(
        agent=agent, branch=branch, own=own, own_q=shlex.quote(own), token_q=shlex.quote(token),
        original_q=shlex.quote(str(original) if original else ""), token_env=TOKEN_ENV,
        private="|".join(PRIVATE_REF_GLOBS),
    )
