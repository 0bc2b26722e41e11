"""The committed OpenAPI documents are what the code says, and they say enough.

``openapi/*.json`` is what other teams read and generate clients from, so it
must not drift from the code: ``make openapi`` rewrites it. Beyond equality,
every operation must say who may call it and how it fails.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPORT_SCRIPT = ROOT / "scripts" / "export_openapi.py"
OPENAPI_DIR = ROOT / "openapi"
PROBLEM_MEDIA_TYPE = "application/problem+json"
UNSECURED = {("get", "/health"), ("get", "/health/live"), ("get", "/health/ready")}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _load_exporter() -> ModuleType:
    # scripts/ is not a package: load the script by path, as `make openapi` runs it.
    spec = importlib.util.spec_from_file_location("export_openapi", EXPORT_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def exporter() -> ModuleType:
    return _load_exporter()


@pytest.fixture(scope="module")
def documents(exporter: ModuleType) -> dict[str, dict[str, Any]]:
    return exporter.documents()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_both_services_are_exported(documents: dict[str, dict[str, Any]]) -> None:
    assert set(documents) == {"referral_api", "provider_gateway"}
    assert sorted(p.stem for p in OPENAPI_DIR.glob("*.json")) == sorted(documents), (
        "openapi/ holds a document for a service that is not exported (or misses one); run `make openapi`"
    )


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_committed_document_matches_the_code(service: str, exporter: ModuleType, documents: dict[str, Any]) -> None:
    committed_path = OPENAPI_DIR / f"{service}.json"
    assert committed_path.exists(), f"openapi/{service}.json is missing: run `make openapi` and commit the result"
    expected = exporter.render(documents[service])
    committed = committed_path.read_text()
    if committed != expected:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                fromfile=f"openapi/{service}.json (committed)",
                tofile=f"openapi/{service}.json (from the code)",
                n=2,
            )
        )
        shown = diff if len(diff) < 4000 else diff[:4000] + "\n... (diff truncated)\n"
        pytest.fail(
            f"openapi/{service}.json is out of date with the code: run `make openapi` and commit the result.\n{shown}",
            pytrace=False,
        )


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_every_operation_declares_security(service: str, documents: dict[str, Any]) -> None:
    document = documents[service]
    schemes = document.get("components", {}).get("securitySchemes", {})
    assert schemes.get("ApiKey", {}).get("scheme", "").lower() == "bearer", "the ApiKey bearer scheme is not declared"
    missing = []
    for method, path, operation in _operations(document):
        if (method, path) in UNSECURED:
            assert not operation.get("security"), f"{method.upper()} {path} should stay open"
            continue
        security = operation.get("security") or document.get("security")
        if not security or not all(set(requirement) <= set(schemes) and requirement for requirement in security):
            missing.append(f"{method.upper()} {path}")
    assert not missing, f"operations without a declared security requirement: {missing}"


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_every_operation_documents_its_problem_responses(service: str, documents: dict[str, Any]) -> None:
    problems = []
    for method, path, operation in _operations(documents[service]):
        if (method, path) in UNSECURED:
            continue
        responses = operation.get("responses", {})
        expected = {"401", "403"}
        if operation.get("requestBody") or operation.get("parameters"):
            expected.add("422")
        if operation.get("requestBody"):
            # The body middleware answers these before any handler runs.
            expected |= {"400", "413", "415"}
        for status in sorted(expected - set(responses)):
            problems.append(f"{method.upper()} {path}: {status} is not documented")
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                content = response.get("content", {})
                if set(content) != {PROBLEM_MEDIA_TYPE}:
                    problems.append(f"{method.upper()} {path}: {status} is not documented as {PROBLEM_MEDIA_TYPE}")
                elif content[PROBLEM_MEDIA_TYPE].get("schema", {}).get("$ref") != "#/components/schemas/ProblemDetails":
                    problems.append(f"{method.upper()} {path}: {status} does not use the ProblemDetails schema")
    assert not problems, "\n".join(problems)
