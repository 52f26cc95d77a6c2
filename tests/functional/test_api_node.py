"""Every read and admin endpoint of a running node with two miners (real TCP, real processes): the
documents agree with each other and with the chain backend, lists page, the next block pays exactly
what /api/payouts said, admin endpoints answer 401 without the token and 200 with it and leave an
audit line, the live feed pushes shares, blocks, workers, peers and stats, the command line's client
commands print the same as tables and JSON, and the statistics are present again after a restart."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.bitcoin.serialize import ByteReader
from sharechain.share import ShareInfo
from tests.functional.framework import TIMEOUT_FACTOR, NodeProcess, free_port, otedama, rpc, wait_until
from tests.functional.pool import ADDRESS_B, WORKER_B, Pool, mining_pool

READS = ["/api/health", "/api/health/detailed", "/api/status", "/api/stats", "/api/stats/history", "/api/workers",
         "/api/peers", "/api/shares", "/api/shares/{share_hash}", "/api/payouts", "/api/blocks",
         "/api/miner/{address}"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    with mining_pool(tmp_path_factory.mktemp("api")) as running:
        yield running


def call(pool: Pool, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(pool.api + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def get(pool: Pool, path: str) -> Any:
    status, body = call(pool, "GET", path)
    assert status == 200, (path, status, body)
    return body


def test_every_read_endpoint_is_described_and_answers_consistently(pool: Pool) -> None:
    spec = get(pool, "/api/openapi.json")
    assert set(READS) <= set(spec["paths"])
    for path in READS:  # typed response models, not bare objects
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in schema, path
    blocks, stats, status = get(pool, "/api/blocks"), get(pool, "/api/stats"), get(pool, "/api/status")
    assert 2 <= blocks["total"] <= stats["blocks_found"] <= status["blocks_found"]  # the miners go on meanwhile
    assert stats["pool"]["hashrate"]["10m"] > 0 and stats["local"]["hashrate"]["1h"] > 0
    assert stats["shares"]["valid"]["local"] >= 2 and stats["network_difficulty"] > 0
    assert stats["window"]["length"] == 720 and stats["window"]["shares"] >= 2
    assert stats["expected_block_seconds"] > 0 and stats["effort"] is not None

    oldest = wait_until(lambda: (b := get(pool, "/api/blocks?limit=500")["items"][-1])["state"] == "confirmed" and b,
                        60, "the first block's state from the chain backend")
    assert 1 <= oldest["confirmations"] <= rpc(pool.chain_url, "getblockheader", oldest["hash"], True)["confirmations"]
    assert oldest["payouts"] and sum(p["amount"] for p in oldest["payouts"]) == oldest["value"]

    health = get(pool, "/api/health/detailed")
    assert health["status"] == "ok" and health["uptime"] > 0
    assert {name: s["state"] for name, s in health["services"].items()} == {
        "stratum": "ok", "p2p": "degraded", "chain": "ok", "database": "ok"}  # degraded: no peer yet
    assert health["services"]["stratum"]["url"] == f"stratum+tcp://127.0.0.1:{pool.node.stratum_port}"
    process = health["process"]
    assert process["memory_rss_bytes"] > 10**7 and process["cpu_seconds"] > 0 and process["open_sockets"] > 2
    assert process["connections"]["stratum"] == 2 and health["miner"]["running"] is True

    workers = {w["name"]: w for w in get(pool, "/api/workers")["items"]}
    assert set(workers) == {pool.address_a, WORKER_B}
    assert workers[WORKER_B]["address"] == ADDRESS_B and workers[WORKER_B]["online"]
    assert all(w["shares"] >= 1 and w["hashrate_1h"] > 0 for w in workers.values())

    shares = get(pool, "/api/shares?limit=5")
    assert shares["items"][0]["hash"] == status["sharechain"]["tip"] or shares["height"] >= status["sharechain"]["height"]
    # (the newest height may hold a side share too: a solution on the job before the tip's arrived later)
    first = next(s for s in shares["items"] if s["status"] == "main")
    detail = get(pool, f"/api/shares/{first['hash']}")
    assert detail["height"] == first["height"] and detail["status"] == "main"
    assert sum(o["amount"] for o in detail["coinbase"]) > 0
    assert {o["address"] for o in detail["coinbase"]} <= {pool.address_a, ADDRESS_B}

    # (its first share in the sharechain may come after the blocks the fixture waited for, on a busy machine)
    miner = wait_until(lambda: (m := get(pool, f"/api/miner/{ADDRESS_B}"))["window"]["shares"] >= 1 and m, 120,
                       "a share of miner B in the window")
    assert [w["name"] for w in miner["workers"]] == [WORKER_B]
    assert miner["window"]["shares"] >= 1 and 0 < miner["window"]["share"] < 1
    assert miner["hashrate"]["1h"] > 0 and any(rate > 0 for _, rate in miner["history"])
    assert miner["expected_payout"] > 0 and miner["expected_payout_as_finder"] > miner["expected_payout"]
    assert all(s["address"] == ADDRESS_B for s in miner["shares"])
    history = get(pool, "/api/stats/history?span=3600")
    assert history["bucket"] == 60 and any(rate > 0 for _, rate in history["local"])
    peers = get(pool, "/api/peers")
    assert peers["enabled"] and peers["items"] == [] and peers["peer_id"] == status["peer_id"]


def answers_as_described(spec: dict[str, Any], path: str, method: str, status: int, body: Any) -> None:
    """``body`` is valid against the JSON Schema the description gives for that answer (references resolved
    in the description's components)."""
    schema = spec["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert problems == [], (path, status, problems[:5])


def test_every_answer_is_what_the_description_says(pool: Pool) -> None:
    spec = get(pool, "/api/openapi.json")
    share_hash = next(s["hash"] for s in get(pool, "/api/shares")["items"] if s["status"] == "main")
    for path in READS:
        real = path.replace("{share_hash}", share_hash).replace("{address}", ADDRESS_B)
        for query in ("", "?limit=1") if path in ("/api/workers", "/api/shares", "/api/blocks") else ("",):
            answers_as_described(spec, path, "get", 200, get(pool, real + query))
    assert pool.seed is not None
    for path in ("/api/health/detailed", "/api/stats", "/api/workers", "/api/peers", "/api/shares", "/api/blocks"):
        answers_as_described(spec, path, "get", 200, pool.seed.get(path))
    for path, real, status in (("/api/shares", "/api/shares?limit=0", 422), ("/api/shares", "/api/shares?cursor=x", 400),
                               ("/api/shares/{share_hash}", "/api/shares/" + "ab" * 32, 404),
                               ("/api/miner/{address}", "/api/miner/x", 400)):
        code, body = call(pool, "GET", real)
        assert code == status, (real, code, body)
        answers_as_described(spec, path, "get", status, body)
    code, body = call(pool, "POST", "/api/peers/ban", {"peer_id": "x", "duration": 1e400})
    assert code == 401
    answers_as_described(spec, "/api/peers/ban", "post", 401, body)


def test_a_seed_node_answers_what_it_has(pool: Pool) -> None:
    assert pool.seed is not None
    health = pool.seed.get("/api/health/detailed")
    assert {name: s["state"] for name, s in health["services"].items()} == {
        "stratum": "off", "p2p": "degraded", "chain": "off", "database": "ok"}
    assert health["miner"] is None
    assert pool.seed.get("/api/workers") == {"items": [], "next": None, "total": 0}
    assert pool.seed.get("/api/payouts", allow_error=True) == {"error": "a seed node builds no blocks: it has no "
                                                                        "payouts to show"}
    assert pool.seed.get("/api/stats")["local"]["blocks_found"] == 0


def test_lists_page_with_a_cursor_and_bad_requests_are_told_why(pool: Pool) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(3):
        page = get(pool, f"/api/shares?limit=2{cursor}")
        assert len(page["items"]) == 2 and page["next"]
        seen += [s["hash"] for s in page["items"]]
        cursor = f"&cursor={page['next']}"
    assert len(set(seen)) == 6
    blocks_1 = get(pool, "/api/blocks?limit=1")
    blocks_2 = get(pool, f"/api/blocks?limit=1&cursor={blocks_1['next']}")
    assert blocks_1["items"][0]["height"] > blocks_2["items"][0]["height"]
    workers_1 = get(pool, "/api/workers?limit=1")
    workers_2 = get(pool, f"/api/workers?limit=1&cursor={workers_1['next']}")
    assert workers_1["items"][0]["name"] < workers_2["items"][0]["name"] and workers_2["next"] is None
    assert get(pool, f"/api/workers?address={ADDRESS_B}")["total"] == 1

    for path in ("/api/shares?limit=501", "/api/shares?limit=0", "/api/blocks?limit=9999", "/api/shares?status=x"):
        assert call(pool, "GET", path)[0] == 422, path
    assert call(pool, "GET", "/api/shares?cursor=nonsense") == (400, {"error": "cursor 'nonsense' is not one this "
                                                                                 "endpoint gave"})
    assert call(pool, "GET", "/api/blocks?cursor=-1")[0] == 400
    status, body = call(pool, "GET", "/api/miner/not-an-address")
    assert status == 400 and "is not a devnet address" in body["error"]
    assert call(pool, "GET", "/api/shares/" + "ab" * 32)[0] == 404
    assert call(pool, "GET", "/api/shares/xyz")[0] == 400


def test_the_next_block_pays_exactly_what_the_payouts_endpoint_said(pool: Pool) -> None:
    """Snapshots of /api/payouts for both finders, keyed by the share they build on; every block found
    afterwards, read back from the dev chain, pays exactly its snapshot's outputs."""
    snapshots: dict[tuple[str, str, int, tuple[str, ...]], dict[str, Any]] = {}
    known = {b["hash"] for b in get(pool, "/api/blocks?limit=500")["items"]}
    matched: list[str] = []
    deadline = time.monotonic() + 180 * TIMEOUT_FACTOR
    while len(matched) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # a poll, within the API's per-client rate
        for finder in (pool.address_a, ADDRESS_B):
            snapshot = get(pool, f"/api/payouts?finder={finder}")
            snapshots[(finder, snapshot["tip"], snapshot["block_height"], tuple(snapshot["uncles"]))] = snapshot
        for block in get(pool, "/api/blocks?limit=10")["items"]:
            if block["hash"] in known:
                continue
            known.add(block["hash"])
            info = ShareInfo.read(ByteReader(bytes.fromhex(block["share_info"])))
            key = (block["worker"].split(".")[0], hash_to_hex(info.prev_hash), block["height"],
                   tuple(hash_to_hex(u) for u in info.uncles))
            if key not in snapshots:
                continue  # its share was built on a tip between two polls
            coinbase = rpc(pool.chain_url, "getblock", block["hash"], 2)["tx"][0]
            paid = [[out["scriptPubKey"]["address"], out["value_sat"]] for out in coinbase["vout"]
                    if out["value_sat"] > 0]
            said = snapshots[key]
            assert paid == [[o["address"], o["amount"]] for o in said["outputs"]]
            assert sum(v for _, v in paid) == said["coinbase_value"] == said["total"] == block["value"]
            matched.append(block["hash"])
    assert len(matched) >= 2, f"only {len(matched)} blocks matched a snapshot"
    paid_b = [o for s in snapshots.values() for o in s["outputs"] if o["address"] == ADDRESS_B]
    assert paid_b and all(0 < o["window_share"] < 1 for o in paid_b)


class LiveListener:
    """Reads /api/events in a thread of its own (which also closes it: stats arrive every few seconds, so
    it notices ``close`` soon)."""

    def __init__(self, pool: Pool) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._reply = urllib.request.urlopen(pool.api + "/api/events", timeout=60)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        kind = ""
        with self._reply:
            for raw in self._reply:
                if self._stop.is_set():
                    return
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.messages.append((kind, json.loads(line[6:])))

    def seen(self, kind: str, **fields: Any) -> bool:
        return any(k == kind and all(m["data"].get(f) == v for f, v in fields.items()) for k, m in self.messages)

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.messages if k == kind)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30 * TIMEOUT_FACTOR)


