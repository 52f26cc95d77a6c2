"""The share-checking process of a join: ``python -m p2pool.p2p.check_worker``.

A join downloads thousands of shares a second, and decoding each one and checking it alone (proof of
work, structure, coinbase layout: :func:`sharechain.validation.check_bytes`) is about a third of
the joining node's work. This process does that part on another core while the node validates the
shares before them in context; the node then decodes only each share's header and share information
(:meth:`Share.parse_lazily`) and takes the verdict for the rules that need the share alone.

Frames on its standard input and output, each a 4-byte little-endian length and its payload: the
first from the node is the pickled :class:`~sharechain.params.NetworkParams`, each next one a batch of
shares' bytes (each with its CompactSize length); each answer is the pickled list of the batch's
verdicts, in order. It imports only the sharechain (it starts in a few tens of milliseconds) and
stops at the end of its input. Pickle is safe here: both ends are this node's own code.
"""

from __future__ import annotations

import pickle
import struct
import sys
from typing import BinaryIO

from sharechain.bitcoin.serialize import ByteReader, ParseError
from sharechain.params import NetworkParams
from sharechain.share import MAX_SHARE_SIZE
from sharechain.validation import StandaloneVerdict, check_bytes

FRAME = struct.Struct("<I")


def read_frame(stream: BinaryIO) -> bytes | None:
    """A frame's payload, or None at the end of the input."""
    head = stream.read(FRAME.size)
    if len(head) < FRAME.size:
        return None
    (length,) = FRAME.unpack(head)
    payload = stream.read(length)
    return payload if len(payload) == length else None


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(FRAME.pack(len(payload)) + payload)
    stream.flush()


def check_batch(payload: bytes, params: NetworkParams) -> list[StandaloneVerdict | str]:
    """The verdicts on a batch of shares' bytes (a share whose length does not read is malformed)."""
    reader = ByteReader(payload)
    verdicts: list[StandaloneVerdict | str] = []
    while reader.remaining():
        try:
            raw = reader.read_varbytes(MAX_SHARE_SIZE)
        except ParseError as exc:
            verdicts.append(str(exc))
            break
        verdicts.append(check_bytes(raw, params))
    return verdicts


def serve(source: BinaryIO, sink: BinaryIO) -> None:
    first = read_frame(source)
    if first is None:
        return
    params = pickle.loads(first)
    assert isinstance(params, NetworkParams)
    while (payload := read_frame(source)) is not None:
        write_frame(sink, pickle.dumps(check_batch(payload, params), protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
