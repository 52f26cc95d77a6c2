"""The alerting rules pass ``promtool check rules`` and their unit tests (``promtool test rules``); every
dashboard query is valid PromQL; the Prometheus configuration checks with the rules it loads."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from tests.deploy.promql import ALERTS, DASHBOARDS, DEPLOY, as_prometheus, dashboard_queries, metric_names

PROMTOOL = shutil.which("promtool")


def promtool(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    # Not skipped: scripts/install.sh installs it (Debian package prometheus) wherever the suite runs.
    assert PROMTOOL is not None, "promtool is missing: run ./scripts/install.sh"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def test_rules_check():
    result = promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_rules_unit_tests_pass():
    result = promtool("test", "rules", "alerts_test.yml", cwd=ALERTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_unit_tests_can_fail(tmp_path):
    """The unit tests compare what fires exactly: a changed threshold makes them fail."""
    shutil.copy(ALERTS.parent / "alerts_test.yml", tmp_path)
    (tmp_path / "alerts.yml").write_text(ALERTS.read_text().replace("otedama_peers_connected == 0",
                                                                   "otedama_peers_connected < 0"))
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0 and "OtedamaNoPeers" in result.stdout + result.stderr


def test_every_alert_is_one_the_issue_asks_for():
    names = {rule["alert"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]}
    assert names == {"OtedamaNodeDown", "OtedamaBlockchainDisconnected", "OtedamaNoPeers", "OtedamaSyncStalled",
                     "OtedamaTipStale", "OtedamaHighInvalidShareRate", "OtedamaLowHashrate",
                     "OtedamaShareStoreUnwritable"}


def test_every_dashboard_query_is_valid_promql(tmp_path):
    rules = [{"record": f"otedama:query_{i}", "expr": as_prometheus(expr)}
             for i, expr in enumerate(expr for board in DASHBOARDS for expr in dashboard_queries(board))]
    assert len(rules) > 30 and all(metric_names(rule["expr"]) for rule in rules)
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_configuration_checks_with_its_rules(tmp_path):
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]  # where docker-compose.yml mounts it
    config["rule_files"] = [str(ALERTS)]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert [job["job_name"] for job in config["scrape_configs"]] == ["otedama"]
