"""Every setting of each service is in the README's configuration table, with its default.

The table is what an operator reads; the Settings classes are what the services read. A
field added to a class without a row fails here. A row names one variable or several
(`..._X` shares the first one's prefix) and gives one default for each, in order: the
field's default, backquoted, or "unset" for a setting with none.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from provider_gateway.config import Settings as GatewaySettings
from referral_api.config import Settings as ReferralSettings
from support.processes import REPO

SETTINGS: dict[str, type[BaseSettings]] = {"REFERRAL_API_": ReferralSettings, "PROVIDER_GATEWAY_": GatewaySettings}
_NAME = re.compile(r"`((?:[A-Z]+_)*[A-Z0-9_]+|\.\.\._[A-Z0-9_]+)`")
_VALUE = re.compile(r"`([^`]*)`")
_OTHER_VARIABLE = re.compile(r'"(DIVERSION_[A-Z_]+)"')
_PREFIXED_VARIABLE = re.compile(r'"((?:REFERRAL_API|PROVIDER_GATEWAY)_[A-Z][A-Z_]*)"')


def configuration_rows(readme: str) -> dict[str, str]:
    """Each variable the table documents, with its default cell."""
    section = readme.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        names = _NAME.findall(cells[0])
        prefix = next((p for p in SETTINGS if names[0].startswith(p)), "")  # "": a variable no Settings class reads
        full = [prefix + name[4:] if name.startswith("..._") else name for name in names]
        values = [_default(item) for item in cells[1].split(",")]
        assert len(values) == len(full), f"one default for each of {', '.join(full)}: {cells[1]}"
        rows.update(zip(full, values, strict=True))
    return rows


def _default(item: str) -> str:
    """A default as the table writes it: a backquoted value, or "unset" (maybe with what that means)."""
    value = _VALUE.search(item)
    if value:
        return value.group(1)
    return "unset" if item.strip().startswith("unset") else item.strip()


def documented_default(default: Any) -> str | None:
    """How the table writes a field's default, or None where it describes it in words."""
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if isinstance(default, dict):
        return json.dumps(default)
    return str(default)


def fields(settings: type[BaseSettings]) -> dict[str, Any]:
    return {
        name: field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        for name, field in settings.model_fields.items()
    }


@pytest.mark.parametrize("prefix", SETTINGS)
def test_every_setting_is_documented_with_its_default(prefix: str) -> None:
    rows = configuration_rows((REPO / "README.md").read_text())
    missing, wrong = [], []
    for name, default in fields(SETTINGS[prefix]).items():
        variable = prefix + name.upper()
        if variable not in rows:
            missing.append(variable)
        elif rows[variable] != documented_default(default) and not _same_number(rows[variable], default):
            wrong.append(f"{variable}: README says {rows[variable]!r}, the default is {default!r}")
    assert missing == [] and wrong == []


def test_the_table_documents_no_setting_that_does_not_exist() -> None:
    rows = configuration_rows((REPO / "README.md").read_text())
    known = {prefix + name.upper() for prefix, settings in SETTINGS.items() for name in settings.model_fields}
    assert sorted(set(rows) - known - set(other_variables())) == []


def other_variables() -> dict[str, str]:
    """The variables our code reads by name outside the Settings classes (DIVERSION_*), with their
    defaults: the literal given to ``os.environ.get`` beside the name, else "unset"."""
    found: dict[str, str] = {}
    for path in (REPO / "services").rglob("*.py"):
        source = path.read_text()
        for name in _OTHER_VARIABLE.findall(source):
            given = re.search(rf'environ\.get\("{name}",\s*"([^"]*)"\)', source)
            found[name] = given.group(1) if given else found.get(name, "unset")
    return found


def test_the_variables_read_outside_the_settings_are_documented_with_their_defaults() -> None:
    rows = configuration_rows((REPO / "README.md").read_text())
    variables = other_variables()
    assert {"DIVERSION_SECRETS_DIR", "DIVERSION_INSTANCE_ID"} <= set(variables)
    assert {name: rows.get(name) for name in variables} == variables


def test_every_prefixed_variable_named_in_the_code_is_a_setting() -> None:
    """serve and the CLI set or read some by name (e.g. the internal ports): each must be a real setting."""
    known = {prefix + name.upper() for prefix, settings in SETTINGS.items() for name in settings.model_fields}
    named = {name for path in (REPO / "services").rglob("*.py") for name in _PREFIXED_VARIABLE.findall(path.read_text())}
    assert sorted(named - known) == []


def _same_number(text: str, default: Any) -> bool:
    try:
        return isinstance(default, int | float) and float(text) == float(default)
    except ValueError:
        return False
