"""The pure server session driven by the pure miner client core: plain function calls, exact bytes."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from stratum_vector import EXTRANONCE1, USER, VECTOR, VectorProvider, easy_job, grind, lines, vector_job

from miner.client import (
    Authorized,
    ClientConnection,
    DifficultySet,
    NewJob,
    SubmitResult,
    Subscribed,
    VersionRolling,
)
from p2pool.stratum.job import StratumJob, build_coinbase, build_header
from p2pool.stratum.session import Session, SessionConfig
from p2pool.stratum.stats import ShareCounter
from p2pool.stratum.vardiff import VardiffConfig
from sharechain.bitcoin.hashing import hash_to_int, sha256d
from sharechain.bitcoin.stratum.difficulty import difficulty_to_target

EASY = Fraction("0.000001")


def make_session(job: StratumJob | None, difficulty: Fraction = Fraction("0.001"), **kw: object) -> Session:
    config = SessionConfig(
        initial_difficulty=difficulty,
        vardiff=VardiffConfig(min_difficulty=EASY),
        vardiff_enabled=bool(kw.pop("vardiff", False)),
        **kw,  # type: ignore[arg-type]
    )
    return Session(EXTRANONCE1, VectorProvider(job), config, ShareCounter(0.0), now=0.0)


def call(session: Session, request: dict[str, object], now: float = 1.0) -> list[dict[str, object]]:
    return lines(session.receive_data(json.dumps(request).encode() + b"\n", now).data)


def ready(job: StratumJob | None = None, difficulty: Fraction = EASY, **kw: object) -> Session:
    session = make_session(job or easy_job("e1", EASY), difficulty, **kw)
    call(session, {"id": 1, "method": "mining.subscribe", "params": []})
    call(session, {"id": 2, "method": "mining.authorize", "params": [USER, "x"]})
    return session


def share(session: Session, wire_id: str, extranonce2: bytes = b"\0" * 4, version: int | None = None,
          skip: frozenset[int] = frozenset()) -> tuple[int, int]:
    """A real (nonce, version) meeting the job's difficulty, found by hashing."""
    sent = session.sent_job(wire_id)
    assert sent is not None
    job = sent.job
    version = job.version if version is None else version
    coinbase = build_coinbase(job, EXTRANONCE1, extranonce2)
    header76 = build_header(job, coinbase, job.ntime, 0, version)[:76]
    return grind(header76, difficulty_to_target(sent.difficulty), skip=skip), version


def submit_line(job_id: str, nonce: int, extranonce2: str = "00000000", ntime: str | None = None,
                version_bits: str | None = None, worker: str = USER, request_id: int = 4) -> dict[str, object]:
    job = easy_job("x", EASY)
    params = [worker, job_id, extranonce2, ntime or f"{job.ntime:08x}", f"{nonce:08x}"]
    if version_bits is not None:
        params.append(version_bits)
    return {"id": request_id, "method": "mining.submit", "params": params}


def error_of(messages: list[dict[str, object]]) -> list[object]:
    error = messages[0]["error"]
    assert isinstance(error, list) and len(error) == 3 and error[2] is None
    return error


# -- the client core and the server core talking ----------------------------------------------


def test_client_and_server_cores_handshake_with_exact_bytes() -> None:
    session = make_session(vector_job("job1"))
    client = ClientConnection(user_agent="cpuminer/2.5.1")
    configure = client.configure()
    assert configure == (
        b'{"id": 1, "method": "mining.configure", "params": [["version-rolling"], '
        b'{"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}]}\n'
    )
    answer = session.receive_data(configure, 0.0)
    assert answer.data == b'{"id": 1, "result": {"version-rolling": true, "version-rolling.mask": "1fffe000"}, "error": null}\n'
    assert client.receive_data(answer.data) == [VersionRolling(0x1FFFE000)]
    events = client.receive_data(session.receive_data(client.subscribe(), 0.0).data)
    assert events == [Subscribed(EXTRANONCE1, 4)]
    out = session.receive_data(client.authorize(USER, "x"), 0.0)
    events = client.receive_data(out.data)
    assert events[0] == Authorized(USER, True, None)
    assert events[1] == DifficultySet(Fraction("0.001"))
    assert isinstance(events[2], NewJob)
    job, stratum_job = events[2].job, vector_job("job1")
    assert (job.job_id, job.prev_hash, job.coinb1, job.coinb2) == ("job1", stratum_job.prev_hash,
                                                                   stratum_job.coinb1, stratum_job.coinb2)
    assert job.merkle_branch == stratum_job.merkle_branch and job.version == 0x30000000
    assert job.target == int(VECTOR["targets"]["difficulty_0.001"], 16)
    # the notify text is byte for byte the one cpuminer received
    assert out.data.splitlines()[-1].decode() == VECTOR["transcript"][5]["line"]
    # cpuminer's first share through the client core
    first = VECTOR["submits"][0]
    submit = client.submit(USER, "job1", bytes(4), job.ntime, first["nonce_value"])
    reply = session.receive_data(submit, 0.0)
    assert [h.header.hex() for h in reply.solutions] == [first["header_hex"]]
    assert client.receive_data(reply.data) == [SubmitResult(client.last_request_id, "job1", True, None)]


