"""The few output scripts and pushes a pool needs to build and read coinbases."""

from __future__ import annotations

OP_0 = 0x00
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_1 = 0x51
OP_RETURN = 0x6A
OP_DUP = 0x76
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_HASH160 = 0xA9
OP_CHECKSIG = 0xAC


def push_data(data: bytes) -> bytes:
    """Minimal push of ``data`` (BIP62 minimal encoding for non-empty data)."""
    n = len(data)
    if n < OP_PUSHDATA1:
        return bytes((n,)) + data
    if n <= 0xFF:
        return bytes((OP_PUSHDATA1, n)) + data
    if n <= 0xFFFF:
        return bytes((OP_PUSHDATA2,)) + n.to_bytes(2, "little") + data
    raise ValueError("push too large")


def script_num(n: int) -> bytes:
    """CScriptNum encoding: little-endian, sign bit in the last byte."""
    if n == 0:
        return b""
    negative = n < 0
    magnitude = abs(n)
    out = bytearray()
    while magnitude:
        out.append(magnitude & 0xFF)
        magnitude >>= 8
    if out[-1] & 0x80:
        out.append(0x80 if negative else 0x00)
    elif negative:
        out[-1] |= 0x80
    return bytes(out)


def bip34_height_push(height: int) -> bytes:
    """The block height as BIP34 wants it at the start of the coinbase scriptSig."""
    if 1 <= height <= 16:
        return bytes((OP_1 + height - 1,))
    if height == 0:
        return bytes((OP_0,))
    return push_data(script_num(height))


def read_bip34_height(script_sig: bytes) -> int | None:
    """The height a coinbase scriptSig starts with, or None if it does not start with a number push."""
    if not script_sig:
        return None
    op = script_sig[0]
    if op == OP_0:
        return 0
    if OP_1 <= op <= OP_1 + 15:
        return op - OP_1 + 1
    if 1 <= op <= 8 and len(script_sig) > op:
        raw = script_sig[1 : 1 + op]
        value = int.from_bytes(raw, "little")
        if raw[-1] & 0x80:
            return -(value & ~(0x80 << (8 * (op - 1))))
        return value
    return None


def p2pkh(pubkey_hash: bytes) -> bytes:
    return bytes((OP_DUP, OP_HASH160, 20)) + pubkey_hash + bytes((OP_EQUALVERIFY, OP_CHECKSIG))


def p2sh(script_hash: bytes) -> bytes:
    return bytes((OP_HASH160, 20)) + script_hash + bytes((OP_EQUAL,))


def witness_program(version: int, program: bytes) -> bytes:
    """Segwit output script: OP_0 or OP_1..OP_16, then the program push."""
    op = OP_0 if version == 0 else OP_1 + version - 1
    return bytes((op, len(program))) + program


def op_return(data: bytes) -> bytes:
    return bytes((OP_RETURN,)) + push_data(data)
