"""AddressBook: addresses as full multiaddrs, restarts, exponential back-off, candidate order, bounded size."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import base58
import pytest

from p2pool.p2p.peerstore import (
    AddressBook,
    AddressBookConfig,
    AddressError,
    PeerStoreError,
    check_peer_id,
    normalize_addr,
)


def peer_id(n: int) -> str:
    """A real Ed25519-style peer ID (identity multihash of a protobuf public key), as libp2p prints it."""
    return base58.b58encode(b"\x00\x24\x08\x01\x12\x20" + hashlib.sha256(b"%d" % n).digest()).decode()


A, B, C, D = (peer_id(i) for i in range(4))


def tcp(i: int, port: int = 9338) -> str:
    return f"/ip4/10.0.0.{i}/tcp/{port}"


@pytest.fixture
def book(tmp_path: Path) -> Iterator[AddressBook]:
    with AddressBook(tmp_path / "peers.sqlite") as opened:
        yield opened


def test_peer_ids_are_checked() -> None:
    check_peer_id(A)
    check_peer_id("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N")
    for bad in ("", "abc", A + "/tcp/1", "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe", A[:-3]):
        with pytest.raises(AddressError):
            check_peer_id(bad)


def test_addresses_are_normalized_to_full_multiaddrs() -> None:
    assert normalize_addr(A, "/ip4/1.2.3.4/tcp/9338") == f"/ip4/1.2.3.4/tcp/9338/p2p/{A}"
    assert normalize_addr(A, f"/ip4/1.2.3.4/tcp/9338/p2p/{A}") == f"/ip4/1.2.3.4/tcp/9338/p2p/{A}"
    assert normalize_addr(A, "/ip6/0:0::1/tcp/1") == f"/ip6/::1/tcp/1/p2p/{A}"
    assert normalize_addr(A, "/dns4/seed.example.org/tcp/9338") == f"/dns4/seed.example.org/tcp/9338/p2p/{A}"
    relayed = f"/ip4/1.2.3.4/tcp/1/p2p/{B}/p2p-circuit"
    assert normalize_addr(A, relayed) == f"{relayed}/p2p/{A}"


@pytest.mark.parametrize("addr", [
    "", "garbage", "/ip4/999.0.0.1/tcp/1", "/ipfs/x", f"/p2p/{A}", "/tcp/9338", f"/ip4/1.2.3.4/tcp/1/p2p/{B}",
    "/ip4/1.2.3.4/tcp/" + "1" * 600, "/ip4/1.2.3.4/tcp/70000",
])
def test_bad_addresses_are_refused(addr: str) -> None:
    with pytest.raises(AddressError):
        normalize_addr(A, addr)


def test_add_and_get(book: AddressBook) -> None:
    book.add(A, [tcp(1), f"{tcp(2)}/p2p/{A}"], 100.0, "bootstrap")
    assert book.get(A) == [f"{tcp(1)}/p2p/{A}", f"{tcp(2)}/p2p/{A}"]
    assert book.get(B) == []
    assert book.all() == [(A, book.get(A))]
    info = book.info(A)
    assert info is not None and info.source == "bootstrap" and info.first_seen == info.last_seen == 100.0
    assert info.failures == 0 and info.last_connected is None and book.info(B) is None


def test_bad_address_writes_nothing(book: AddressBook) -> None:
    with pytest.raises(AddressError):
        book.add(A, [tcp(1), "nonsense"], 1.0, "pex")
    with pytest.raises(AddressError):
        book.add("not-a-peer", [tcp(1)], 1.0, "pex")
    assert book.all() == [] and len(book) == 0


def test_empty_address_list_changes_nothing(book: AddressBook) -> None:
    book.add(A, [], 1.0, "pex")
    assert len(book) == 0


def test_re_adding_refreshes_and_deduplicates(book: AddressBook) -> None:
    book.add(A, [tcp(1), tcp(1), tcp(2)], 100.0, "pex")
    book.add(A, [tcp(2)], 200.0, "inbound")
    assert book.get(A) == [f"{tcp(2)}/p2p/{A}", f"{tcp(1)}/p2p/{A}"]
    info = book.info(A)
    assert info is not None and (info.source, info.first_seen, info.last_seen) == ("inbound", 100.0, 200.0)


def test_addresses_per_peer_are_capped_keeping_the_newest(tmp_path: Path) -> None:
    with AddressBook(tmp_path / "p.sqlite", AddressBookConfig(max_addrs_per_peer=3)) as book:
        book.add(A, [tcp(i) for i in range(1, 6)], 1.0, "pex")
        assert book.get(A) == [f"{tcp(i)}/p2p/{A}" for i in (1, 2, 3)]
        book.add(A, [tcp(9)], 2.0, "pex")
        assert book.get(A) == [f"{tcp(9)}/p2p/{A}", f"{tcp(1)}/p2p/{A}", f"{tcp(2)}/p2p/{A}"]


def test_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite"
    with AddressBook(path) as book:
        book.add(A, [tcp(1)], 100.0, "bootstrap")
        book.add(B, [tcp(2), tcp(3)], 110.0, "pex")
        book.mark_connected(A, 120.0)
        book.mark_failed(B, 130.0)
        book.mark_failed(B, 140.0)
        before = (book.all(), book.info(A), book.info(B))
    with AddressBook(path) as book:
        assert (book.all(), book.info(A), book.info(B)) == before
        info = book.info(B)
        assert info is not None and info.failures == 2 and info.last_failed == 140.0
        assert book.next_attempt(B) == 140.0 + 20.0


def test_unknown_peers_are_ignored_by_marks_and_remove(book: AddressBook) -> None:
    book.mark_connected(A, 1.0)
    book.mark_failed(A, 1.0)
    book.remove(A)
    assert len(book) == 0 and book.next_attempt(A) is None


def test_remove(book: AddressBook) -> None:
    book.add(A, [tcp(1)], 1.0, "pex")
    book.add(B, [tcp(2)], 1.0, "pex")
    book.remove(A)
    assert book.all() == [(B, [f"{tcp(2)}/p2p/{B}"])] and book.get(A) == []


def test_failures_back_off_exponentially(book: AddressBook) -> None:
    config = book.config
    assert [config.backoff(n) for n in range(5)] == [0.0, 10.0, 20.0, 40.0, 80.0]
    assert config.backoff(100) == config.max_backoff == 3600.0
    book.add(A, [tcp(1)], 0.0, "pex")
    now = 1000.0
    for wait in (10.0, 20.0, 40.0, 80.0):  # after 1, 2, 3, 4 failures
        book.mark_failed(A, now)
        assert book.next_attempt(A) == now + wait
        assert book.candidates(now + wait - 0.001, set(), 10) == []
        assert [peer for peer, _ in book.candidates(now + wait, set(), 10)] == [A]
        now += wait


def test_backoff_is_capped(book: AddressBook) -> None:
    book.add(A, [tcp(1)], 0.0, "pex")
    for _ in range(40):
        book.mark_failed(A, 5000.0)
    assert book.next_attempt(A) == 5000.0 + 3600.0
    assert [peer for peer, _ in book.candidates(8600.0, set(), 1)] == [A]


def test_connection_clears_the_back_off(book: AddressBook) -> None:
    book.add(A, [tcp(1)], 0.0, "pex")
    for _ in range(5):
        book.mark_failed(A, 100.0)
    assert book.candidates(101.0, set(), 10) == []
    book.mark_connected(A, 101.0)
    assert book.candidates(101.0, set(), 10) == [(A, [f"{tcp(1)}/p2p/{A}"])]
    book.mark_failed(A, 200.0)
    assert book.next_attempt(A) == 210.0


def test_candidates_prefer_recently_connected_then_fewest_failures(book: AddressBook) -> None:
    for i, peer in enumerate((A, B, C, D)):
        book.add(peer, [tcp(i)], 10.0 * i, "pex")
    book.mark_connected(B, 100.0)
    book.mark_connected(C, 200.0)
    book.mark_failed(A, 0.0)  # A failed once long ago; D never tried but seen most recently
    order = [peer for peer, _ in book.candidates(1000.0, set(), 10)]
    assert order == [C, B, D, A]
    assert [peer for peer, _ in book.candidates(1000.0, {C, D}, 10)] == [B, A]
    assert [peer for peer, _ in book.candidates(1000.0, [], 2)] == [C, B]
    assert book.candidates(1000.0, set(), 0) == []
    assert book.candidates(1000.0, {A, B, C, D}, 10) == []


def test_size_is_bounded_evicting_the_worst(tmp_path: Path) -> None:
    config = AddressBookConfig(max_peers=3, max_failures=3)
    with AddressBook(tmp_path / "p.sqlite", config) as book:
        book.add(A, [tcp(0)], 10.0, "pex")
        book.add(B, [tcp(1)], 20.0, "pex")
        book.add(C, [tcp(2)], 30.0, "pex")
        book.mark_connected(A, 40.0)
        for _ in range(3):
            book.mark_failed(C, 50.0)  # C reached max_failures: the worst
        book.add(D, [tcp(3)], 60.0, "pex")
        assert sorted(peer for peer, _ in book.all()) == sorted([A, B, D])
        assert book.get(C) == []
        book.add(peer_id(9), [tcp(9)], 70.0, "pex")  # B and D never connected; B is the older
        assert sorted(peer for peer, _ in book.all()) == sorted([A, D, peer_id(9)])
        assert len(book) == 3
        with closing(sqlite3.connect(tmp_path / "p.sqlite")) as db:
            (count,) = db.execute("SELECT COUNT(*) FROM addrs").fetchone()
        assert count == 3


def test_many_peers_stay_bounded(tmp_path: Path) -> None:
    with AddressBook(tmp_path / "p.sqlite", AddressBookConfig(max_peers=20)) as book:
        for i in range(200):
            book.add(peer_id(100 + i), [tcp(i % 250)], float(i), "pex")
        assert len(book) == 20
        assert book.get(peer_id(299)) != [] and book.get(peer_id(100)) == []


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite"
    path.write_bytes(b"this is not an sqlite database, it is some text " * 100)
    with pytest.raises(PeerStoreError, match="damaged or not a database") as caught:
        AddressBook(path)
    assert str(path) in str(caught.value)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE peers (x INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(PeerStoreError, match="not an Otedama address book") as caught:
        AddressBook(path)
    assert str(path) in str(caught.value)


def test_other_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite"
    AddressBook(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    db.commit()
    db.close()
    with pytest.raises(PeerStoreError, match="format version '99'"):
        AddressBook(path)


def test_corrupted_pages_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "peers.sqlite"
    with AddressBook(path) as book:
        for i in range(300):
            book.add(peer_id(i), [tcp(i % 250, 1000 + i)], float(i), "pex")
    raw = bytearray(path.read_bytes())
    for offset in range(2 * 4096, len(raw), 4096):
        raw[offset:offset + 100] = b"\xa5" * 100
    path.write_bytes(bytes(raw))
    with pytest.raises(PeerStoreError, match="damaged") as caught:
        AddressBook(path)
    assert str(path) in str(caught.value)


def test_reads_no_clock(book: AddressBook, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    def no_clock() -> float:
        raise AssertionError("the address book read the clock")

    for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"):
        monkeypatch.setattr(time, name, no_clock)
    book.add(A, [tcp(1)], 1.0, "pex")
    book.mark_failed(A, 2.0)
    book.mark_connected(A, 3.0)
    assert [peer for peer, _ in book.candidates(4.0, set(), 5)] == [A]


def test_module_is_pure() -> None:
    code = ("import sys, p2pool.p2p.peerstore; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'trio', 'socket', 'libp2p', 'asyncio'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_full_disk_skips_updates_without_raising_and_writes_again_after(tmp_path: Path, caplog) -> None:
    from tests.fixtures.full_disk import file_size_limit

    with AddressBook(tmp_path / "peers.sqlite") as book:
        book.add(A, [tcp(1)], 100.0, "bootstrap")
        largest = max(f.stat().st_size for f in tmp_path.iterdir())
        many = [(peer_id(n), tcp(n % 250)) for n in range(10, 2010)]  # more than the files hold so far
        with file_size_limit(largest + 1):
            book.add_many(many, 101.0, "pex")  # refused by the disk: skipped, not raised
            assert book.write_error == "disk I/O error"
            book.add_many(many, 102.0, "pex")
        assert caplog.text.count("cannot write the address book") == 1  # once a streak
        assert book.get(A) == [f"{tcp(1)}/p2p/{A}"] and len(book) == 1  # rolled back, the book still reads
        book.mark_connected(A, 103.0)
        assert book.write_error is None and "written again" in caplog.text
        assert book.info(A).last_connected == 103.0
