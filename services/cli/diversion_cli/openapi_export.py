"""The services' OpenAPI documents, as `make openapi` writes them to openapi/ (and the drift test checks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def documents() -> dict[str, dict[str, Any]]:
    from provider_gateway.config import Settings as GatewaySettings
    from provider_gateway.main import create_app as create_gateway
    from referral_api.config import Settings as ReferralSettings
    from referral_api.main import create_app as create_referral_api

    # Settings given, not read by the apps themselves: a document needs no secrets keys (a serving process does).
    return {
        "referral_api": create_referral_api(ReferralSettings()).openapi(),
        "provider_gateway": create_gateway(GatewaySettings()).openapi(),
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write(folder: Path) -> list[Path]:
    """Write ``<service>.json`` for each service into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents().items():
        path = folder / f"{name}.json"
        path.write_text(render(document))
        written.append(path)
    return written