ADMIN = [("/api/peers/connect", "address"), ("/api/peers/disconnect", "peer"), ("/api/peers/ban", "peer"),
         ("/api/peers/unban", "peer"), ("/api/mining/stop", None), ("/api/mining/start", None)]


def test_admin_endpoints_need_the_token_act_are_audited_and_the_live_feed_tells(pool: Pool) -> None:
    assert pool.seed is not None
    seed_id = pool.seed.status()["peer_id"]
    arguments = {"address": {"address": pool.seed.p2p_addr}, "peer": {"peer_id": seed_id}, None: None}
    live = LiveListener(pool)
    token = pool.node.api_token
    audit = Path(pool.node.datadir / "audit.log")
    try:
        for path, argument in ADMIN:
            body = arguments[argument]
            assert call(pool, "POST", path, body)[0] == 401, path
            assert call(pool, "POST", path, body, token="wrong-token-0123456789")[0] == 401, path
            lines = audit.read_text().splitlines() if audit.exists() else []
            status, reply = call(pool, "POST", path, body, token=token)
            assert (status, reply["ok"]) == (200, True), (path, reply)
            entry = json.loads(audit.read_text().splitlines()[len(lines)])
            assert entry["action"] == path.removeprefix("/api/").replace("/", ".")
            assert (entry["outcome"], entry["client"], entry["message"]) == ("ok", "127.0.0.1", reply["message"])
            if path == "/api/peers/connect":
                wait_until(lambda: live.seen("peer", event="joined", id=seed_id), 30, "the peer's arrival on the feed")
                assert [p["id"] for p in get(pool, "/api/peers")["items"]] == [seed_id]
            if path == "/api/peers/disconnect":
                wait_until(lambda: live.seen("peer", event="left", id=seed_id), 30, "the peer leaving, on the feed")
            if path == "/api/peers/ban":
                assert [b["id"] for b in get(pool, "/api/peers")["banned"]] == [seed_id]
            if path == "/api/peers/unban":
                assert get(pool, "/api/peers")["banned"] == []
            if path == "/api/mining/stop":
                wait_until(lambda: live.seen("worker", event="disconnected", name=pool.address_a), 30,
                           "the built-in miner's worker leaving, on the feed")
                assert get(pool, "/api/health/detailed")["miner"]["running"] is False
        assert call(pool, "POST", "/api/mining/start", None, token=token)[0] == 400  # already running
        wait_until(lambda: live.seen("worker", event="connected", name=pool.address_a), 60,
                   "the built-in miner's worker back, on the feed")
        wait_until(lambda: live.seen("share") and live.seen("stats"), 60, "shares and stats on the feed")
        heard = live.count("block")
        wait_until(lambda: live.count("block") > heard, 120, "a new block on the feed")
        newest = [m["data"]["hash"] for k, m in live.messages if k == "block"][-1]
        assert newest in {b["hash"] for b in get(pool, "/api/blocks")["items"]}
        share = next(m["data"] for k, m in live.messages if k == "share")
        assert share["source"] == "local" and share["shares"][0]["status"] in ("main", "side")
    finally:
        live.close()


