"""deploy/docker-compose.yml, the Grafana provisioning and the Dockerfile fit together: every file they
mount or copy exists, the names they share agree (ports, job, data source, dashboard folder)."""

from __future__ import annotations

import json
import re
import tomllib

import yaml

from tests.deploy.promql import DASHBOARDS, DEPLOY

REPO = DEPLOY.parent


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_runs_the_node_with_prometheus_and_grafana():
    services = compose()["services"]
    assert set(services) == {"otedama", "prometheus", "grafana"}
    assert services["otedama"]["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{volume}: {source} is not in deploy/"


def test_prometheus_scrapes_the_port_the_node_listens_on():
    api = compose()["services"]["otedama"]["environment"]["OTEDAMA_API"]
    targets = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"][0]
    assert targets["static_configs"][0]["targets"] == [f"otedama:{api.rpartition(':')[2]}"]


def test_grafana_finds_the_dashboards_and_their_data_source():
    grafana = compose()["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"] if volume.startswith("."))
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/otedama.yml").read_text())["providers"][0]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    source = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    assert {path.stem for path in DASHBOARDS} == {"otedama-node", "otedama-pool", "otedama-miners"}
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        assert board["uid"] == path.stem
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], (path.name, panel["title"])
            assert all(target["datasource"]["uid"] == source["uid"] for target in panel["targets"])
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"]) and (DEPLOY / "grafana/dashboards" / home.rsplit("/", 1)[1]).exists()


def test_the_dockerfile_copies_every_package_and_runs_the_node():
    text = (REPO / "Dockerfile").read_text()
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    copied = set(re.findall(r"^COPY (\w+) /src/\1$", text, re.MULTILINE))
    assert copied == {name.rstrip("*") for name in packages}
    assert 'ENTRYPOINT ["otedama"]' in text and "USER otedama" in text and "STOPSIGNAL SIGTERM" in text
    assert "OTEDAMA_HOME=/var/lib/otedama" in text
