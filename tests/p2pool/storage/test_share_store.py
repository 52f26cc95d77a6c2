import dataclasses

import plyvel
import pytest

from p2pool.storage.loader import load_chain, open_store, reindex
from p2pool.storage.share_store import ShareStore, StoreError
from sharechain.chain import ShareChain
from tests.sharechain.miner import TEST_PARAMS, mine_on

T0 = 1_700_000_000


def _mine(chain, n):
    shares = []
    for i in range(n):
        share = mine_on(chain, i % 3, T0 + i)
        chain.add(share, now=T0 + i)
        shares.append(share)
    return shares


def test_reopen_gives_same_tip_and_every_share(tmp_path):
    chain = ShareChain(TEST_PARAMS)
    shares = _mine(chain, 15)
    with ShareStore(tmp_path / "shares", TEST_PARAMS) as store:
        for share in shares:
            store.put_share(share)
    with ShareStore(tmp_path / "shares", TEST_PARAMS) as store:
        loaded = load_chain(store, TEST_PARAMS)
        assert loaded.tip.hash == chain.tip.hash
        assert loaded.tip.chain_work == chain.tip.chain_work
        assert {r.hash for r in loaded.records()} == {s.hash for s in shares}
        assert store.get_share(shares[3].hash) == shares[3]
        # The loaded chain validates and extends exactly like the original.
        nxt = mine_on(loaded, 1, T0 + 100)
        assert chain.add(nxt, now=T0 + 100).new_tip == nxt.hash


def test_foreign_network_database_is_refused_with_path(tmp_path):
    with ShareStore(tmp_path / "db", TEST_PARAMS):
        pass
    other = dataclasses.replace(TEST_PARAMS, name="other")
    with pytest.raises(StoreError, match=str(tmp_path / "db")) as info:
        ShareStore(tmp_path / "db", other)
    assert "another network" in str(info.value) and "fresh --datadir" in str(info.value)
    assert "--reindex cannot" in str(info.value)


def test_database_of_other_consensus_rules_is_refused_even_with_reindex(tmp_path):
    """Same network name, one consensus constant changed (as after an upgrade): a different id."""
    with ShareStore(tmp_path / "db", TEST_PARAMS):
        pass
    upgraded = dataclasses.replace(TEST_PARAMS, uncle_depth=TEST_PARAMS.uncle_depth + 1)
    with pytest.raises(StoreError, match="--reindex cannot convert it") as info:
        open_store(tmp_path / "db", upgraded, reindex_requested=True)
    assert TEST_PARAMS.network_id.hex() in str(info.value) and upgraded.network_id.hex() in str(info.value)


def test_non_otedama_leveldb_is_refused(tmp_path):
    db = plyvel.DB(str(tmp_path / "db"), create_if_missing=True)
    db.put(b"hello", b"world")
    db.close()
    with pytest.raises(StoreError, match="not an Otedama share store"):
        ShareStore(tmp_path / "db", TEST_PARAMS)


def test_damaged_record_names_reindex_and_reindex_recovers(tmp_path):
    chain = ShareChain(TEST_PARAMS)
    shares = _mine(chain, 6)
    path = tmp_path / "db"
    with ShareStore(path, TEST_PARAMS) as store:
        store.put_shares(shares)
    db = plyvel.DB(str(path))
    db.put(b"r" + shares[2].hash, b"\x01\x02")  # a record cut short
    db.put(b"s" + b"\x07" * 32, b"garbage")  # an unreadable share
    db.close()
    with ShareStore(path, TEST_PARAMS) as store, pytest.raises(StoreError, match="--reindex"):
        load_chain(store, TEST_PARAMS)
    with open_store(path, TEST_PARAMS, reindex_requested=True) as store:
        rebuilt, report = reindex(store, TEST_PARAMS)
        assert rebuilt.tip.hash == chain.tip.hash
        assert report.kept == 6 and len(report.dropped) == 1
    with ShareStore(path, TEST_PARAMS) as store:
        assert load_chain(store, TEST_PARAMS).tip.hash == chain.tip.hash


def test_database_in_use_gives_clear_error(tmp_path):
    with ShareStore(tmp_path / "db", TEST_PARAMS), pytest.raises(StoreError, match="another otedama process"):
        ShareStore(tmp_path / "db", TEST_PARAMS)


def test_a_store_of_the_format_before_pruning_is_refused_and_reindexed(tmp_path):
    chain = ShareChain(TEST_PARAMS)
    shares = _mine(chain, 8)
    path = tmp_path / "db"
    with ShareStore(path, TEST_PARAMS) as store:
        store.put_shares(shares)
    db = plyvel.DB(str(path))
    db.put(b"meta:version", b"1")
    db.close()
    with pytest.raises(StoreError, match="--reindex"):
        ShareStore(path, TEST_PARAMS)
    with open_store(path, TEST_PARAMS, reindex_requested=True) as store:
        rebuilt, report = reindex(store, TEST_PARAMS)
        assert rebuilt.tip.hash == chain.tip.hash and report.kept == 8
    with ShareStore(path, TEST_PARAMS) as store:
        assert load_chain(store, TEST_PARAMS).tip.chain_work == chain.tip.chain_work