def test_version_rolling_rebuilds_the_rolled_header_and_refuses_bits_outside_the_mask() -> None:
    session = make_session(easy_job("e1", EASY), EASY)
    client = ClientConnection()
    client.receive_data(session.receive_data(client.configure(0x00FFF000), 0.0).data)
    assert client.version_mask == 0x1FFFE000 & 0x00FFF000 == 0x00FFE000
    client.receive_data(session.receive_data(client.subscribe() + client.authorize(USER, "x"), 0.0).data)
    assert client.job is not None
    rolled = (client.job.version & ~client.version_mask) | 0x00A4E000
    nonce, _ = share(session, "e1", version=rolled)
    out = session.receive_data(client.submit(USER, "e1", bytes(4), client.job.ntime, nonce, 0x00A4E000), 1.0)
    assert lines(out.data)[0]["result"] is True
    (solution,) = out.solutions
    assert solution.version == rolled != client.job.version
    assert solution.header[:4] == rolled.to_bytes(4, "little")
    assert hash_to_int(sha256d(solution.header)) <= difficulty_to_target(EASY)
    # a bit the server never granted (0x00001000 is in the miner's mask, not in the answer)
    bad = session.receive_data(client.submit(USER, "e1", bytes(4), client.job.ntime, nonce, 0x00A4F000), 1.0)
    assert error_of(lines(bad.data))[0] == 20 and "outside the negotiated mask" in str(error_of(lines(bad.data))[1])
    assert not bad.solutions


def test_version_bits_without_negotiation_are_refused() -> None:
    session = ready()
    nonce, _ = share(session, "e1")
    error = error_of(call(session, submit_line("e1", nonce, version_bits="00002000")))
    assert error[0] == 20 and "00000000" in str(error[1])
    assert call(session, submit_line("e1", nonce, version_bits="00000000"))[0]["result"] is True


def test_configure_answers_unknown_extensions_false() -> None:
    session = make_session(vector_job("job1"))
    answer = call(session, {"id": 9, "method": "mining.configure",
                            "params": [["minimum-difficulty", "subscribe-extranonce", "version-rolling", "info"],
                                       {"minimum-difficulty.value": 2048, "version-rolling.mask": "ffffffff",
                                        "version-rolling.min-bit-count": 16}]})
    assert answer[0]["result"] == {"minimum-difficulty": False, "subscribe-extranonce": False,
                                   "version-rolling": True, "version-rolling.mask": "1fffe000", "info": False}


# -- methods -----------------------------------------------------------------------------------


def test_subscribe_result_shape_and_authorize_sends_difficulty_then_notify() -> None:
    session = make_session(vector_job("job1"))
    (sub,) = call(session, {"id": 1, "method": "mining.subscribe", "params": ["cgminer/4.12"]})
    assert sub == {"id": 1, "result": [[["mining.set_difficulty", "8a3f0001"], ["mining.notify", "8a3f0001"]],
                                       "8a3f0001", 4], "error": None}
    auth, difficulty, notify = call(session, {"id": 2, "method": "mining.authorize", "params": [USER + ".rig1", "x"]})
    assert auth == {"id": 2, "result": True, "error": None}
    assert difficulty == {"id": None, "method": "mining.set_difficulty", "params": [0.001]}
    assert notify["method"] == "mining.notify" and notify["params"] == VECTOR["jobs"]["job1"]["params"]
    assert session.workers == {USER + ".rig1"}


def test_authorize_before_subscribe_sends_work_after_subscribe() -> None:
    session = make_session(vector_job("job1"))
    assert call(session, {"id": 1, "method": "mining.authorize", "params": [USER, ""]}) == [
        {"id": 1, "result": True, "error": None}]
    replies = call(session, {"id": 2, "method": "mining.subscribe", "params": []})
    assert [m.get("method") for m in replies] == [None, "mining.set_difficulty", "mining.notify"]


