"""What .dockerignore lets into the container's build context (the deploy and wheel tests)."""

from __future__ import annotations

import fnmatch
import subprocess

from tests.support.server import ROOT


def dockerignore_context() -> list[str]:
    """The tracked files (a fresh clone) that .dockerignore lets into the build context."""
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()

    def matches(pattern: str, path: str) -> bool:
        pattern = pattern.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if pattern.startswith("**/"):
            tails = ["/".join(parts[i:]) for i in range(len(parts))]
            return any(fnmatch.fnmatchcase(t, pattern[3:]) for t in tails)
        return any(
            fnmatch.fnmatchcase(p, pattern) for p in prefixes if p.count("/") == pattern.count("/")
        )

    kept = []
    for path in files:
        included = True
        for rule in rules:
            negated = rule.startswith("!")
            if matches(rule.lstrip("!"), path):
                included = negated
        if included:
            kept.append(path)
    return kept
