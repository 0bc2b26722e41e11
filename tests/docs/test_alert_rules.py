"""The alert rules (docker/prometheus/alerts.yml) are valid and fire when they should:
`promtool check rules`, then the unit tests in alerts.test.yml with `promtool test rules`
(Debian's `prometheus` package, which `make test` installs: scripts/debian-packages.txt).
That the metrics they read are served is tests/common/test_metrics_endpoint.py's part."""

from __future__ import annotations

import json
import shutil
import subprocess

import yaml

from support.processes import REPO

RULES = REPO / "docker/prometheus"
DASHBOARD = REPO / "docker/grafana/diversion-link.json"
RUNBOOK = REPO / "docs/RUNBOOK.md"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make system-tools` installs Debian's prometheus package"
    return subprocess.run([tool, *args], cwd=RULES, capture_output=True, text=True, timeout=120)


def test_the_rules_are_valid():
    checked = promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_rules_pass_their_unit_tests():
    tested = promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for rule in group["rules"]]


def test_every_alert_is_unit_tested_and_has_its_runbook_section():
    tests = yaml.safe_load((RULES / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case.get("exp_alerts")}
    runbook = RUNBOOK.read_text()
    for rule in alerts():
        assert rule["alert"] in tested, f"{rule['alert']} is never shown firing in alerts.test.yml"
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert f"### {rule['alert']}" in runbook and anchor == rule["alert"].lower(), rule["alert"]


def test_the_dashboard_is_a_grafana_model_with_a_query_on_every_panel():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["title"] and dashboard["uid"] and dashboard["schemaVersion"] >= 30
    panels = dashboard["panels"]
    assert len(panels) >= 10
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        assert panel["title"] and panel["type"] in {"timeseries", "stat", "table", "bargauge"}, panel.get("title")
        assert panel["targets"] and all(target["expr"].strip() for target in panel["targets"]), panel["title"]
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys(), panel["title"]
