"""Every answer that can hold personal data tells caches not to keep it."""

from __future__ import annotations

from support.referrals import adult_referral, youth_referral


def test_case_reads_lists_and_yju_views_carry_no_store(api, police, yju, admin):
    created = api.post("/v1/referrals", json=adult_referral(), headers=police)
    case_id = created.json()["id"]
    youth_id = api.post("/v1/referrals", json=youth_referral(previous_diversions=1), headers=police).json()["id"]
    responses = [
        created,
        api.get("/v1/referrals", headers=police),
        api.get(f"/v1/referrals/{case_id}", headers=police),
        api.get(f"/v1/referrals/{case_id}/timeline", headers=police),
        api.get("/v1/yju/referrals", headers=yju),
        api.get(f"/v1/yju/referrals/{youth_id}", headers=yju),
        api.post(f"/v1/yju/referrals/{youth_id}/decision", json={"decision": "decline"}, headers=yju),
        api.post(f"/v1/referrals/{case_id}/withdraw", json={"reason": "duplicate"}, headers=police),
        api.get("/v1/admin/audit", headers=admin),
        api.get("/v1/referrals/not-a-case", headers=police),  # problems too
    ]
    for response in responses:
        assert response.status_code < 500, response.text
        assert response.headers["Cache-Control"] == "no-store", response.request.url
