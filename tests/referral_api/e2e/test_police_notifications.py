"""Police systems are told of status changes: referral_api as a real process, its embedded
worker, the callback registered with the CLI, a police system speaking the real protocol."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session

from diversion_common.contracts import CaseStatus
from diversion_common.credentials import Role
from diversion_common.database import make_engine
from referral_api.clients.tables import Client as ReferralClient
from referral_api.config import get_settings
from referral_api.callbacks.service import notify_status_changed
from support.fast_delivery import FAST_NOTIFICATIONS
from support.processes import cli, wait_for
from support.referrals import adult_referral, youth_referral
from support.two_services import issue
from support.webhook_receiver import Answer, WebhookReceiver


@pytest.fixture
def police_system() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def notifying(system, police_system, monkeypatch):
    """referral_api (not yet started) with fast retries; the callback registered with the CLI."""
    system.env.update({**FAST_NOTIFICATIONS, "REFERRAL_API_PUBLIC_BASE_URL": system.referral_api.url})
    # The status changes below are made in this process: its links must name the service too.
    monkeypatch.setenv("REFERRAL_API_PUBLIC_BASE_URL", system.referral_api.url)
    get_settings.cache_clear()
    registered = cli(system.env, "callbacks", "set", "--force", "thames-valley", "--url", police_system.url, "--json")
    assert registered.returncode == 0, registered.stderr
    police_system.secrets = [json.loads(registered.stdout)["signing_secret"]]
    yield system
    get_settings.cache_clear()


def refer_and_change_status(system, status: CaseStatus) -> str:
    """A real referral, then a status change committed as the lifecycle would commit it."""
    response = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"), timeout=10)
    assert response.status_code == 201, response.text
    case = response.json()
    engine = make_engine(system.env["REFERRAL_API_DATABASE_URL"])
    with Session(engine) as session:
        notify_status_changed(
            session, case_id=uuid.UUID(case["id"]), force="thames-valley", police_reference=case["police_reference"], status=status, version=2
        )
        session.commit()
    engine.dispose()
    return case["id"]


def test_the_police_system_is_told_and_follows_the_link_with_its_own_key(notifying, police_system):
    system = notifying
    system.referral_api.start()
    police_system.answer_next(Answer(503))
    case_id = refer_and_change_status(system, CaseStatus.accepted_by_provider)

    assert wait_for(lambda: police_system.accepted(), timeout=15)
    first, second = police_system.received
    assert first.webhook_id == second.webhook_id and second.verified
    data = second.payload["data"]
    assert (data["case_id"], data["status"]) == (case_id, "accepted_by_provider")
    case = httpx.get(data["links"]["case"], headers=system.headers("police"))
    assert case.status_code == 200 and case.json()["id"] == case_id

    listed = cli(system.env, "callbacks", "list", "--json")
    assert [c["force"] for c in json.loads(listed.stdout)] == ["thames-valley"]
    admin = {"Authorization": f"Bearer {issue(system.env['REFERRAL_API_DATABASE_URL'], ReferralClient, Role.admin)}"}
    [delivery] = httpx.get(f"{system.referral_api.url}/v1/admin/deliveries", headers=admin).json()["items"]
    assert delivery["id"] == first.webhook_id and delivery["status"] == "delivered" and delivery["attempts"] == 2


def test_referral_api_killed_mid_notification_sends_it_after_restart_with_at_most_one_repeat(notifying, police_system):
    system = notifying
    system.referral_api.start()
    police_system.answer_next(Answer(200, hang_seconds=1.5))  # the worker is surely mid-send when killed
    case_id = refer_and_change_status(system, CaseStatus.completed)
    assert wait_for(lambda: len(police_system.received) == 1, timeout=15)
    system.referral_api.kill()
    system.referral_api.start()

    assert wait_for(lambda: len(police_system.accepted()) >= 1 and len(police_system.received) >= 2, timeout=20)
    time.sleep(1.0)  # time for any further (wrong) repeat to show up
    ids = police_system.ids()
    assert len(ids) == 2 and len(set(ids)) == 1, ids
    assert {r.payload["data"]["case_id"] for r in police_system.received if r.verified} == {case_id}


def test_a_youth_justice_decision_reaches_the_police_system(notifying, police_system):
    """The whole way: a young person with a previous diversion, the YJU declines, the force is told."""
    system = notifying
    system.referral_api.start()
    referred = httpx.post(
        f"{system.referral_api.url}/v1/referrals", json=youth_referral(previous_diversions=1), headers=system.headers("police"), timeout=10
    )
    assert referred.status_code == 201, referred.text
    case_id = referred.json()["id"]
    yju = {"Authorization": f"Bearer {issue(system.env['REFERRAL_API_DATABASE_URL'], ReferralClient, Role.yju, force='thames-valley')}"}
    decided = httpx.post(f"{system.referral_api.url}/v1/yju/referrals/{case_id}/decision", json={"decision": "decline"}, headers=yju)
    assert decided.status_code == 200, decided.text

    assert wait_for(lambda: police_system.accepted(), timeout=15)
    [received] = police_system.received
    assert received.verified
    assert received.payload["data"]["case_id"] == case_id
    assert received.payload["data"]["status"] == "declined_by_yju"
    assert received.payload["data"]["police_reference"] == referred.json()["police_reference"]
