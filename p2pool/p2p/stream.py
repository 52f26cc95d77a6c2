"""Reading and writing protocol frames on a libp2p stream (its end raises ``StreamEOF``)."""

from __future__ import annotations

from libp2p.abc import INetStream
from libp2p.exceptions import BaseLibp2pError

from p2pool.p2p.messages import FrameDecoder, Message, encode

# The least asked of the stream at a time; a long frame is asked for whole (a 1 MB batch of shares in a
# few reads, not sixteen: the muxer answers each read with a window update).
READ_CHUNK = 1 << 16


class StreamClosed(Exception):
    """The stream ended or broke before a whole message arrived."""


async def read_message(stream: INetStream, decoder: FrameDecoder) -> Message | None:
    """The next message; None when the stream ended cleanly between messages."""
    while (message := decoder.next_message()) is None:
        try:
            data = await stream.read(max(READ_CHUNK, decoder.wanted))
        except EOFError:  # StreamEOF / MuxedStreamEOF
            data = b""
        except BaseLibp2pError as exc:
            raise StreamClosed(str(exc) or type(exc).__name__) from None
        if not data:
            if decoder.pending:
                raise StreamClosed("stream ended inside a message")
            return None
        decoder.receive_data(data)
    return message


async def write_message(stream: INetStream, message: Message) -> None:
    try:
        await stream.write(encode(message))
    except BaseLibp2pError as exc:
        raise StreamClosed(str(exc) or type(exc).__name__) from None