def cli(pool: Pool, *args: str) -> subprocess.CompletedProcess[str]:
    return otedama(*args, "--api", f"127.0.0.1:{pool.node.api_port}")


@pytest.mark.parametrize(("command", "header"), [
    (["workers"], ["worker", "online", "hash rate", "1 h", "shares", "last share"]),
    (["peers"], ["peer", "direction", "score", "tip height"]),
    (["payouts"], ["address", "amount (BTC)", "window share"]),
    (["blocks"], ["height", "block", "state", "value (BTC)", "found"]),
    (["shares"], ["height", "share", "miner", "status", "uncles", "time"]),
])
def test_cli_lists_print_a_table_and_the_apis_json(pool: Pool, command: list[str], header: list[str]) -> None:
    assert pool.seed is not None
    if command == ["peers"]:  # a peer to list
        reply = call(pool, "POST", "/api/peers/connect", {"address": pool.seed.p2p_addr}, token=pool.node.api_token)
        assert reply[0] == 200
    if command == ["shares"]:  # more than a page of them (the miners may still be making them on a busy machine)
        wait_until(lambda: get(pool, "/api/shares?limit=21")["next"], 120, "more than 20 shares")
    table = cli(pool, *command)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split("  ")[0] == header[0] or lines[1].split("  ")[0] == header[0], table.stdout
    assert all(name in table.stdout for name in header)
    as_json = cli(pool, *command, "--json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    if command == ["workers"]:
        assert {w["name"] for w in document["items"]} == {pool.address_a, WORKER_B}
        assert WORKER_B in table.stdout and pool.address_a in table.stdout
    elif command == ["peers"]:
        seed_id = pool.seed.status()["peer_id"]
        assert [p["id"] for p in document["items"]] == [seed_id] and seed_id in table.stdout
    elif command == ["payouts"]:
        assert sum(o["amount"] for o in document["outputs"]) == document["total"]
        assert all(o["address"] in table.stdout for o in document["outputs"])
    elif command == ["blocks"]:
        assert any(b["hash"] in table.stdout for b in document["items"][:5]) and document["total"] >= 2
    else:
        assert len(document["items"]) == 20 and document["next"] and "\n(more: --cursor " in table.stdout
        following = json.loads(cli(pool, *command, "--json", "--limit", "5", "--cursor", document["next"]).stdout)
        last, first = document["items"][-1], following["items"][0]
        assert (first["height"], first["hash"]) != (last["height"], last["hash"]) and first["height"] <= last["height"]


def test_cli_status_and_miner(pool: Pool) -> None:
    status = cli(pool, "status")
    assert status.returncode == 0, status.stderr
    rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in status.stdout.splitlines())
    assert rows["network"].strip() == "devnet" and rows["health"].strip() == "healthy"
    stats = json.loads(cli(pool, "status", "--json").stdout)["stats"]
    assert "H/s (10m)" in status.stdout and int(rows["blocks found"]) <= stats["blocks_found"]
    miner = cli(pool, "miner", ADDRESS_B)
    assert miner.returncode == 0, miner.stderr
    assert f"address          {ADDRESS_B}" in miner.stdout and WORKER_B in miner.stdout
    document = json.loads(cli(pool, "miner", ADDRESS_B, "--json").stdout)
    assert document["address"] == ADDRESS_B and any(s["hash"] in miner.stdout for s in document["shares"][:5])
    wrong = cli(pool, "miner", "nonsense")
    assert wrong.returncode == 1 and "is not a devnet address" in wrong.stderr and wrong.stdout == ""


