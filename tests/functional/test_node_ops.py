"""Operating a real node process: it tells systemd when it is ready (a real unix datagram socket), logs
JSON lines, takes miners over TLS (the standard library's ssl client mines a share, and a block),
reloads its log level, webhook and ban lists (peers, Stratum miners' IPs) on SIGHUP (the webhook, a real HTTP receiver, then hears
of the block), exports every metric the dashboards and alerts read, refuses a second process on its
datadir, and on SIGTERM says it is stopping and ends with a line saying it stopped cleanly.

One node serves the whole module (its tests run in order); it runs without the built-in miner so
that the only miner is the test's TLS client.
"""

from __future__ import annotations

import json
import signal
import socket
from fractions import Fraction
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kernels.factory import make_scanner
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target
from sharechain.bitcoin.target import bits_to_target
from tests.deploy.promql import DASHBOARDS, alert_queries, as_prometheus, dashboard_queries, metric_names
from tests.functional.framework import NodeProcess, free_port, otedama, wait_until
from tests.stratum_client import mine_over
from tests.tlscert import client_context, self_signed_cert
from tests.webhook import WebhookReceiver

USER = "bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7m"
PEER = "12D3KooWDpJ7As7BWAwRMfu1VU2WRqPcvYqtTrPDntMrXGs9tGXK"
DIFFICULTY = 0.001


