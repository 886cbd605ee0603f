"""Keep API keys and tokens out of what the tool writes: events, logs, prompts, reports, crash logs.

Two nets: the values of secret-named variables in the environment (``*_KEY``, ``*_TOKEN``,
``*_SECRET``, ``*PASSWORD``, ...), replaced by ``[REDACTED:<NAME>]`` wherever they appear; and
token formats that identify a credential on their own (the format-specific detectors of Yelp's
``detect-secrets``: Anthropic, OpenAI, GitHub, AWS, Slack, Google, Stripe keys, private key blocks,
JWTs), replaced by ``[REDACTED]``. Imports nothing from the package: every layer may use it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

# An environment variable whose value is a credential, by its name.
SECRET_NAME = re.compile(r"(?:_KEY|_TOKEN|_SECRET|PASSWORD|PASSWD|_CREDENTIALS?|_PAT)$|^(?:GH_TOKEN|GITHUB_TOKEN)$",
                         re.IGNORECASE)
# Shorter values are flags and placeholders ("1", "none", "changeme"): replacing them would mangle text.
MIN_VALUE_CHARS = 12
# Values that are no credential even under a secret-looking name.
NOT_SECRETS = frozenset({"dispatch-placeholder-key"})

# Token formats, after detect-secrets' format-specific plugins (no entropy guesses: prose survives).
VALUE_PATTERNS = (
    r"sk-ant-[A-Za-z0-9_\-]{20,}",                                # Anthropic
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{32,}",         # OpenAI
    r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}",                  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,}",                              # GitHub fine-grained tokens
    r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",           # AWS access key ids
    r"xox[abposr]-[A-Za-z0-9\-]{10,}",                            # Slack
    r"AIza[0-9A-Za-z\-_]{35}",                                    # Google API keys
    r"[rs]k_live_[0-9a-zA-Z]{24,}",                               # Stripe
    r"eyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}",  # JWT
    # A private key block; its body as text or as JSON-escaped text ("\\n" between lines).
    r"-----BEGIN[A-Z ]* PRIVATE KEY-----(?:[A-Za-z0-9+/=\s]|\\n)*(?:-----END[A-Z ]* PRIVATE KEY-----)?",
)
_TOKENS = re.compile("|".join(f"(?:{p})" for p in VALUE_PATTERNS))
REDACTED = "[REDACTED]"


def is_secret_name(name: str) -> bool:
    """True when an environment variable called ``name`` holds a credential by convention."""
    return bool(SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """value -> variable name of every secret-named variable of ``env`` (default ``os.environ``),
    longest first so a value containing another is replaced whole."""
    source = os.environ if env is None else env
    found = {value: name for name, value in source.items()
             if is_secret_name(name) and len(value) >= MIN_VALUE_CHARS and value not in NOT_SECRETS}
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret value of ``env`` (default ``os.environ``) and every known token
    format replaced by a marker that names no secret."""
    for value, name in secret_values(env).items():
        if value in text:
            text = text.replace(value, f"[REDACTED:{name}]")
    return _TOKENS.sub(REDACTED, text) if _TOKENS.search(text) else text


def redact_file(path: Path, env: Mapping[str, str] | None = None) -> bool:
    """Rewrite the text file at ``path`` (a session's log) with `redact` applied line by line, in
    place through a temporary file; True when something was replaced. A missing file is no error."""
    if not path.is_file():
        return False
    tmp = path.with_name(f".{path.name}.redact.tmp")
    changed = False
    with path.open("rb") as source, tmp.open("wb") as target:
        for raw in source:
            line = raw.decode("utf-8", errors="surrogateescape")
            clean = redact(line, env)
            changed = changed or clean != line
            target.write(clean.encode("utf-8", errors="surrogateescape"))
    if changed:
        os.replace(tmp, path)
    else:
        tmp.unlink()
    return changed