def test_cli_admin_commands_use_the_token_and_no_node_is_one_line(pool: Pool) -> None:
    datadir = str(pool.node.datadir)
    refused = cli(pool, "ban", "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "--token", "x" * 20)
    assert refused.returncode == 1 and "wrong API token" in refused.stderr
    banned = cli(pool, "ban", "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "--datadir", datadir,
                 "--duration", "60")
    assert banned.returncode == 0 and banned.stdout.startswith("banned 12D3KooW"), banned.stderr
    unbanned = cli(pool, "unban", "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "--datadir", datadir,
                   "--json")
    assert json.loads(unbanned.stdout)["ok"] is True
    nobody = otedama("status", "--api", f"127.0.0.1:{free_port()}")
    assert nobody.returncode == 2 and nobody.stdout == ""
    assert nobody.stderr.count("\n") == 1 and nobody.stderr.startswith("otedama: error: no node answers at ")


def test_statistics_are_present_again_after_a_restart(pool: Pool) -> None:
    node = pool.node
    pool.stop_miner_b()
    assert call(pool, "POST", "/api/mining/stop", None, token=node.api_token)[0] == 200
    wait_until(lambda: get(pool, "/api/health/detailed")["process"]["connections"]["stratum"] == 0, 30,
               "the miners to leave")
    before = {path: get(pool, path) for path in ("/api/stats", "/api/workers", f"/api/miner/{ADDRESS_B}")}
    assert node.stop() == 0
    again = NodeProcess(node.datadir, "--bitcoind", pool.chain_url, "--no-seeds", "--no-miner", name="node-again")
    again.stratum_port, again.api_port, again.p2p_port = node.stratum_port, node.api_port, node.p2p_port
    pool.node = again
    again.start()
    after = {path: get(pool, path) for path in before}
    stats_before, stats_after = before["/api/stats"], after["/api/stats"]
    assert stats_after["shares"] == stats_before["shares"]
    assert stats_after["blocks_found"] == stats_before["blocks_found"]
    assert stats_after["local"]["hashrate"]["24h"] > 0 and stats_after["pool"]["hashrate"]["24h"] > 0
    fields = ("name", "address", "shares", "last_share", "first_seen")
    assert [{f: w[f] for f in fields} for w in after["/api/workers"]["items"]] == \
        [{f: w[f] for f in fields} for w in before["/api/workers"]["items"]]
    assert not any(w["online"] for w in after["/api/workers"]["items"])
    # Buckets that were complete are the same; the current one holds the same work over a longer time.
    *complete, (current, rate) = before[f"/api/miner/{ADDRESS_B}"]["history"]
    history_after = dict(after[f"/api/miner/{ADDRESS_B}"]["history"])
    # The 24-hour window moves on if a 10-minute boundary passes during the restart: its oldest bucket
    # then falls out (and nothing else does).
    fallen_out = [t for t, _ in complete if t not in history_after]
    assert fallen_out in ([], [complete[0][0]]), fallen_out
    assert all(history_after[t] == r for t, r in complete if t in history_after)
    assert any(r > 0 for _, r in complete) or 0 < history_after[current] <= rate
