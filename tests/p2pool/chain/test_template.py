"""BlockTemplate.from_rpc against real Core and BSV getblocktemplate replies, and malformed variants."""

from __future__ import annotations

from typing import Any

import pytest

from p2pool.chain.template import BlockTemplate, TemplateError
from sharechain.bitcoin.hashing import hex_to_hash
from sharechain.bitcoin.merkle import coinbase_merkle_branch
from sharechain.bitcoin.transaction import Transaction
from tests.fixtures.vectors import vector


def core_gbt() -> dict[str, Any]:
    return vector("core-regtest-gbt-segwit.json")["result"]


def bsv_gbt() -> dict[str, Any]:
    return vector("bsv-regtest-gbt.json")["result"]


def test_core_template_fields() -> None:
    tpl = BlockTemplate.from_rpc(core_gbt())
    assert tpl.version == 805306368
    assert tpl.prev_hash == hex_to_hash("23010d1e5e25ac3f675c453cb68dac7e2c45f1b79186c5addd4113461c679309")
    assert tpl.bits == 0x207FFFFF
    assert tpl.target == 0x7FFFFF << 232
    assert (tpl.height, tpl.curtime, tpl.mintime) == (211, 1795386985, 1795386985)
    assert tpl.coinbase_value == 2500045000
    assert tpl.total_fees() == 45000
    assert tpl.witness_commitment == bytes.fromhex(
        "6a24aa21a9ed86adb207cac9daeb0eab99d76643f897bee329673c2e580e428b503fc99b54cf")
    assert tpl.longpollid == "23010d1e5e25ac3f675c453cb68dac7e2c45f1b79186c5addd4113461c679309216"
    info = vector("core-regtest-gbt-segwit.json")["mempool_transactions"]
    by_index = {m["template_index"]: m for m in info}
    for i, tx in enumerate(tpl.transactions, start=1):
        assert tx.txid == hex_to_hash(by_index[i]["txid"])
        assert tx.wtxid == hex_to_hash(by_index[i]["wtxid"])
    assert [tx.fee for tx in tpl.transactions] == [10000, 20000, 5000, 3000, 7000]


def test_core_template_branch_matches_vector() -> None:
    tpl = BlockTemplate.from_rpc(core_gbt())
    accepted = vector("core-regtest-block-accepted.json")
    branch = coinbase_merkle_branch(tpl.other_txids())
    assert [h.hex() for h in branch] == accepted["merkle"]["coinbase_branch_internal"]


def test_block_bytes_rebuilds_the_accepted_block() -> None:
    tpl = BlockTemplate.from_rpc(core_gbt())
    accepted = vector("core-regtest-block-accepted.json")
    coinbase = Transaction.parse(bytes.fromhex(accepted["coinbase"]["tx_hex_with_witness"]))
    header = bytes.fromhex(accepted["header"]["hex"])
    assert tpl.block_bytes(header, coinbase).hex() == accepted["block_hex"]


def test_block_bytes_refuses_bad_input() -> None:
    tpl = BlockTemplate.from_rpc(core_gbt())
    accepted = vector("core-regtest-block-accepted.json")
    coinbase = Transaction.parse(bytes.fromhex(accepted["coinbase"]["tx_hex_with_witness"]))
    with pytest.raises(ValueError, match="80 bytes"):
        tpl.block_bytes(b"\x00" * 79, coinbase)
    not_coinbase = Transaction.parse(tpl.transactions[0].data)
    with pytest.raises(ValueError, match="coinbase"):
        tpl.block_bytes(b"\x00" * 80, not_coinbase)


def test_bsv_template_without_segwit() -> None:
    tpl = BlockTemplate.from_rpc(bsv_gbt())
    assert tpl.witness_commitment is None
    assert tpl.version == 0x20000000
    assert tpl.height == 211
    assert tpl.coinbase_value == 2500018760
    assert all(tx.txid == tx.wtxid for tx in tpl.transactions)
    assert tpl.total_fees() == 18760


def test_bsv_template_without_tx_hash() -> None:
    result = bsv_gbt()
    for entry in result["transactions"]:
        del entry["hash"]
    tpl = BlockTemplate.from_rpc(result)
    assert tpl == BlockTemplate.from_rpc(bsv_gbt())


def test_bsv_merkle_branch_matches_getminingcandidate() -> None:
    data = vector("bsv-regtest-gbt.json")
    tpl = BlockTemplate.from_rpc(data["result"])
    branch = coinbase_merkle_branch(tpl.other_txids())
    assert [h[::-1].hex() for h in branch] == data["bsv_getminingcandidate"]["result"]["merkleProof"]