@pytest.mark.parametrize(("username", "why"), [
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "another network"),
    ("bcrt1qq6hag67dl53wl99vzg42z8eyzfz2xlkvwk6f7n", "checksum"),
    ("not-an-address", "base58"),
    ("", "empty"),
])
def test_authorize_refuses_addresses_of_other_formats_and_networks(username: str, why: str) -> None:
    session = make_session(vector_job("job1"))
    call(session, {"id": 1, "method": "mining.subscribe", "params": []})
    (answer,) = call(session, {"id": 2, "method": "mining.authorize", "params": [username, "x"]})
    code, message, _ = error_of([answer])
    assert code == 24 and why in str(message) and "payout address" in str(message)
    assert answer["result"] is None and session.workers == set()


def test_one_payout_address_per_connection() -> None:
    session = ready()
    assert call(session, {"id": 3, "method": "mining.authorize", "params": [USER + ".b", "x"]})[0]["result"] is True
    other = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
    assert error_of(call(session, {"id": 4, "method": "mining.authorize", "params": [other, "x"]}))[0] == 24
    assert session.workers == {USER, USER + ".b"}


def test_suggest_difficulty_sets_the_start_within_limits() -> None:
    session = make_session(vector_job("job1"), vardiff=True)
    call(session, {"id": 1, "method": "mining.subscribe", "params": []})
    assert call(session, {"id": 2, "method": "mining.suggest_difficulty", "params": [0.0005]}) == [
        {"id": 2, "result": True, "error": None}]
    replies = call(session, {"id": 3, "method": "mining.authorize", "params": [USER, "x"]})
    assert replies[1]["params"] == [0.0005]
    # below the configured minimum: clamped; announced at once, applied from the next notify
    (ok, announce) = call(session, {"id": 4, "method": "mining.suggest_difficulty", "params": [1e-9]})
    assert ok["result"] is True and announce == {"id": None, "method": "mining.set_difficulty", "params": [1e-06]}
    assert error_of(call(session, {"id": 5, "method": "mining.suggest_difficulty", "params": [-1]}))[0] == 20


def test_extranonce_subscribe_is_acknowledged() -> None:
    session = make_session(vector_job("job1"))
    assert call(session, {"id": 7, "method": "mining.extranonce.subscribe", "params": []}) == [
        {"id": 7, "result": True, "error": None}]


def test_difficulty_is_capped_at_the_job_share_difficulty() -> None:
    job = easy_job("e1", Fraction("0.0001"))
    session = make_session(job, Fraction(1000), vardiff=True)
    call(session, {"id": 1, "method": "mining.subscribe", "params": []})
    replies = call(session, {"id": 2, "method": "mining.authorize", "params": [USER, "x"]})
    assert replies[1]["params"] == [0.0001]
    sent = session.sent_job("e1")
    assert sent is not None and sent.difficulty == Fraction("0.0001")


def _regtest_addresses() -> list[str]:
    from sharechain.bitcoin.address import base58check_encode, encode_segwit

    return [
        encode_segwit("bcrt", 0, bytes(range(20))),  # bech32 P2WPKH
        encode_segwit("bcrt", 0, bytes(range(32))),  # bech32 P2WSH
        encode_segwit("bcrt", 1, bytes(range(32))),  # bech32m P2TR
        base58check_encode(b"\x6f" + bytes(20)),  # base58 P2PKH
        base58check_encode(b"\xc4" + bytes(20)),  # base58 P2SH
    ]


@pytest.mark.parametrize("address", _regtest_addresses())
def test_authorize_accepts_every_address_format_of_the_network(address: str) -> None:
    session = make_session(vector_job("job1"))
    call(session, {"id": 1, "method": "mining.subscribe", "params": []})
    replies = call(session, {"id": 2, "method": "mining.authorize", "params": [address + ".w1", "x"]})
    assert replies[0]["result"] is True and replies[-1]["method"] == "mining.notify"
    assert session.payout_address == address
    provider = session._source
    assert isinstance(provider, VectorProvider)
    assert provider.scripts_asked == [provider.parse_payout_address(address)]


def test_bech32_with_the_wrong_checksum_constant_is_refused() -> None:
    from sharechain.bitcoin.address import encode_segwit

    v1_as_bech32 = encode_segwit("bcrt", 0, bytes(range(32)))  # a v0 address ...
    tampered = v1_as_bech32[:5] + "p" + v1_as_bech32[6:]  # ... relabelled as v1: checksum no longer valid
    session = make_session(vector_job("job1"))
    assert error_of(call(session, {"id": 2, "method": "mining.authorize", "params": [tampered, "x"]}))[0] == 24
