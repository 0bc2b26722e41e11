"""Write openapi/<service>.json from the code; tests fail when the files drift."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPENAPI_DIR = Path(__file__).resolve().parents[1] / "openapi"


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


def main() -> int:
    OPENAPI_DIR.mkdir(exist_ok=True)
    for name, document in documents().items():
        (OPENAPI_DIR / f"{name}.json").write_text(render(document))
        print(f"wrote openapi/{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
