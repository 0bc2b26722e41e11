"""Write openapi/<service>.json from the code; tests fail when the files drift.

The same as `diversion-link openapi export` (services/cli/diversion_cli/openapi_export.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from diversion_cli.openapi_export import documents, render, write

__all__ = ["documents", "render", "main"]
OPENAPI_DIR = Path(__file__).resolve().parents[1] / "openapi"


def main() -> int:
    for path in write(OPENAPI_DIR):
        print(f"wrote openapi/{path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