REQUIRED = ["version", "previousblockhash", "bits", "height", "curtime", "mintime", "coinbasevalue", "transactions"]


@pytest.mark.parametrize("key", REQUIRED)
def test_missing_field(key: str) -> None:
    result = core_gbt()
    del result[key]
    with pytest.raises(TemplateError, match=f"no '{key}'"):
        BlockTemplate.from_rpc(result)


@pytest.mark.parametrize("key", ["data", "txid", "fee"])
def test_missing_transaction_field(key: str) -> None:
    result = core_gbt()
    del result["transactions"][2][key]
    with pytest.raises(TemplateError, match=f"transaction 3 has no '{key}'"):
        BlockTemplate.from_rpc(result)


MALFORMED: list[tuple[str, Any, str]] = [
    ("version", "805306368", "must be an integer"),
    ("version", True, "must be an integer"),
    ("height", 0, "outside"),
    ("height", 211.0, "must be an integer"),
    ("coinbasevalue", -1, "outside"),
    ("previousblockhash", "23010d1e", "32 bytes"),
    ("previousblockhash", "zz" * 32, "not valid hex"),
    ("bits", "207fff", "4 bytes"),
    ("bits", "20800001", "negative"),
    ("bits", "00000000", "zero target"),
    ("target", "7fffff" + "00" * 28 + "01", "does not match bits"),
    ("transactions", {}, "must be a list"),
    ("longpollid", 5, "must be a string"),
    ("rules", ["csv", "!signet"], "requires rule 'signet'"),
    ("rules", "segwit", "list of strings"),
    ("default_witness_commitment", "6a24aa21a9ed" + "00" * 32, "does not commit"),
    ("default_witness_commitment", "6a20" + "00" * 32, "not a BIP141"),
    ("transactions", [None], "must be a JSON object"),
]


@pytest.mark.parametrize(("key", "value", "message"), MALFORMED)
def test_malformed_field(key: str, value: Any, message: str) -> None:
    result = core_gbt()
    result[key] = value
    with pytest.raises(TemplateError, match=message):
        BlockTemplate.from_rpc(result)


def test_not_an_object() -> None:
    with pytest.raises(TemplateError, match="JSON object"):
        BlockTemplate.from_rpc([])  # type: ignore[arg-type]


def test_txid_must_match_data() -> None:
    result = core_gbt()
    result["transactions"][1]["txid"] = result["transactions"][0]["txid"]
    with pytest.raises(TemplateError, match=r"transaction 2 'txid' .* does not match"):
        BlockTemplate.from_rpc(result)


def test_segwit_txid_must_match_stripped_data() -> None:
    result = core_gbt()
    result["transactions"][0]["txid"] = result["transactions"][0]["hash"]
    with pytest.raises(TemplateError, match="transaction 1 'txid'"):
        BlockTemplate.from_rpc(result)


def test_wtxid_must_match_data() -> None:
    result = core_gbt()
    result["transactions"][0]["hash"] = result["transactions"][0]["txid"]
    with pytest.raises(TemplateError, match="transaction 1 'hash'"):
        BlockTemplate.from_rpc(result)


def test_unparseable_transaction() -> None:
    result = core_gbt()
    result["transactions"][0]["data"] = result["transactions"][0]["data"][:-10]
    with pytest.raises(TemplateError, match="transaction 1 'data' does not parse"):
        BlockTemplate.from_rpc(result)


def test_negative_fee() -> None:
    result = core_gbt()
    result["transactions"][0]["fee"] = -5
    with pytest.raises(TemplateError, match="'fee'"):
        BlockTemplate.from_rpc(result)


def test_duplicate_transaction() -> None:
    result = bsv_gbt()
    result["transactions"].append(result["transactions"][0])
    with pytest.raises(TemplateError, match="same transaction twice"):
        BlockTemplate.from_rpc(result)


def test_segwit_transactions_need_a_commitment() -> None:
    result = core_gbt()
    del result["default_witness_commitment"]
    with pytest.raises(TemplateError, match="no 'default_witness_commitment'"):
        BlockTemplate.from_rpc(result)


def test_template_without_transactions_may_omit_commitment() -> None:
    result = core_gbt()
    result["transactions"] = []
    del result["default_witness_commitment"]
    tpl = BlockTemplate.from_rpc(result)
    assert tpl.transactions == ()
    assert tpl.other_txids() == []
