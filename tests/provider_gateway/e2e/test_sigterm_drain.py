"""SIGTERM (a deployment, a scale-down) while work is under way: nothing is cut off.

A service told to stop takes no new connection but answers the requests it is serving; a
delivery worker finishes its tries and records them; a worker made to stop at once (a second
SIGTERM) gives back the leases of the tries it cut, so they go out again at once, not when
the lease runs out. Real processes; the provider is the fake that hangs on request.
"""

from __future__ import annotations

import json
import signal
import socket
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import h11
import httpx
from sqlmodel import Session, select

from diversion_common.credentials import Role
from diversion_common.database import as_utc, make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.deliveries.tables import DeliveryAttempt
from provider_gateway.events.tables import ProviderEventReceipt
from referral_api.cases.tables import Case
from support.credentials import bearer, issue_key
from support.delivery_system import DeliverySystem, delivered_case_ids, refer
from support.fake_provider import Answer
from support.gateway_flows import delivery_for, route_a_case, signed_event
from support.processes import ServiceProcess, start_together, wait_for
from support.provider_events import event
from support.referrals import adult_referral

# Long enough that a lease left held (until it ran out) could not pass for one given back.
SLOW_TO_EXPIRE = {"PROVIDER_GATEWAY_DELIVERY_TIMEOUT_SECONDS": "10", "PROVIDER_GATEWAY_DELIVERY_LEASE_SECONDS": "60"}


class HeldRequest:
    """A request the service has started to serve (it is reading the body) whose body we hold back.

    It is sent with ``Expect: 100-continue``: the server answers ``100 Continue`` when the app
    first reads the body, past the key check, so the request is surely in the app's hands.
    """

    def __init__(self, url: str, path: str, headers: dict[str, str], body: bytes) -> None:
        parts = urlsplit(url)
        self.body = body
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=20)
        self.conn = h11.Connection(our_role=h11.CLIENT)
        headers = {**headers, "Host": parts.netloc, "Content-Length": str(len(body)), "Expect": "100-continue"}
        self.sock.sendall(self.conn.send(h11.Request(method="POST", target=path, headers=list(headers.items()))))
        first = self._next_event()
        assert isinstance(first, h11.InformationalResponse) and first.status_code == 100, first

    def _next_event(self):  # type: ignore[no-untyped-def]
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(65536))
                continue
            return event

    def finish(self) -> tuple[int, dict]:
        """Send the body; the status and JSON body of the answer."""
        self.sock.sendall(self.conn.send(h11.Data(data=self.body)) + self.conn.send(h11.EndOfMessage()))
        response = self._next_event()
        assert isinstance(response, h11.Response), response
        chunks = []
        while not isinstance(event := self._next_event(), h11.EndOfMessage):
            chunks.append(bytes(event.data))
        self.sock.close()
        return response.status_code, json.loads(b"".join(chunks))


