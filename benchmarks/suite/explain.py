"""The statements each read runs, and PostgreSQL's plans for them (`make bench-scale --explain`).

referral_api runs in this process (its app, with the environment the benchmark's process has),
each read is called once through it, every SELECT it sends is captured with its parameters, and
each is run again under EXPLAIN (ANALYZE, BUFFERS): the plans of the real statements, on the
loaded database.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from diversion_common.observability import current_request_id


def explain_reads(env: dict[str, str], paths: dict[str, Path], police_key: str, court_key: str) -> str:
    os.environ.update({name: value for name, value in env.items() if name.startswith("REFERRAL_API_")})
    from referral_api.main import create_app

    app = create_app()
    out: list[str] = []
    with TestClient(app) as client:
        engine = app.state.engine
        for name, file in paths.items():
            path = file.read_text().splitlines()[0]
            key = court_key if name.startswith("court") else police_key
            captured: list[tuple[str, Any]] = []

            def capture(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
                # The call's own statements (they run with its request id), not a background loop's.
                if current_request_id() is not None and statement.lstrip().upper().startswith("SELECT"):
                    captured.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", capture)
            try:
                answer = client.get(path, headers={"Authorization": f"Bearer {key}"})
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            out.append(f"=== {name} ({path.split('?')[0].rsplit('/', 2)[0]}/...): {answer.status_code}, {len(captured)} SELECTs\n")
            with engine.connect() as conn:
                for statement, parameters in captured:
                    plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}", parameters).scalars().all()
                    out.append(" ".join(statement.split()) + "\n" + "\n".join(f"    {line}" for line in plan) + "\n\n")
                conn.rollback()
    return "".join(out)
