"""The repository's documents point only at files that exist, and never outside the repository.

Each Markdown document is read for links (``[text](path)``) and for code spans that name a
file or folder of the repository (``backend/billing/services.py``, ``devstack/run.py``); each
must exist, relative to the repository, the document's folder, ``backend/`` or ``frontend/``.
Names of things made at run time (``var/...``, build output) are not files to check.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OUTSIDE = re.compile(r"\.\./shared|shared/(API|STACK|STYLE)\.md|\b(API|STACK|STYLE)\.md\b")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
SPAN = re.compile(r"`([^`\s]+)`")
# Made at run time or by a build, or not a path at all: never checked.
GENERATED = (
    "var/",
    ".venv",
    "frontend/dist",
    "dist/",
    "node_modules",
    "frontend/.node",
    "test-results",
)
FILE_LIKE = re.compile(r"^[\w.-]+(/[\w.*-]+)*/?$")
KNOWN_ROOTS = ("backend", "frontend", "tools", "nginx", "docs", "mk", "scripts", ".ci")


def tracked(pattern: str) -> list[str]:
    """The repository's files matching ``pattern`` (committed, or new and not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", pattern],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted({line for line in out.stdout.splitlines() if line and (ROOT / line).exists()})


DOCUMENTS = tracked("*.md") or sorted(
    str(p.relative_to(ROOT)) for p in ROOT.rglob("*.md") if "node_modules" not in p.parts
)


def candidates(doc: Path, name: str) -> list[Path]:
    """Where ``name`` may be: from the repository, the document's folder, the package the
    document describes (tools/x/README.md → tools/x/x/), backend/, frontend/src/."""
    name = name.rstrip("/")
    bases = [ROOT, doc.parent, doc.parent / doc.parent.name]
    bases += [ROOT / "backend", ROOT / "frontend", ROOT / "frontend" / "src", ROOT / "tools"]
    return [base / name for base in bases]


def named_paths(doc: Path) -> list[str]:
    text = doc.read_text()
    names = [m.group(1) for m in LINK.finditer(text) if "://" not in m.group(1)]
    for match in SPAN.finditer(text):
        token = match.group(1)
        if "/" not in token or not FILE_LIKE.match(token) or "*" in token:
            continue
        first = token.split("/")[0]
        # a repository path, or one relative to the document that names a file (has a suffix)
        if first in KNOWN_ROOTS or Path(token).suffix or (doc.parent / first).exists():
            names.append(token)
    return [n for n in names if not any(g in n for g in GENERATED) and not n.startswith("/")]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_path_a_document_names_exists(document: str) -> None:
    doc = ROOT / document
    missing = sorted(
        {name for name in named_paths(doc) if not any(p.exists() for p in candidates(doc, name))}
    )
    assert missing == [], f"{document} names paths that do not exist: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_no_document_points_outside_the_repository(document: str) -> None:
    text = (ROOT / document).read_text()
    assert not OUTSIDE.search(text), f"{document} points at a file outside the repository"


def test_the_checks_read_what_they_should() -> None:
    assert "README.md" in DOCUMENTS and "docs/api.md" in DOCUMENTS
    readme = named_paths(ROOT / "README.md")
    assert "docs/api.md" in readme and "backend/billing/README.md" in readme
    tools = ROOT / "tools" / "README.md"
    assert candidates(tools, "fakestripe/README.md")[1].exists()
    assert not any(p.exists() for p in candidates(tools, "fakestripe/nowhere.py"))
    outside = "see ../" + "shared/" + "API.md"  # built here: no literal outside path in the repo
    assert OUTSIDE.search(outside) and not OUTSIDE.search("see docs/api.md")


def test_no_code_comment_points_outside_the_repository() -> None:
    """Docstrings and comments too: a fresh clone has nothing beside the repository."""
    offenders = []
    for name in tracked("*.py") + tracked("*.js") + tracked("*.vue") + tracked("*.mjs"):
        if "node_modules" in name or Path(name) == Path(__file__).relative_to(ROOT):
            continue  # (this file names the outside files it looks for)
        if OUTSIDE.search((ROOT / name).read_text(errors="replace")):
            offenders.append(name)
    assert offenders == []
