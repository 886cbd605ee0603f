"""Secrets in added lines, found by Yelp's ``detect-secrets`` (offline: no verification calls).

Only the added lines are scanned. Each file is written to a scratch directory under its own
repository path with every other line left blank, so line numbers stay exact and the scanner's
file-name filters (lock files, non-text files, ...) still apply. The secret itself is never
returned: findings end up in committed reports.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# detect-secrets' plugins that match a token by its documented format. The others (entropy and
# keyword heuristics) guess, so what they find is HIGH (blocks unless accepted), not CRITICAL.
HEURISTIC_TYPES = frozenset({"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword"})
# Worth a look, not a credential: MEDIUM.
INFORMATIONAL_TYPES = frozenset({"Public IP (ipv4)"})
MAX_LINE_CHARS = 4000  # minified bundles and data blobs are not source; skip such lines

_LOCK = threading.Lock()  # detect-secrets keeps its settings in process-global state


@dataclass(frozen=True)
class SecretHit:
    """One suspected secret: where, which kinds the scanner saw, and a short digest to tell hits apart."""

    path: str
    line: int
    types: tuple[str, ...]
    digest: str  # first 8 hex of sha256 of the secret; never the secret

    @property
    def severity(self) -> str:
        """CRITICAL when a format-specific detector matched, HIGH for heuristics alone, MEDIUM
        for a public IP address."""
        types = set(self.types)
        if types <= INFORMATIONAL_TYPES:
            return "MEDIUM"
        return "HIGH" if types <= HEURISTIC_TYPES | INFORMATIONAL_TYPES else "CRITICAL"


def scan_added_lines(files: Mapping[str, Sequence[tuple[int, str]]]) -> list[SecretHit]:
    """Suspected secrets in the given added lines (path → [(line number, text)]), one hit per line."""
    from detect_secrets.core import scan
    from detect_secrets.settings import default_settings

    wanted = {p: [(n, t) for n, t in lines if len(t) <= MAX_LINE_CHARS] for p, lines in files.items()}
    wanted = {p: lines for p, lines in wanted.items() if lines and _safe(p)}
    if not wanted:
        return []
    found: dict[tuple[str, int], dict[str, str]] = {}
    with _LOCK, tempfile.TemporaryDirectory(prefix="dispatch-secrets-") as tmp, default_settings():
        for path, lines in sorted(wanted.items()):
            target = Path(tmp) / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_sparse(lines), encoding="utf-8")
            for secret in scan.scan_file(str(target)):
                value = secret.secret_value or ""
                types = found.setdefault((path, secret.line_number), {})
                types[secret.type] = hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]
    hits = []
    for (path, line), types in sorted(found.items()):
        specific = (sorted(t for t in types if t not in HEURISTIC_TYPES | INFORMATIONAL_TYPES)
                    or sorted(t for t in types if t not in INFORMATIONAL_TYPES) or sorted(types))
        hits.append(SecretHit(path, line, tuple(specific), types[specific[0]]))
    return hits


def _sparse(lines: Sequence[tuple[int, str]]) -> str:
    """The text with ``lines`` at their line numbers and every other line empty."""
    by_number = dict(lines)
    return "\n".join(by_number.get(n, "") for n in range(1, max(by_number) + 1)) + "\n"


def _safe(path: str) -> bool:
    """Repository paths only: relative, without ``..`` (the scratch copy must stay in its folder)."""
    pure = PurePosixPath(path)
    return not pure.is_absolute() and ".." not in pure.parts and "\0" not in path
