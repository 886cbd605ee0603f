"""The sprint documents in an agent's worktree: copies of what its prompt tells it to read.

`dispatch render` (gate 1) writes DISPATCH.md, the task docs and the prompts into the main
checkout, untracked; a worktree is checked out from the base branch and would lack them. Before
every session the engine copies them into the agent's worktree. They stay out of the agent's work:
untracked copies are listed in the worktree's own excludes file (``hooks.install``), tracked ones
whose rendered text differs are marked skip-worktree in the worktree's own index, so neither
``git status``, the WIP auto-save, the territory audit nor the landing ever sees them. Nothing is
committed on the base branch. See docs/agent-documents.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.files import write_atomic


def place_documents(root: Path, worktree: Path, documents: Sequence[str]) -> list[str]:
    """Copy each of ``documents`` (repository-relative) that exists in the main checkout ``root``
    into ``worktree``, where it differs; returns the paths copied. Idempotent."""
    copied: list[str] = []
    tracked_changed: list[str] = []
    for path in documents:
        source, target = root / path, worktree / path
        if not source.is_file():
            continue
        text = source.read_text(encoding="utf-8")
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        if git.is_tracked(worktree, path):
            tracked_changed.append(path)
        write_atomic(target, text)
        copied.append(path)
    # The rendered text of a document the project tracks is the agent's to read, not to commit.
    git.skip_worktree(worktree, tracked_changed)
    return copied
