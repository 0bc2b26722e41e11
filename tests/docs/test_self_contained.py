"""The repository stands alone: nothing in it points at a file outside it, or at a document it lacks.

A reader (or a clean checkout on another machine) has only the repository. Every text file is
checked for paths that climb out of it (`../../shared/...`), absolute paths into the
directories around this checkout, Markdown links to files it does not have, and documents
named by file name (`DOMAIN.md`) that it does not hold.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support.processes import REPO

_CLIMBING = re.compile(r"(?:\.\./)+[^\s'\"`)\]>,;]*")
_MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
_DOCUMENT_NAME = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.md)\b")


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode().split("\0")
    return [REPO / name for name in listed if name and (REPO / name).is_file()]


def text_of(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def inside(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO.resolve())


def surrounding_directories() -> list[str]:
    """The two directories this checkout sits in, as a file would name them."""
    return [f"{parent}/" for parent in list(REPO.resolve().parents)[:2] if parent != Path(parent.anchor)]


def offences(path: Path, text: str, documents: set[str]) -> list[str]:
    found = []
    for match in _CLIMBING.finditer(text):
        if not inside(path.parent / match.group(0)):
            found.append(f"climbs out of the repository: {match.group(0)}")
    for directory in surrounding_directories():
        if directory in text:
            found.append(f"names a directory around the checkout: {directory}")
    if path.suffix == ".md":
        for target in _MARKDOWN_LINK.findall(text):
            local = target.split("#")[0]
            if local and "://" not in local and not local.startswith("mailto:") and not (path.parent / local).exists():
                found.append(f"links to a file the repository lacks: {target}")
    for name in _DOCUMENT_NAME.findall(text):
        if name not in documents and Path(name).name not in documents:
            found.append(f"names a document the repository lacks: {name}")
    return found


def test_no_file_refers_to_anything_outside_the_repository() -> None:
    files = repository_files()
    documents = {str(f.relative_to(REPO)) for f in files if f.suffix == ".md"} | {f.name for f in files if f.suffix == ".md"}
    assert "README.md" in documents
    problems = []
    for path in files:
        if path == Path(__file__):
            continue  # its examples of offences, below
        text = text_of(path)
        if text is not None:
            problems += [f"{path.relative_to(REPO)}: {offence}" for offence in offences(path, text, documents)]
    assert problems == []


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    documents = {"README.md", "docs/SECURITY.md", "SECURITY.md"}
    doc = REPO / "docs" / "EXAMPLE.md"
    assert offences(doc, "see ../../shared/DOMAIN.md", documents) != []
    assert offences(doc, "the table in DOMAIN.md", documents) == ["names a document the repository lacks: DOMAIN.md"]
    assert offences(doc, "[rules](NOWHERE.md)", documents)
    assert offences(doc, "[security](SECURITY.md) and ../README.md and docs/SECURITY.md", documents) == []
