"""The block template the node mines on, parsed and checked from a ``getblocktemplate`` reply.

Pure code: the same parser reads Bitcoin Core's segwit templates and Bitcoin SV's (no segwit fields,
transaction ``hash`` possibly absent). Every field is checked so a bad node reply becomes a clear
:class:`TemplateError` instead of an invalid block later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sharechain.bitcoin.block import WITNESS_COMMITMENT_HEADER, witness_commitment_script
from sharechain.bitcoin.hashing import hash_to_hex, sha256d
from sharechain.bitcoin.header import HEADER_SIZE
from sharechain.bitcoin.merkle import merkle_root
from sharechain.bitcoin.serialize import ParseError, ser_varint
from sharechain.bitcoin.target import bits_to_target
from sharechain.bitcoin.transaction import Transaction

# BIP9 rules marked "!" must be understood by whoever builds the block; these are the ones we do.
SUPPORTED_REQUIRED_RULES = frozenset({"segwit"})


class TemplateError(ValueError):
    """A ``getblocktemplate`` reply that is missing a field or holds a malformed one."""


@dataclass(frozen=True)
class TemplateTx:
    """One template transaction: raw bytes (with witness) and internal-order hashes."""

    data: bytes
    txid: bytes
    wtxid: bytes
    fee: int


@dataclass(frozen=True)
class BlockTemplate:
    """What a block built now must commit to. Hashes are internal byte order."""

    version: int
    prev_hash: bytes
    bits: int
    target: int
    height: int
    curtime: int
    mintime: int
    coinbase_value: int
    transactions: tuple[TemplateTx, ...]
    witness_commitment: bytes | None
    longpollid: str | None

    @classmethod
    def from_rpc(cls, result: Mapping[str, Any]) -> BlockTemplate:
        """Parse and check a ``getblocktemplate`` result (the JSON-RPC ``result`` object)."""
        if not isinstance(result, Mapping):
            raise TemplateError(f"template must be a JSON object, got {type(result).__name__}")
        _check_rules(result.get("rules", []))
        bits = _bits(result)
        target = bits_to_target(bits)
        if "target" in result:
            given = _hex_int(result, "target")
            if given != target:
                raise TemplateError(f"'target' {given:064x} does not match bits {bits:08x} ({target:064x})")
        transactions = _transactions(result)
        commitment = _witness_commitment(result, transactions)
        longpollid = result.get("longpollid")
        if longpollid is not None and not isinstance(longpollid, str):
            raise TemplateError("'longpollid' must be a string")
        return cls(
            version=_int(result, "version", 0, 0xFFFFFFFF),
            prev_hash=_hash(result, "previousblockhash"),
            bits=bits,
            target=target,
            height=_int(result, "height", 1, 0x7FFFFFFF),
            curtime=_int(result, "curtime", 0, 0xFFFFFFFF),
            mintime=_int(result, "mintime", 0, 0xFFFFFFFF),
            coinbase_value=_int(result, "coinbasevalue", 0, 21_000_000 * 100_000_000),
            transactions=transactions,
            witness_commitment=commitment,
            longpollid=longpollid,
        )

    def other_txids(self) -> list[bytes]:
        """Every non-coinbase txid in block order (internal): the input of the coinbase merkle branch."""
        return [tx.txid for tx in self.transactions]

    def total_fees(self) -> int:
        return sum(tx.fee for tx in self.transactions)

    def block_bytes(self, header: bytes, coinbase: Transaction) -> bytes:
        """The full block for ``submitblock``: header, coinbase (with its witness), then the template's transactions."""
        if len(header) != HEADER_SIZE:
            raise ValueError(f"a block header is {HEADER_SIZE} bytes, got {len(header)}")
        if not coinbase.is_coinbase():
            raise ValueError("the first transaction of a block must be a coinbase")
        parts = [header, ser_varint(len(self.transactions) + 1), coinbase.serialize(with_witness=True)]
        parts += [tx.data for tx in self.transactions]
        return b"".join(parts)


def _field(result: Mapping[str, Any], key: str, where: str = "template") -> Any:
    if key not in result:
        raise TemplateError(f"{where} has no '{key}'")
    return result[key]


