"""Send one provider event as a provider's system would: signed with the public
`standardwebhooks` package, to POST /v1/provider/events. Prints the status and the answer.

    PROVIDER_KEY=... PROVIDER_SECRET=whsec_... \\
      python scripts/send_provider_event.py appointment.booked CASE_ID appointment_id=a-1 kind=assessment \\
      starts_at=2026-12-03T18:30:00Z mode=in_person out_of_hours=true

`occurred_at` defaults to now; a value is taken as JSON when it parses (true, 3), else as text.
GATEWAY_URL defaults to http://127.0.0.1:8001.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook


def value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    event_type, case_id, *fields = argv
    now = datetime.now(UTC)
    data = {"case_id": case_id, "occurred_at": now.isoformat().replace("+00:00", "Z")}
    data.update({key: value(raw) for key, _, raw in (field.partition("=") for field in fields)})
    body = json.dumps({"type": event_type, "data": data})
    webhook_id = f"evt_{uuid.uuid4().hex}"
    headers = {
        "Authorization": f"Bearer {os.environ['PROVIDER_KEY']}",
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(os.environ["PROVIDER_SECRET"]).sign(webhook_id, now, body),
    }
    response = httpx.post(f"{os.environ.get('GATEWAY_URL', 'http://127.0.0.1:8001')}/v1/provider/events", content=body, headers=headers)
    print(response.status_code, response.text)
    return 0 if response.status_code < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
