"""Reference data as data (issue 24): forces, districts and courts live in referral_api's tables,
seeded with the scheme's defaults (docs/DOMAIN.md lists them), read by every party at
GET /v1/reference/..., changed by the administrator; a referral is checked against them."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.contracts import REFERENCE_AGGREGATE
from diversion_common.credentials import Role
from diversion_common.migrations import REPO_ROOT
from provider_gateway.reference.service import in_use_districts
from referral_api.clients.tables import Client as ReferralClient
from referral_api.messaging.tables import OutboxMessage
from support.breach_cases import accepted_case, breach_requests, miss, provider
from support.credentials import bearer, issue_key
from support.processes import wait_for
from support.referrals import adult_referral

DISTRICTS = "/v1/reference/districts"
ADMIN_DISTRICTS = "/v1/admin/reference/districts"
NEWBURY = {"code": "newbury", "name": "Newbury", "force": "thames-valley", "population": 70_000, "court": "reading-magistrates"}


def documented_defaults() -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str, int, str]]]:
    """The forces, courts and districts (name, force, population, court) docs/DOMAIN.md gives as the defaults."""
    rows = re.findall(r"^\| (.+?) \(`([a-z-]+)`\) \| (.+) \|$", (REPO_ROOT / "docs" / "DOMAIN.md").read_text(), re.M)
    forces, courts, districts, court_of = {}, {}, {}, {}
    for name, code, listed in rows:
        if name.endswith("Magistrates' Court"):
            courts[code] = name
            court_of.update({_code(district): code for district in listed.split(", ")})
        else:
            forces[code] = name
            for district, population in re.findall(r"\s*([^;]+?) ([\d,]+)(?:;|$)", listed):
                districts[_code(district)] = (district, code, int(population.replace(",", "")))
    return forces, courts, {code: (*district, court_of[code]) for code, district in districts.items()}


def _code(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", "and")).strip("-")


def referral_in(district: str) -> dict:
    return adult_referral(encounter={"district": district})


def test_the_seed_is_the_documented_defaults_and_every_party_reads_it(api, admin, police, issue):
    forces, courts, districts = documented_defaults()
    assert len(forces) == 2 and len(courts) == 8 and len(districts) == 29  # what was compiled into the code before

    for caller in (police, admin):
        listed = api.get(DISTRICTS, headers=caller)
        assert listed.status_code == 200, listed.text
        assert {d["code"]: (d["name"], d["force"], d["population"], d["court"]) for d in listed.json()} == districts
        assert not any(d["retired"] for d in listed.json())
    assert {f["code"]: f["name"] for f in api.get("/v1/reference/forces", headers=police).json()} == forces
    assert {c["code"]: c["name"] for c in api.get("/v1/reference/courts", headers=police).json()} == courts


def test_a_district_added_by_the_administrator_is_accepted_on_the_next_referral_and_sent_to_the_gateway(api, admin, police, referral_engine):
    refused = api.post("/v1/referrals", json=referral_in("newbury"), headers=police)
    assert refused.status_code == 422, refused.text
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/encounter/district"]

    added = api.post(ADMIN_DISTRICTS, json=NEWBURY, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json() == {**NEWBURY, "retired": False}

    accepted = api.post("/v1/referrals", json=referral_in("newbury"), headers=police)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["district"] == "newbury"
    with Session(referral_engine) as session:
        [told] = session.scalars(select(OutboxMessage).where(OutboxMessage.aggregate_id == REFERENCE_AGGREGATE)).all()
    assert (told.topic, told.payload) == ("reference.district_changed", {"code": "newbury", "force": "thames-valley", "name": "Newbury", "retired": False})


def test_a_retired_district_is_refused_on_new_referrals_and_can_be_reinstated(api, admin, police):
    retired = api.patch(f"{ADMIN_DISTRICTS}/reading", json={"retired": True}, headers=admin)
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired"] is True

    refused = api.post("/v1/referrals", json=referral_in("reading"), headers=police)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [{"pointer": "/encounter/district", "detail": "is not a district in use (GET /v1/reference/districts)"}]

    assert api.patch(f"{ADMIN_DISTRICTS}/reading", json={"retired": False}, headers=admin).status_code == 200
    assert api.post("/v1/referrals", json=referral_in("reading"), headers=police).status_code == 201


def test_an_unknown_district_or_another_forces_is_a_422_naming_the_field(api, police):
    for district, detail in (("atlantis", "is not a district in use"), ("portsmouth", "is not a district of the referring force")):
        refused = api.post("/v1/referrals", json=referral_in(district), headers=police)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["pointer"] == "/encounter/district" and error["detail"].startswith(detail)
    badly_shaped = api.post("/v1/referrals", json=referral_in("Not A Code"), headers=police)
    assert badly_shaped.status_code == 422
    assert [e["pointer"] for e in badly_shaped.json()["errors"]] == ["/encounter/district"]


def test_what_a_district_names_must_be_in_use_and_what_districts_use_cannot_be_retired(api, admin):
    assert api.post("/v1/admin/reference/courts", json={"code": "newbury-magistrates", "name": "Newbury Magistrates' Court"}, headers=admin).status_code == 201
    assert api.patch("/v1/admin/reference/courts/newbury-magistrates", json={"retired": True}, headers=admin).status_code == 200

    unknown_force = api.post(ADMIN_DISTRICTS, json={**NEWBURY, "force": "atlantis"}, headers=admin)
    retired_court = api.post(ADMIN_DISTRICTS, json={**NEWBURY, "court": "newbury-magistrates"}, headers=admin)
    assert unknown_force.status_code == 422 and [e["pointer"] for e in unknown_force.json()["errors"]] == ["/force"]
    assert retired_court.status_code == 422 and [e["pointer"] for e in retired_court.json()["errors"]] == ["/court"]
    assert api.patch(f"{ADMIN_DISTRICTS}/reading", json={"court": "newbury-magistrates"}, headers=admin).status_code == 422

    in_use = api.patch("/v1/admin/reference/courts/reading-magistrates", json={"retired": True}, headers=admin)
    assert in_use.status_code == 409, in_use.text
    assert api.patch("/v1/admin/reference/forces/hampshire", json={"retired": True}, headers=admin).status_code == 409

    taken = api.post(ADMIN_DISTRICTS, json={**NEWBURY, "code": "reading"}, headers=admin)
    assert taken.status_code == 409 and [e["pointer"] for e in taken.json()["errors"]] == ["/code"]
    assert api.patch(f"{ADMIN_DISTRICTS}/atlantis", json={"name": "Atlantis"}, headers=admin).status_code == 404
    assert api.patch(f"{ADMIN_DISTRICTS}/reading", json={"court": None}, headers=admin).status_code == 422
    assert {c["code"]: c["retired"] for c in api.get("/v1/reference/courts", headers=admin).json()}["reading-magistrates"] is False


def test_a_callback_is_registered_only_for_a_force_or_court_in_use(api, admin):
    url = {"url": "https://police.example/hooks"}
    assert api.put("/v1/admin/police-callbacks/atlantis", json=url, headers=admin).status_code == 404
    assert api.put("/v1/admin/court-callbacks/atlantis-magistrates", json=url, headers=admin).status_code == 404
    assert api.post("/v1/admin/reference/forces", json={"code": "atlantis", "name": "Atlantis Police"}, headers=admin).status_code == 201
    assert api.put("/v1/admin/police-callbacks/atlantis", json=url, headers=admin).status_code == 201


def test_only_the_administrator_changes_reference_data_and_each_change_is_audited(api, admin, police):
    assert api.post(ADMIN_DISTRICTS, json=NEWBURY, headers=police).status_code == 403
    assert api.patch(f"{ADMIN_DISTRICTS}/reading", json={"population": 170_000}, headers=admin).status_code == 200
    audit = api.get("/v1/admin/audit", headers=admin).json()["items"]
    changes = [(r["method"], r["route"], r["status"], r.get("path_ids")) for r in audit if r["route"].startswith(ADMIN_DISTRICTS)]
    assert ("PATCH", f"{ADMIN_DISTRICTS}/{{code}}", 200, {"code": "reading"}) in changes
    assert ("POST", ADMIN_DISTRICTS, 403, None) in changes
    # What is not a code's shape (a name, say) is never kept: neither in the audit log nor in the access log.
    assert api.patch(f"{ADMIN_DISTRICTS}/Sam Synthetic", json={}, headers=admin).status_code == 422
    audit = api.get("/v1/admin/audit", headers=admin).json()["items"]
    assert [r.get("path_ids") for r in audit if r["status"] == 422 and r["route"] == f"{ADMIN_DISTRICTS}/{{code}}"] == [None]


# --- both services: the gateway's copy of the districts, and the court a breach request goes to ----------


def referral_admin(linked) -> dict[str, str]:
    return bearer(issue_key(linked.referral_engine, ReferralClient, Role.admin))


def test_a_district_added_by_the_administrator_is_routed_on_the_next_referral(linked):
    newbury = {**NEWBURY, "court": "reading-magistrates"}
    before = linked.gateway.post("/v1/admin/providers", json=provider_body("Newbury Drug Service", "newbury"), headers=linked.admin)
    assert before.status_code == 422 and [e["pointer"] for e in before.json()["errors"]] == ["/districts/0"]

    assert linked.api.post(ADMIN_DISTRICTS, json=newbury, headers=referral_admin(linked)).status_code == 201
    assert wait_for(lambda: "newbury" in gateway_districts(linked)), "the gateway was not told of the new district"
    provider = linked.gateway.post("/v1/admin/providers", json=provider_body("Newbury Drug Service", "newbury"), headers=linked.admin)
    assert provider.status_code == 201, provider.text

    referred = linked.api.post("/v1/referrals", json=referral_in("newbury"), headers=linked.police)
    assert referred.status_code == 201, referred.text
    linked.wait_for_status(referred.json()["id"], "routed")
    routing = linked.gateway.get(f"/v1/admin/cases/{referred.json()['id']}/routing", headers=linked.admin).json()
    assert routing["provider_id"] == provider.json()["id"]

    # Retired: the gateway's copy follows, and no provider may be set to serve it any more.
    assert linked.api.patch(f"{ADMIN_DISTRICTS}/newbury", json={"retired": True}, headers=referral_admin(linked)).status_code == 200
    assert wait_for(lambda: "newbury" not in gateway_districts(linked)), "the gateway was not told of the retirement"
    again = linked.gateway.patch(f"/v1/admin/providers/{provider.json()['id']}", json={"districts": ["reading", "newbury"]}, headers=linked.admin)
    assert again.status_code == 422 and [e["pointer"] for e in again.json()["errors"]] == ["/districts/1"]


def test_a_court_changed_for_a_district_is_where_its_next_breach_request_goes(linked):
    changed = linked.api.patch(f"{ADMIN_DISTRICTS}/reading", json={"court": "slough-magistrates"}, headers=referral_admin(linked))
    assert changed.status_code == 200 and changed.json()["court"] == "slough-magistrates"

    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    miss(adult, case_id, "a-1")
    miss(adult, case_id, "a-2")
    [raised] = breach_requests(linked, linked.police)
    assert (raised["case_id"], raised["court"]) == (case_id, "slough-magistrates")


def provider_body(name: str, district: str) -> dict:
    return {"name": name, "pathways": ["adult_deferred_summons"], "districts": [district], "delivery_mode": "pull",
            "contact_email": "intake@provider.example"}


def gateway_districts(linked) -> set[str]:
    with Session(linked.gateway_engine) as session:
        return in_use_districts(session)
