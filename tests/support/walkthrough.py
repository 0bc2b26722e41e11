"""The README's walk-through as commands, each with what its comment says it answers.

A command is a logical shell line (continuation lines joined). Its trailing comment is its
expectation: a leading HTTP status (`# 409 ...`), then any number of `"field":value` JSON
fragments and `backquoted` texts, each of which must appear in what the command printed.
Comments on lines of their own are prose, not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTION = "## Walk-through with curl"
_SHELL_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
_STATUS = re.compile(r"^\s*(\d{3})\b")
_JSON_FRAGMENT = re.compile(r'"[A-Za-z_]+":(?:"[^"]*"|-?\d+(?:\.\d+)?|true|false|null|\[[^\]]*\])')
_QUOTED = re.compile(r"`([^`]+)`")
# What the tests' curl wrapper and scripts/send_provider_event.py print for an answer's status.
_PRINTED_STATUS = re.compile(r"^(?:@@status (\d{3})|(\d{3}) [\[{])", re.M)
# The commands whose answer a reader sees, so each must say what it is.
_CALLS = ("curl ", "event ")


@dataclass(frozen=True)
class Expectation:
    status: int | None
    fragments: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, comment: str) -> Expectation:
        status = _STATUS.match(comment)
        return cls(
            status=int(status.group(1)) if status else None,
            fragments=tuple(_JSON_FRAGMENT.findall(comment)),
            texts=tuple(_QUOTED.findall(comment)),
        )

    def failures(self, output: str) -> list[str]:
        found = []
        statuses = [int(curl or script) for curl, script in _PRINTED_STATUS.findall(output)]
        if self.status is not None and (not statuses or statuses[-1] != self.status):
            found.append(f"status {statuses[-1] if statuses else 'none'}, expected {self.status}")
        found += [f"{fragment} not in the answer" for fragment in self.fragments if fragment not in output]
        found += [f"`{text}` not in the answer" for text in self.texts if text.lower() not in output.lower()]
        return found


@dataclass(frozen=True)
class Command:
    line: int  # where it starts in its block, from 1
    text: str
    expectation: Expectation | None = field(default=None)

    def calls_a_service(self) -> bool:
        return self.text.lstrip().startswith(_CALLS)


def section_blocks(readme: str, heading: str = SECTION) -> list[str]:
    """The ```sh blocks under ``heading``, up to the next heading of its level."""
    start = readme.index(heading + "\n")
    following = readme.find("\n## ", start + len(heading))
    return _SHELL_BLOCK.findall(readme[start : following if following != -1 else None])


def split_comment(line: str) -> tuple[str, str | None]:
    """The shell text and its trailing comment (a `#` outside quotes, at a word's start)."""
    quote = None
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), None


def commands(block: str) -> list[Command]:
    found: list[Command] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(block.splitlines(), start=1):
        text, comment = split_comment(raw)
        if not pending:
            start = number
        if not text.strip() and not pending:
            continue  # a blank line or prose
        if text.endswith("\\"):
            pending.append(text)
            continue
        pending.append(text)
        found.append(Command(start, "\n".join(pending), Expectation.parse(comment) if comment else None))
        pending = []
    assert not pending, "the block ends inside a command"
    return found
