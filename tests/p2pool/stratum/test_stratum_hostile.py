"""Hostile strangers against a real Stratum server over real TCP on 127.0.0.1, while a well-behaved miner on
another connection (another loopback address) keeps asking: its answer latencies are printed and held to a
bound that only starvation breaks (the issue's 100 ms figure is measured by ``benchmarks/stratum_hostile.py``
at full size, not asserted here: a test never fails on a machine being slow).

Sizes are the short version: 2,000 connections that never authorize, a 20,000-name worker flood, a
20,000-submit flood. The attackers run in this process, on the server's event loop, so the latencies
include their work too: on the node the generator is another process.
"""

from __future__ import annotations

import resource
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from fractions import Fraction
from pathlib import Path

import trio
from stratum_vector import USER, VectorProvider, easy_job

from benchmarks.hostile.attacks import (
    Figures,
    Probe,
    authorized_connections,
    ban_flood,
    close_all,
    huge_exponent,
    idle_connections,
    invalid_work,
    measure,
    refusal,
    refusals,
    submit_flood,
    wait_closed_by_server,
    worker_flood,
)
from p2pool.events import MinerBanned, MinerRefused
from p2pool.p2p.ban_writer import write_behind
from p2pool.p2p.banlist import BanList
from p2pool.stratum import server as server_module
from p2pool.stratum.bans import BAN_FILE, StratumBans
from p2pool.stratum.limits import StratumLimits, parse_networks
from p2pool.stratum.server import StratumConfig, StratumServer
from tests.functional.framework import TIMEOUT_FACTOR

HOST = "127.0.0.1"
# Starvation, not speed: a server blocked by the attack leaves the well-behaved miner unanswered for good;
# a slow or loaded machine (CI's 2 cores running the suite on two workers) only stretches each answer.
P99_BOUND = 10.0 * TIMEOUT_FACTOR
MAX_BOUND = 20.0 * TIMEOUT_FACTOR
ATTACKERS = [f"127.0.0.{i}" for i in range(2, 10)]


@asynccontextmanager
async def server(limits: StratumLimits, bans: StratumBans | None = None,
                 events: list[object] | None = None) -> AsyncIterator[tuple[StratumServer, int, Probe]]:
    seen = events if events is not None else []
    stratum = StratumServer(VectorProvider(easy_job("e1", Fraction("0.000001"))),
                            StratumConfig(host=HOST, port=0, initial_difficulty=0.000001, min_difficulty=0.000001,
                                          vardiff=False, limits=limits),
                            publish=seen.append, bans=bans)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(stratum.serve)
        probe = await Probe.connect(HOST, port, USER + ".honest")
        try:
            yield stratum, port, probe
        finally:
            await probe.lines.aclose()
            nursery.cancel_scope.cancel()


def check(result: Figures) -> None:
    print(f"\n{result.line()}")
    assert result.p99 < P99_BOUND and result.max < MAX_BOUND, result.line()


async def wait_until(predicate: object, timeout: float = 30) -> None:
    with trio.fail_after(timeout * TIMEOUT_FACTOR):
        while not predicate():  # type: ignore[operator]
            await trio.sleep(0.01)