class Ops:
    """The module's node and what the test set up around it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cert, self.key = self_signed_cert(tmp / "tls")
        self.tls_port = free_port()
        self.config = tmp / "otedama.toml"
        self.config.write_text('log_level = "info"\n')
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(tmp / "notify.sock"))
        self.notify.settimeout(120)
        self.webhook = WebhookReceiver().__enter__()
        self.node = NodeProcess(tmp / "node", "--no-miner", "--no-seeds", "--config", str(self.config),
                                "--log-format", "json", "--stratum-difficulty", str(DIFFICULTY),
                                "--stratum-tls", f"127.0.0.1:{self.tls_port}", "--stratum-tls-cert", str(self.cert),
                                "--stratum-tls-key", str(self.key), name="ops-node",
                                env={"NOTIFY_SOCKET": str(tmp / "notify.sock")})

    def log(self) -> list[dict]:
        return [json.loads(line) for line in self.node.log_path.read_text().splitlines() if line.startswith("{")]

    def messages(self) -> list[str]:
        return [entry["message"] for entry in self.log()]

    def close(self) -> None:
        self.node.kill()
        self.webhook.__exit__()
        self.notify.close()


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    ops = Ops(tmp_path_factory.mktemp("ops"))
    try:
        ops.node.start()
        yield ops
    finally:
        ops.close()


def test_systemd_hears_ready_once_the_node_listens(ops):
    message = ops.notify.recv(4096).decode()
    fields = dict(line.split("=", 1) for line in message.splitlines())
    assert fields["READY"] == "1"
    assert f"Stratum port {ops.node.stratum_port}" in fields["STATUS"]
    assert ops.node.get("/api/health", allow_error=True)["status"] in ("ok", "unhealthy")


def test_every_log_line_is_a_json_object(ops):
    lines = ops.node.log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries and all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    assert any(entry["logger"] == "p2pool.stratum.server" and "listening for TLS" in entry["message"]
               for entry in entries)
    assert not any(entry["level"] == "debug" for entry in entries)


def test_sighup_reloads_log_level_webhook_and_bans(ops):
    (ops.node.datadir / "bans.json").write_text(json.dumps(
        {"format": "otedama-banlist", "version": 1, "bans": [{"peer": PEER, "until": 4e9, "reason": "by hand"}]}))
    (ops.node.datadir / "stratum-bans.json").write_text(json.dumps(
        {"format": "otedama-banlist", "version": 1, "bans": [{"peer": "127.0.0.2", "until": 4e9, "reason": "by hand"}]}))
    ops.config.write_text(f'log_level = "debug"\nnotify_webhook = "{ops.webhook.url}"\nmax_inbound = 5\n')
    ops.node.process.send_signal(signal.SIGHUP)
    reloaded = wait_until(lambda: [m for m in ops.messages() if m.startswith("configuration reloaded")], 30,
                          "the reload line")
    assert "log_level info -> debug" in reloaded[0] and "webhook set" in reloaded[0]
    assert "ban list reloaded: 1 bans in force" in reloaded[0]
    assert "Stratum ban list reloaded: 1 bans listed" in reloaded[0]
    with socket.create_connection(("127.0.0.1", ops.node.stratum_port), timeout=30,
                                  source_address=("127.0.0.2", 0)) as banned:
        told = json.loads(banned.makefile("rb").readline())
    assert told["id"] is None and "this IP is banned until" in told["error"][1] and "by hand" in told["error"][1]
    assert any("max_inbound" in m and "restart" in m for m in ops.messages())
    assert "otedama_bans_active 1.0" in ops.node.get("/metrics")

    ops.config.write_text("log_level = [\n")  # broken: refused, and the node runs on as it was
    ops.node.process.send_signal(signal.SIGHUP)
    wait_until(lambda: any(m.startswith("configuration not reloaded") for m in ops.messages()), 30, "the refusal")
    assert ops.node.process.poll() is None


def test_a_miner_over_tls_mines_a_share_and_a_block_and_the_webhook_hears_of_it(ops):
    context = client_context(ops.cert)
    with socket.create_connection(("127.0.0.1", ops.tls_port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        # A nonce that meets the job's block target too: the share is also a block.
        result = mine_over(tls, USER + ".tls", lambda job: min(difficulty_to_target(Fraction(str(DIFFICULTY))),
                                                                bits_to_target(job.bits)), numba_find)
    assert result.accepted
    status = wait_until(lambda: (s := ops.node.status())["blocks_found"] >= 1 and s, 60, "the block")
    assert status["shares_accepted"] >= 1
    wait_until(lambda: "block_found" in ops.webhook.events(), 60, "the webhook to hear of the block")
    body = next(b for b in ops.webhook.received if b["event"] == "block_found")
    assert body["network"] == "devnet" and body["data"]["hash"] == status["blocks"][0]["hash"]
    # Logged at debug, the level SIGHUP set.
    wait_until(lambda: "notification block_found sent by webhook" in ops.messages(), 30, "the debug line")


def numba_find(header76: bytes, target: int) -> int:
    scanner = make_scanner("numba", threads=1)
    return next(n for start in range(0, 1 << 32, 1 << 22) for n in scanner.scan(header76, target, start, 1 << 22).nonces)


def test_every_metric_the_dashboards_and_alerts_read_is_exported(ops):
    exported: set[str] = {"up"}  # Prometheus's own, for the node-down alert
    for family in text_string_to_metric_families(ops.node.get("/metrics")):
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                    "gauge": ("",), "unknown": ("",)}[family.type]
        exported |= {family.name + suffix for suffix in suffixes}
        exported |= {sample.name for sample in family.samples}
    queries = {board.name: [as_prometheus(q) for q in dashboard_queries(board)] for board in DASHBOARDS}
    queries["alerts.yml"] = list(alert_queries())
    for where, exprs in queries.items():
        for expr in exprs:
            missing = metric_names(expr) - exported
            assert not missing, f"{where}: {expr} reads {missing}, which the node does not export"


def test_a_second_process_on_the_datadir_is_refused(ops):
    result = otedama("run", "--datadir", str(ops.node.datadir), "--no-miner", "--no-p2p", "--stratum",
                     f"127.0.0.1:{free_port()}", "--api", f"127.0.0.1:{free_port()}")
    assert result.returncode == 2
    assert f"in use by another otedama process (pid {ops.node.process.pid})" in result.stderr


def test_sigterm_says_stopping_and_the_last_line_says_it_stopped_cleanly(ops):
    assert ops.node.stop() == 0
    assert b"STOPPING=1" in ops.notify.recv(4096)
    last = ops.log()[-1]
    assert last["logger"] == "otedama.node" and last["message"].startswith("node stopped cleanly")
