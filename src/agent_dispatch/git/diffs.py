"""What changed between commits, by file: name-status, numstat, blob sizes and file contents."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent_dispatch.git.runner import git


def changed_files(root: str | Path, base: str, tip: str) -> list[tuple[str, str]]:
    """(status letter, path) for files changed between ``base`` and ``tip`` (renames as add+delete)."""
    out = git("diff", "--no-ext-diff", "--no-renames", "--name-status", "-z", f"{base}...{tip}", cwd=root).stdout
    parts = [p for p in out.split("\0") if p]
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def added_symlinks(root: str | Path, base: str, tip: str) -> list[tuple[str, str]]:
    """(path, target) of every symbolic link that ``base...tip`` adds or changes."""
    out = git("diff", "--no-ext-diff", "--no-renames", "--raw", "-z", "--abbrev=40", f"{base}...{tip}", cwd=root).stdout
    parts = out.split("\0")
    links: list[tuple[str, str]] = []
    for header, path in zip(parts[0::2], parts[1::2]):
        fields = header.lstrip(":").split()
        if len(fields) >= 4 and fields[1] == "120000":  # the new mode: a symlink
            target = git("cat-file", "blob", fields[3], cwd=root).stdout
            links.append((path, target))
    return links


def diff_many(root: str | Path, pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """(status letter, path) changed from ``old`` to ``new`` for each (old, new) commit pair, keyed
    by ``new``: one ``diff-tree --stdin`` process. Each ``new`` must appear once."""
    if not pairs:
        return {}
    lines = "".join(f"{new} {old}\n" for old, new in pairs)  # "<commit> <parent>": diff parent → commit
    out = git("diff-tree", "--stdin", "-r", "--name-status", "-z", "--no-renames", cwd=root, input=lines).stdout
    result: dict[str, list[tuple[str, str]]] = {new: [] for _, new in pairs}
    items, current, i = out.split("\0"), None, 0
    while i < len(items):
        item = items[i]
        if item in result:  # a header line: the commit the following entries belong to
            current, i = item, i + 1
        elif item and current is not None and i + 1 < len(items):
            result[current].append((item[0], items[i + 1]))
            i += 2
        else:
            i += 1
    return result


def shortstat(root: str | Path, base: str, tip: str) -> tuple[int, int]:
    """(lines added, lines removed) between ``base`` and ``tip``."""
    out = git("diff", "--no-ext-diff", "--numstat", f"{base}...{tip}", cwd=root).stdout
    added = removed = 0
    for line in out.splitlines():
        a, r, _ = line.split("\t", 2)
        added += int(a) if a.isdigit() else 0
        removed += int(r) if r.isdigit() else 0
    return added, removed


def numstat(root: str | Path, base: str, tip: str) -> dict[str, tuple[int | None, int | None]]:
    """(lines added, lines removed) per path changed in ``base...tip``; None twice for binary files."""
    return _numstat(root, [f"{base}...{tip}"])


def numstat_removed(worktree: str | Path, *args: str, index_file: str | None = None) -> dict[str, int]:
    """Lines removed per changed path for ``git diff --numstat <args>`` (-1 for binary files).

    ``index_file`` selects the index to read (a pre-commit hook passes its ``GIT_INDEX_FILE``).
    """
    counts = _numstat(worktree, args, index_file=index_file)
    return {path: -1 if removed is None else removed for path, (_, removed) in counts.items()}


def _numstat(cwd: str | Path, args: Sequence[str], *, index_file: str | None = None
             ) -> dict[str, tuple[int | None, int | None]]:
    """(lines added, lines removed) per path of ``git diff --numstat <args>``; None for binary files."""
    result = git("diff", "--no-ext-diff", "--no-renames", "--numstat", "-z", *args, cwd=cwd,
                 env={"GIT_INDEX_FILE": index_file} if index_file else None)
    counts: dict[str, tuple[int | None, int | None]] = {}
    for entry in result.stdout.split("\0"):
        parts = entry.split("\t", 2)
        if len(parts) == 3:
            counts[parts[2]] = (int(parts[0]) if parts[0].isdigit() else None,
                                int(parts[1]) if parts[1].isdigit() else None)
    return counts


def show_file(root: str | Path, rev: str, path: str) -> str | None:
    """Contents of ``path`` at ``rev``, or None when it does not exist there."""
    result = git("show", f"{rev}:{path}", cwd=root, check=False)
    return result.stdout if result.ok else None


def has_path(root: str | Path, rev: str, path: str) -> bool:
    """True when ``path`` exists in commit ``rev``."""
    return git("cat-file", "-e", f"{rev}:{path}", cwd=root, check=False).ok


def blob_sizes(root: str | Path, rev: str, paths: list[str]) -> dict[str, int]:
    """Size in bytes of each of ``paths`` in commit ``rev`` (paths missing there are left out)."""
    wanted = [p for p in paths if "\n" not in p]
    if not wanted:
        return {}
    out = git("cat-file", "--batch-check=%(objectsize)", cwd=root,
              input="".join(f"{rev}:{p}\n" for p in wanted)).stdout.splitlines()
    return {p: int(size) for p, size in zip(wanted, out) if size.strip().isdigit()}


def diff_stat(root: str | Path, base: str, tip: str) -> str:
    """``git diff --stat`` of ``base...tip``, for people and reviewer agents."""
    return git("diff", "--no-ext-diff", "--no-renames", "--no-color", "--stat=120", f"{base}...{tip}",
               cwd=root).stdout