def _room_for(connections: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * connections + 200  # both ends live in this process
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def test_huge_exponents_answered_with_errors_while_others_are_served() -> None:
    async with server(StratumLimits()) as (_, port, probe):
        result = await measure("huge exponent", probe, lambda: huge_exponent(HOST, port, ATTACKERS[0], rounds=8))
        assert result.detail == "40 answers, 40 errors"
        check(result)


async def test_worker_flood_is_capped_and_released_on_close() -> None:
    events: list[object] = []
    async with server(StratumLimits(max_workers=256), events=events) as (stratum, port, probe):
        most = [0]

        async def attack() -> str:
            async with trio.open_nursery() as nursery:
                async def watch() -> None:
                    while True:
                        most[0] = max(most[0], len(stratum.worker_names()))
                        await trio.sleep(0.001)
                nursery.start_soon(watch)
                detail = await worker_flood(HOST, port, ATTACKERS[0], USER, 20_000)
                nursery.cancel_scope.cancel()
            return detail

        result = await measure("worker flood", probe, attack)
        assert result.detail == "255 accepted, 50 refused, then closed by the server"
        assert most[0] <= 1 + 256, "the honest miner's name and at most the flood's 256"
        await wait_until(lambda: stratum.worker_names() == {USER + ".honest"})
        assert len(stratum.stats().workers) == 1
        assert len(stratum._counter._workers) == 1, "the flood's worker records went with its connection"
        refused = [e for e in events if isinstance(e, MinerRefused) and e.reason == "workers"]
        assert sum(e.count for e in refused) == 50
        check(result)


async def test_connections_that_never_authorize_are_swept_and_the_mass_close_does_not_stall() -> None:
    count = 2_000
    _room_for(count)
    events: list[object] = []
    limits = StratumLimits(max_per_ip=count, auth_timeout=3.0)
    async with server(limits, events=events) as (stratum, port, probe):

        def timed_out() -> int:
            return sum(e.count for e in events if isinstance(e, MinerRefused) and e.reason == "auth-timeout")

        async def attack() -> str:
            async with idle_connections(HOST, port, count, ATTACKERS) as opened:
                # Every one reached the server (on a loaded machine the first are swept before the last open).
                await wait_until(lambda: stratum.connection_count + timed_out() == count + 1)
                closed = await wait_closed_by_server(opened, 30 * TIMEOUT_FACTOR)
            return f"{closed} of {count} closed by the server"

        result = await measure("never authorize", probe, attack)
        assert result.detail == f"{count} of {count} closed by the server"
        await wait_until(lambda: stratum.connection_count == 1)
        assert stratum.gate.ips.count(ATTACKERS[0]) == 0
        assert timed_out() == count
        check(result)


async def test_mass_close_of_authorized_miners_does_not_stall_the_others() -> None:
    count = 2_000
    _room_for(count)
    async with server(StratumLimits(max_per_ip=count)) as (stratum, port, probe):
        opened = await authorized_connections(HOST, port, count, ATTACKERS, USER)
        await wait_until(lambda: len(stratum.worker_names()) == count + 1)

        async def attack() -> str:
            await close_all(opened)
            await wait_until(lambda: stratum.connection_count == 1)
            return f"{count} closed at once"

        result = await measure("mass close", probe, attack)
        assert stratum.worker_names() == {USER + ".honest"}
        check(result)


async def test_per_ip_cap_refuses_at_accept_with_a_reason_and_the_allow_list_lifts_it() -> None:
    events: list[object] = []
    limits = StratumLimits(max_per_ip=8, allow=parse_networks(["127.0.0.3"]))
    async with server(limits, events=events) as (stratum, port, probe):
        async with idle_connections(HOST, port, 8, [ATTACKERS[0]]):
            await wait_until(lambda: stratum.connection_count == 9)
            told = await refusal(HOST, port, ATTACKERS[0])
            assert "8 connections from this IP already" in told
            result = await measure("per-ip refusals", probe, lambda: refusals(HOST, port, ATTACKERS[0], 500))
            assert result.detail == "500 Refused", result.detail
            async with idle_connections(HOST, port, 20, ["127.0.0.3"]):
                await wait_until(lambda: stratum.connection_count == 29)
        per_ip = [e for e in events if isinstance(e, MinerRefused) and e.reason == "per-ip"]
        assert len(per_ip) == 501
        await wait_until(lambda: stratum.gate.ips.count(ATTACKERS[0]) == 0)
        check(result)


async def test_refused_connections_past_the_farewell_bound_are_closed_without_a_word(monkeypatch) -> None:
    # Each refused connection may take a second to be told why: under a flood, how many are at once has a bound.
    monkeypatch.setattr(server_module, "_MAX_FAREWELLS", 0)
    async with server(StratumLimits(max_per_ip=1)) as (stratum, port, _), \
            idle_connections(HOST, port, 1, [ATTACKERS[0]]):
        await wait_until(lambda: stratum.connection_count == 2)
        assert await refusal(HOST, port, ATTACKERS[0]) == "closed without a word"


async def test_submit_flood_is_refused_past_the_rate_without_a_ban() -> None:
    events: list[object] = []
    limits = StratumLimits(submit_rate=100, submit_burst=200, ban_strikes=0)
    async with server(limits, events=events) as (_, port, probe):
        result = await measure("submit flood", probe, lambda: submit_flood(HOST, port, ATTACKERS[0], USER, 20_000))
        outcomes = {key: count for count, key in (part.split(" ", 1) for part in result.detail.split(", "))}
        assert int(outcomes["rate-limited"]) > 15_000 and "closed" not in outcomes, result.detail
        assert sum(e.count for e in events if isinstance(e, MinerRefused) and e.reason == "submit-rate") \
            == int(outcomes["rate-limited"])
        check(result)


async def test_invalid_work_bans_the_ip_and_the_ban_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / BAN_FILE
    events: list[object] = []
    limits = StratumLimits(ban_strikes=100, ban_seconds=600)
    async with server(limits, StratumBans(path, 100, 600), events) as (_, port, probe):
        result = await measure("invalid work", probe, lambda: invalid_work(HOST, port, ATTACKERS[0], USER, 1_000))
        assert result.detail.startswith("closed after 100 invalid submits; reconnecting: Refused: this IP is banned"), \
            result.detail
        assert [e.ip for e in events if isinstance(e, MinerBanned)] == [ATTACKERS[0]]
        check(result)
    # A restart: a fresh server on the same ban file refuses the banned IP at accept, and only that one.
    async with server(limits, StratumBans(path, 100, 600)) as (_, port, probe):
        assert "banned until" in await refusal(HOST, port, ATTACKERS[0])
        assert await refusal(HOST, port, ATTACKERS[1]) == ""
        await probe.ask()


async def test_a_flood_of_bans_on_a_full_ban_list_is_written_behind_the_bans(tmp_path: Path) -> None:
    # A full list (as the node keeps it: 10,000 bans) takes some 45 ms to write: written at each ban on the event
    # loop, 30 bans would stall every miner that long each (benchmarks/stratum_hostile.py: ban-flood).
    path = tmp_path / BAN_FILE
    full = BanList(path)
    full.defer_writes(lambda: None)
    soon = time.time() + 300  # sooner over than the new bans (600 s): a full list drops these to make room
    for i in range(10_000):
        full.ban(f"10.0.{i // 256}.{i % 256}", soon + i / 1000, "earlier")
    full.defer_writes(None)
    addresses = [f"127.1.0.{i}" for i in range(1, 31)]
    events: list[object] = []
    bans = StratumBans(path, 100, 600)
    async with trio.open_nursery() as writer:
        await writer.start(write_behind, bans.ban_list)
        async with server(StratumLimits(ban_strikes=100, ban_seconds=600), bans, events) as (_, port, probe):
            result = await measure("ban flood", probe, lambda: ban_flood(HOST, port, addresses, USER, 1_000))
            assert result.detail == "30 of 30 addresses banned", result.detail
            check(result)
        await wait_until(lambda: bans.ban_list.pending() is None)
        writer.cancel_scope.cancel()
    assert sorted(e.ip for e in events if isinstance(e, MinerBanned)) == sorted(addresses)
    assert {ban.peer for ban in BanList(path).active(time.time())} >= set(addresses)  # on disk, the list still full
    assert len(BanList(path)) == 10_000
