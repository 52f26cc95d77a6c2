"""A snapshot made by the node's own code from a real LevelDB, SQLite peer book and files; verified,
then restored into a new datadir: the same tip, shares, found blocks and identity. What must be
refused is refused: a datadir in use, one already holding a node, a backup that was changed."""

from __future__ import annotations

import json
import stat
import tarfile

import pytest
import trio

from p2pool.backup.client import _unpack
from p2pool.backup.manifest import DUMP, MANIFEST, BackupError, verify
from p2pool.backup.restore import RESTORED_CONFIG, restore
from p2pool.backup.snapshot import Snapshots, SnapshotSources
from p2pool.events import FoundBlock
from p2pool.p2p.banlist import BanList
from p2pool.p2p.host import load_identity
from p2pool.p2p.peerstore import AddressBook
from p2pool.storage.loader import load_chain
from p2pool.storage.lock import DatadirLock
from p2pool.storage.share_store import ShareStore
from p2pool.work.found_blocks import FoundBlocks
from sharechain.bitcoin.hashing import hash_to_hex
from sharechain.params import DEVNET
from tests.functional.sharegen import make_chain, store_shares

PEER = "12D3KooWDpJ7As7BWAwRMfu1VU2WRqPcvYqtTrPDntMrXGs9tGXK"


@pytest.fixture(scope="module")
def shares():
    return make_chain(12)


@pytest.fixture
def node(tmp_path, shares):
    """A stopped node's datadir, opened as a running node has it open."""
    datadir = tmp_path / "node"
    store_shares(datadir / "sharechain", shares[:10])
    load_identity(datadir / "p2p_identity.key")
    BanList(datadir / "bans.json").ban(PEER, 4e9, "testing")
    with AddressBook(datadir / "peers.sqlite") as book:
        book.add(PEER, [f"/ip4/10.0.0.1/tcp/9338/p2p/{PEER}"], 1.0, "test")
    (datadir / "api-token").write_text("t" * 32)
    store = ShareStore(datadir / "sharechain", DEVNET)
    chain = load_chain(store, DEVNET)
    found = FoundBlocks(store)
    found.record(FoundBlock("ab" * 32, 101, 1700000000, hash_to_hex(shares[5].hash), "", "w", 5000, (("a", 5000),)))
    sources = SnapshotSources(params=DEVNET, datadir=datadir, store=store, chain=chain,
                              blocks_found=lambda: len(found.all()), peer_id="12D3KooWself",
                              config=lambda: 'network = "devnet"\n', version="test")
    yield datadir, store, chain, Snapshots(sources)
    store.close()


async def backup_of(snapshots: Snapshots, target):
    tar = await snapshots.make()
    target.mkdir()
    _unpack(tar, target)
    tar.unlink()
    return verify(target)


async def test_snapshot_restores_to_the_same_node(node, tmp_path, shares):
    datadir, store, chain, snapshots = node
    manifest = await backup_of(snapshots, tmp_path / "backup")
    assert manifest.tip == hash_to_hex(chain.tip.hash) and manifest.shares == 10 and manifest.blocks_found == 1
    assert manifest.peer_id == "12D3KooWself"
    names = {entry.name for entry in manifest.files}
    assert names == {DUMP, "p2p_identity.key", "bans.json", "api-token", "peers.sqlite", "config.toml"}
    assert not (datadir / "backup-tmp").exists() or not any((datadir / "backup-tmp").iterdir())

    restored = tmp_path / "restored"
    restore(tmp_path / "backup", restored)
    with ShareStore(restored / "sharechain", DEVNET) as copy:
        again = load_chain(copy, DEVNET)
        assert again.tip.hash == chain.tip.hash and len(again) == len(chain)
        assert copy.blocks() == store.blocks()
    assert (restored / "p2p_identity.key").read_bytes() == (datadir / "p2p_identity.key").read_bytes()
    assert stat.S_IMODE((restored / "p2p_identity.key").stat().st_mode) == 0o600
    assert BanList(restored / "bans.json").is_banned(PEER, 1e9)
    with AddressBook(restored / "peers.sqlite") as book:
        assert book.get(PEER) == [f"/ip4/10.0.0.1/tcp/9338/p2p/{PEER}"]
    assert (restored / RESTORED_CONFIG).read_text() == 'network = "devnet"\n'


async def test_the_snapshot_is_of_one_instant_whatever_the_node_writes_after(node, tmp_path, shares):
    _, store, _, snapshots = node
    snapshot, manifest = snapshots._freeze()
    store.put_shares(shares[10:])  # the node goes on while the snapshot is written
    keys = {key for key, _ in snapshot.items()}
    snapshot.close()
    assert b"s" + shares[9].hash in keys and b"s" + shares[10].hash not in keys
    assert manifest.shares == 10


async def test_one_backup_at_a_time(node):
    _, _, _, snapshots = node
    async with trio.open_nursery() as nursery:
        nursery.start_soon(snapshots.make)
        with trio.fail_after(10):
            while not snapshots.busy:  # the API answers 409 while this is so
                await trio.sleep(0.001)
    assert not snapshots.busy


async def test_restore_refuses_a_datadir_in_use_or_taken(node, tmp_path):
    _, _, _, snapshots = node
    await backup_of(snapshots, tmp_path / "backup")
    busy = tmp_path / "busy"
    busy.mkdir()
    with DatadirLock(busy), pytest.raises(BackupError, match=r"in use by another otedama process \(pid \d+\)"):
        restore(tmp_path / "backup", busy)
    assert list(busy.iterdir()) == [busy / "otedama.lock"]  # nothing written

    taken = tmp_path / "taken"
    restore(tmp_path / "backup", taken)
    with pytest.raises(BackupError, match="already holds"):
        restore(tmp_path / "backup", taken)
    restore(tmp_path / "backup", taken, force=True)
    assert len(list(taken.glob("sharechain.replaced-*"))) == 1


async def test_a_changed_or_foreign_backup_is_refused(node, tmp_path):
    _, _, _, snapshots = node
    backup = tmp_path / "backup"
    await backup_of(snapshots, backup)
    data = bytearray((backup / DUMP).read_bytes())
    data[-20] ^= 1
    (backup / DUMP).write_bytes(bytes(data))
    with pytest.raises(BackupError, match=f"{DUMP} is damaged or was changed"):
        restore(backup, tmp_path / "x")
    assert not (tmp_path / "x").exists()

    manifest = json.loads((backup / MANIFEST).read_text())
    manifest["files"].append({"name": "../escape", "size": 0, "sha256": ""})
    (backup / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="which no backup holds"):
        verify(backup)

    other = tmp_path / "other.tar"
    with tarfile.open(other, "w") as tar:
        tar.add(backup / MANIFEST, arcname="../manifest.json")
    (tmp_path / "unpacked").mkdir()
    with pytest.raises(BackupError, match="unexpected entry"):
        _unpack(other, tmp_path / "unpacked")