def _int(result: Mapping[str, Any], key: str, low: int, high: int, where: str = "template") -> int:
    value = _field(result, key, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TemplateError(f"{where} '{key}' must be an integer, got {value!r}")
    if not low <= value <= high:
        raise TemplateError(f"{where} '{key}' = {value} is outside [{low}, {high}]")
    return value


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise TemplateError(f"{what} must be a hex string, got {type(value).__name__}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise TemplateError(f"{what} is not valid hex") from None


def _hash(result: Mapping[str, Any], key: str, where: str = "template") -> bytes:
    raw = _hex(_field(result, key, where), f"{where} '{key}'")
    if len(raw) != 32:
        raise TemplateError(f"{where} '{key}' must be 32 bytes, got {len(raw)}")
    return raw[::-1]


def _hex_int(result: Mapping[str, Any], key: str) -> int:
    raw = _hex(_field(result, key), f"'{key}'")
    if len(raw) != 32:
        raise TemplateError(f"'{key}' must be 32 bytes of hex, got {len(raw)}")
    return int.from_bytes(raw, "big")


def _bits(result: Mapping[str, Any]) -> int:
    raw = _hex(_field(result, "bits"), "'bits'")
    if len(raw) != 4:
        raise TemplateError(f"'bits' must be 4 bytes of hex, got {len(raw)}")
    bits = int.from_bytes(raw, "big")
    try:
        target = bits_to_target(bits)
    except ValueError as exc:
        raise TemplateError(f"'bits' {bits:08x}: {exc}") from None
    if target == 0:
        raise TemplateError(f"'bits' {bits:08x} encodes a zero target")
    return bits


def _check_rules(rules: Any) -> None:
    if not isinstance(rules, list) or not all(isinstance(rule, str) for rule in rules):
        raise TemplateError("'rules' must be a list of strings")
    for rule in rules:
        if rule.startswith("!") and rule[1:] not in SUPPORTED_REQUIRED_RULES:
            raise TemplateError(f"template requires rule '{rule[1:]}', which Otedama does not implement")


def _transactions(result: Mapping[str, Any]) -> tuple[TemplateTx, ...]:
    entries = _field(result, "transactions")
    if not isinstance(entries, list):
        raise TemplateError("'transactions' must be a list")
    parsed = tuple(_transaction(entry, index) for index, entry in enumerate(entries, start=1))
    if len({tx.txid for tx in parsed}) != len(parsed):
        raise TemplateError("template lists the same transaction twice")
    return parsed


def _transaction(entry: Any, index: int) -> TemplateTx:
    where = f"transaction {index}"
    if not isinstance(entry, Mapping):
        raise TemplateError(f"{where} must be a JSON object")
    data = _hex(_field(entry, "data", where), f"{where} 'data'")
    if not data:
        raise TemplateError(f"{where} has empty 'data'")
    txid = _hash(entry, "txid", where)
    wtxid = sha256d(data)
    stripped = data
    if len(data) > 5 and data[4] == 0:
        # BIP144 marker: the txid hashes the serialization without the witness.
        try:
            stripped = Transaction.parse(data).serialize(with_witness=False)
        except ParseError as exc:
            raise TemplateError(f"{where} 'data' does not parse: {exc}") from None
    if sha256d(stripped) != txid:
        raise TemplateError(f"{where} 'txid' {hash_to_hex(txid)} does not match its data")
    if "hash" in entry and _hash(entry, "hash", where) != wtxid:
        raise TemplateError(f"{where} 'hash' (wtxid) does not match its data")
    fee = _int(entry, "fee", 0, 21_000_000 * 100_000_000, where)
    return TemplateTx(data=data, txid=txid, wtxid=wtxid, fee=fee)


def _witness_commitment(result: Mapping[str, Any], transactions: tuple[TemplateTx, ...]) -> bytes | None:
    has_witness = any(tx.txid != tx.wtxid for tx in transactions)
    if "default_witness_commitment" not in result:
        if has_witness:
            raise TemplateError("template has segwit transactions but no 'default_witness_commitment'")
        return None
    script = _hex(result["default_witness_commitment"], "'default_witness_commitment'")
    if len(script) != 38 or not script.startswith(WITNESS_COMMITMENT_HEADER):
        raise TemplateError("'default_witness_commitment' is not a BIP141 commitment script")
    expected = witness_commitment_script(merkle_root([b"\x00" * 32] + [tx.wtxid for tx in transactions]))
    if script != expected:
        raise TemplateError("'default_witness_commitment' does not commit to the template's transactions")
    return script
