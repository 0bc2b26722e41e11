"""The readiness check's reading of the migrations agrees with Alembic's (no database)."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory

from diversion_common.migrations import alembic_config
from diversion_common.revisions import known_revisions


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_heads_and_revisions_are_alembics(service: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(service, ""))
    heads, known = known_revisions(service)
    assert heads == frozenset(script.get_heads())
    assert known == frozenset(r.revision for r in script.walk_revisions())
    assert len(heads) == 1  # one line of migrations per service


def test_a_service_process_does_not_load_alembic() -> None:
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, referral_api.main, provider_gateway.main; "
         "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako'}))"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()
    assert loaded == "[]"
