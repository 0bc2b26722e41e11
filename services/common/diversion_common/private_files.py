"""Files holding personal data or credentials are readable by their owner only (0600).

Written with the mode from the start (``os.open`` with 0600), never created with the
umask's mode and narrowed afterwards, which would leave a moment when anyone can read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700


def make_private_directory(path: Path) -> None:
    """Create the directory (and its parents) readable by the owner only; an existing one is left as it is."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)


def create_private_file(path: Path) -> None:
    """Create an empty file with mode 0600 if there is none; narrow an existing one to 0600."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        narrow(path)


def narrow(path: Path) -> None:
    """Take group and other permissions off an existing file of ours (one we do not own is left)."""
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(stat.S_IMODE(path.stat().st_mode) & 0o700)
    except FileNotFoundError:
        pass
    except PermissionError:
        pass  # not ours to change; whoever owns it decides


def write_private_text(path: Path, text: str) -> None:
    """Write the file with mode 0600 from the first byte (replacing any earlier content)."""
    make_private_directory(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    narrow(path)  # an older file keeps its mode through O_TRUNC