def refuses_connections(service: ServiceProcess) -> bool:
    try:
        socket.create_connection(("127.0.0.1", service.port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def stopped_gracefully(service: ServiceProcess) -> bool:
    # uvicorn, after its lifespan's shutdown (the relay, the in-process workers) has run;
    # it then ends itself with the signal it was sent, as it should.
    return service.exit_code(timeout=20) in (0, -signal.SIGTERM) and "Application shutdown complete." in service.log_path.read_text()


def unhandled_errors(system: DeliverySystem) -> list[str]:
    logs = [system.referral_api.log_path, system.gateway.log_path, *(w.log_path for w in system.workers)]
    return [
        line for log in logs if log.exists()
        for line in log.read_text(errors="replace").splitlines() if "unhandled error" in line or "Traceback" in line
    ]


def test_requests_and_deliveries_under_way_at_sigterm_finish_with_their_answers(delivery_system: DeliverySystem):
    system = delivery_system
    system.env.update(SLOW_TO_EXPIRE)
    start_together(system.gateway, system.referral_api)
    provider = system.register_provider()
    provider_key = bearer(issue_key(gateway_engine := make_engine(system.env["PROVIDER_GATEWAY_DATABASE_URL"]),
                                    GatewayClient, Role.provider, provider_id=uuid.UUID(provider["id"])))
    worker = system.start_worker()
    routed = refer(system)
    assert wait_for(lambda: routed in delivered_case_ids(system), timeout=30)
    # Three referrals whose delivery the provider takes 5 s to answer: under way at the SIGTERM.
    system.provider.answer_next(*[Answer(200, hang_seconds=5)] * 3)
    slow = [refer(system) for _ in range(3)]
    assert wait_for(lambda: set(slow) <= delivered_case_ids(system), timeout=30)
    # Two referrals and a provider's event, in the services' hands, their bodies not yet sent.
    police = {**system.headers("police"), "Content-Type": "application/json"}
    referrals = [HeldRequest(system.referral_api.url, "/v1/referrals", police, json.dumps(adult_referral()).encode()) for _ in range(2)]
    raw, signed = signed_event(provider["signing_secret"], event("referral.accepted", routed))
    accepted = HeldRequest(system.gateway.url, "/v1/provider/events", {**signed, **provider_key}, raw)

    for process in (system.referral_api, system.gateway, worker):
        process.terminate()
    assert not any(r.answered for r in system.provider.received if r.payload["data"]["case_id"] in slow), "answered before the SIGTERM"
    # Each service stops taking connections at once, yet stays to answer what it has.
    assert wait_for(lambda: refuses_connections(system.referral_api) and refuses_connections(system.gateway), timeout=10)
    assert system.referral_api.process.poll() is None and system.gateway.process.poll() is None

    answers = [held.finish() for held in referrals]
    assert [status for status, _ in answers] == [201, 201], answers
    status, receipt = accepted.finish()
    # 200 if referral_api was still there to decide it, 202 (kept, applied when it is back) if not.
    assert status in (200, 202) and receipt["event_type"] == "referral.accepted" and not receipt["duplicate"], (status, receipt)

    assert stopped_gracefully(system.referral_api) and stopped_gracefully(system.gateway)
    # The worker waited for the provider's answers, recorded them, and then exited.
    assert worker.exit_code(timeout=15) == 0
    assert [r.answered for r in system.provider.received if r.payload["data"]["case_id"] in slow] == [200] * 3
    for case_id in slow:
        delivery = delivery_for(gateway_engine, case_id)
        assert delivery.status == "delivered" and delivery.attempts == 1, (delivery.status, delivery.attempts)
    with Session(gateway_engine) as session:
        assert session.get(ProviderEventReceipt, (uuid.UUID(provider["id"]), signed["webhook-id"])) is not None
    gateway_engine.dispose()
    referral_engine = make_engine(system.env["REFERRAL_API_DATABASE_URL"])
    with Session(referral_engine) as session:
        assert all(session.get(Case, uuid.UUID(body["id"])) is not None for _, body in answers)
    referral_engine.dispose()
    assert unhandled_errors(system) == []


def test_a_worker_stopped_at_once_gives_back_the_leases_of_the_tries_it_cut(delivery_system: DeliverySystem):
    system = delivery_system
    system.env.update(SLOW_TO_EXPIRE)
    system.gateway.start()
    system.register_provider()
    system.provider.answer_next(*[Answer(200, hang_seconds=30)] * 2)  # past the worker's 10 s timeout
    worker = system.start_worker()
    with httpx.Client(base_url=system.gateway.url) as gateway:
        case_ids = [route_a_case(gateway, bearer(system.env["REFERRAL_API_GATEWAY_API_KEY"])) for _ in range(2)]
    assert wait_for(lambda: len(system.provider.received) == 2, timeout=30)

    worker.terminate()
    assert worker.exit_code(timeout=1) is None  # the first SIGTERM: it waits for its tries
    worker.terminate()  # the second: now
    assert worker.exit_code(timeout=5) == 0
    engine = make_engine(system.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        deliveries = [delivery_for(engine, case_id) for case_id in case_ids]
        with Session(engine) as session:
            attempts = session.exec(select(DeliveryAttempt)).all()
    finally:
        engine.dispose()
    for delivery in deliveries:
        # Due again now, not in 60 s; and no try recorded, as its outcome is unknown.
        assert delivery.status == "pending" and as_utc(delivery.next_attempt_at) <= datetime.now(UTC), delivery.next_attempt_at
    assert attempts == []

    system.start_worker()
    # Sent again at once (the same webhook-ids: a provider that got the first try drops the repeat).
    assert wait_for(lambda: len(system.provider.accepted()) == 2, timeout=20)
    assert {r.webhook_id for r in system.provider.accepted()} == {d.id for d in deliveries}
    assert unhandled_errors(system) == []
