"""/docs works offline (issue 24, "Run"): Swagger UI's files come from a package and are served by
each service itself, with no key; the page names no other host (no CDN, no validator badge)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from provider_gateway.config import Settings as GatewaySettings
from provider_gateway.main import create_app as create_gateway
from referral_api.config import Settings as ReferralSettings
from referral_api.main import create_app as create_referral_api

pytestmark = pytest.mark.database_independent


@pytest.fixture(params=["referral_api", "provider_gateway"])
def service(request, fresh_database) -> Iterator[TestClient]:
    url = fresh_database(request.param)
    if request.param == "referral_api":
        app = create_referral_api(ReferralSettings(database_url=url, gateway_api_key=None, run_delivery_worker=False, run_breach_scheduler=False))
    else:
        app = create_gateway(GatewaySettings(database_url=url, referral_api_key=None, run_delivery_worker=False))
    with TestClient(app) as client:
        yield client


def test_docs_reference_only_this_service_and_its_assets_are_served(service):
    page = service.get("/docs")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert re.findall(r"(?:https?:)?//[\w.-]+", page.text) == []  # no other host: not a CDN's, not the validator's
    assert "validatorUrl" in page.text and '"validatorUrl": null' in page.text
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(referenced) == ["/docs/assets/favicon-32x32.png", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"]
    for path in referenced:
        asset = service.get(path)
        assert asset.status_code == 200 and len(asset.content) > 0, path
    assert "SwaggerUIBundle" in service.get("/docs/assets/swagger-ui-bundle.js").text
    assert service.get("/openapi.json").json()["openapi"].startswith("3.1")  # what Swagger UI 5 reads


def test_only_the_pages_own_files_are_served(service):
    assert service.get("/docs/assets/index.html").status_code == 404
    assert service.get("/docs/assets/..%2F..%2Fpyproject.toml").status_code == 404
    assert service.get("/redoc").status_code == 404  # ReDoc loads from a CDN: not served
