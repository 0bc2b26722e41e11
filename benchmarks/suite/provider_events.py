"""What the provider-event path needs: cases accepted by a provider, and events signed ahead.

wrk cannot sign (HMAC-SHA256), so each run's events are signed just before it, as a provider
using the public `standardwebhooks` package would (tests/support/gateway_flows.py), and written
one per line for benchmarks/events.lua.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from support.gateway_flows import signed_event


def routed_cases(referral_api_database: str, count: int) -> list[str]:
    """Cases the intake runs created and the gateway routed (to the bench's one provider)."""
    with psycopg.connect(referral_api_database) as conn:
        rows = conn.execute("SELECT id FROM referral_cases WHERE status = 'routed' LIMIT %s", (count,)).fetchall()
    return [str(uuid.UUID(str(row[0]))) for row in rows]


def accept(gateway_url: str, provider_key: str, secret: str, case_ids: list[str], timeout: float = 120.0) -> None:
    """The provider accepts each case (referral.accepted), each applied by referral_api before the next."""
    headers = {"Authorization": f"Bearer {provider_key}"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        for case_id in case_ids:
            occurred_at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
            body, signed = signed_event(secret, {"type": "referral.accepted", "data": {"case_id": case_id, "occurred_at": occurred_at}})
            answer = client.post("/v1/provider/events", content=body, headers={**signed, **headers})
            while answer.status_code == 202 or (answer.status_code == 200 and answer.json()["outcome"] == "pending"):
                if time.monotonic() > deadline:
                    raise RuntimeError("an acceptance was not applied in time")
                time.sleep(0.05)
                answer = client.get(answer.json()["links"]["self"], headers=headers)
            if answer.status_code != 200 or answer.json()["outcome"] != "applied":
                raise RuntimeError(f"accepting a case: {answer.status_code} {answer.text[:300]}")


def write_events(path: Path, secret: str, case_ids: list[str], count: int) -> Path:
    """``count`` signed contact attempts (a phone call not answered: it moves only the programme),
    taking the cases in turn so that two events in flight are rarely about the same case."""
    occurred_at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with path.open("w") as out:
        for index in range(count):
            event = {"type": "contact.attempted", "data": {
                "case_id": case_ids[index % len(case_ids)], "occurred_at": occurred_at, "method": "phone", "outcome": "no_answer",
            }}
            body, headers = signed_event(secret, event)
            out.write(f"{headers['webhook-id']}\t{headers['webhook-timestamp']}\t{headers['webhook-signature']}\t{body.decode()}\n")
    return path
