"""The kinds of value an option takes: how each is parsed, checked and written back as TOML.

A value comes either from the TOML file (or a program), already typed, or as text from the
environment or the command line (``textual``). Every kind refuses what it cannot use with
:class:`Invalid`, whose message says what was expected; the caller adds the key and the value.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from bootstrap.seedlist import SeedListError, parse_entry
from p2pool.addresses import AddressError, parse_announce, parse_listen, parse_peer
from sharechain.bitcoin.target import bits_to_target

REDACTED = "<redacted>"
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_HOST = re.compile(r"[A-Za-z0-9.\-_:%]+")


class Invalid(ValueError):
    """A value this kind cannot use; the message is what was expected (or why it is refused)."""


class Endpoint(NamedTuple):
    """A listen address: ``host, port = endpoint`` works; ``str()`` is ``HOST:PORT``."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class Kind:
    """One kind of value. ``metavar`` names it in help; ``repeated`` kinds take a list."""

    metavar = "VALUE"
    repeated = False
    flag = False

    def parse(self, raw: object, textual: bool) -> Any:
        raise NotImplementedError

    def render(self, value: Any) -> Any:
        """``value`` as the TOML value that parses back to it (None: not set, nothing to write)."""
        return value

    def redact(self, value: Any) -> Any:
        """``value`` (rendered) with its secret part hidden."""
        return REDACTED


def _text(raw: object, what: str) -> str:
    if not isinstance(raw, str):
        raise Invalid(f"expected {what} (a string)")
    return raw.strip()


@dataclass(frozen=True)
class Flag(Kind):
    metavar = "BOOL"
    flag = True

    def parse(self, raw: object, textual: bool) -> bool:
        if isinstance(raw, bool):
            return raw
        if textual and isinstance(raw, str):
            word = raw.strip().lower()
            if word in _TRUE or word in _FALSE:
                return word in _TRUE
            raise Invalid("expected true or false (also 1/0, yes/no)")
        raise Invalid("expected a boolean: true or false, without quotes")


@dataclass(frozen=True)
class Integer(Kind):
    low: int
    high: int
    metavar = "N"

    def parse(self, raw: object, textual: bool) -> int:
        expected = f"expected a whole number from {self.low} to {self.high}"
        if textual and isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", raw):
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int) or not self.low <= raw <= self.high:
            raise Invalid(expected)
        return raw


@dataclass(frozen=True)
class Number(Kind):
    """A positive number at most ``high``; ``low`` is the smallest allowed."""

    low: float
    high: float
    metavar = "X"

    def parse(self, raw: object, textual: bool) -> float:
        expected = f"expected a number from {self.low:g} to {self.high:g}"
        if textual and isinstance(raw, str) and len(raw) <= 40:
            try:
                raw = float(raw)
            except ValueError:
                raise Invalid(expected) from None
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise Invalid(expected)
        number = float(raw)
        if not math.isfinite(number) or not self.low <= number <= self.high:
            raise Invalid(expected)
        return number


@dataclass(frozen=True)
class Choice(Kind):
    choices: tuple[str, ...]

    @property
    def metavar(self) -> str:  # type: ignore[override]
        return "{" + ",".join(self.choices) + "}"

    def parse(self, raw: object, textual: bool) -> str:
        if not isinstance(raw, str) or raw.strip().lower() not in self.choices:
            raise Invalid(f"expected one of {', '.join(self.choices)}")
        return raw.strip().lower()


@dataclass(frozen=True)
class Text(Kind):
    """A short string; empty means not set."""

    what: str = "text"
    metavar = "TEXT"

    def parse(self, raw: object, textual: bool) -> str | None:
        text = _text(raw, self.what)
        if len(text) > 200:
            raise Invalid(f"expected {self.what} of at most 200 characters")
        return text or None


@dataclass(frozen=True)
class FilePath(Kind):
    """A path (``~`` expanded); empty means not set unless ``required``."""

    required: bool = False
    metavar = "PATH"

    def parse(self, raw: object, textual: bool) -> Path | None:
        text = os.fspath(raw) if isinstance(raw, os.PathLike) else _text(raw, "a path")
        if not isinstance(text, str) or "\0" in text:
            raise Invalid("expected a path")
        if not text:
            if self.required:
                raise Invalid("expected a path, not an empty string")
            return None
        return Path(text).expanduser()

    def render(self, value: Path | None) -> str | None:
        return None if value is None else str(value)


@dataclass(frozen=True)
class ListenAddress(Kind):
    """``HOST:PORT``, ``[IPv6]:PORT``, ``:PORT`` or ``PORT`` (the host then defaults); port 0 = any free port."""

    default_host: str
    # Optional addresses (an extra port) are not set by default; empty unsets them.
    optional: bool = False
    metavar = "HOST:PORT"

    def parse(self, raw: object, textual: bool) -> Endpoint | None:
        expected = "expected HOST:PORT with a port from 0 to 65535"
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        text = _text(raw, "HOST:PORT")
        if not text and self.optional:
            return None
        host, sep, port = text.rpartition(":")
        if not sep:
            host = ""
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            raise Invalid("expected HOST:PORT; write an IPv6 address in brackets, [::1]:PORT")
        host = host or self.default_host
        if not port.isdigit() or len(port) > 5 or int(port) > 65535 or not _HOST.fullmatch(host):
            raise Invalid(expected)
        return Endpoint(host, int(port))

    def render(self, value: Endpoint | None) -> str | None:
        return None if value is None else str(value)


@dataclass(frozen=True)
class RpcUrl(Kind):
    """bitcoind's JSON-RPC URL; empty means not set. Its password is the secret part."""

    metavar = "URL"

    def parse(self, raw: object, textual: bool) -> str | None:
        text = _text(raw, "an http:// URL")
        if not text:
            return None
        try:
            url = urlsplit(text)
            url.port  # noqa: B018  (raises ValueError for a port that is not a number or out of range)
        except ValueError:
            raise Invalid("expected a URL such as http://user:pass@127.0.0.1:8332") from None
        if url.scheme not in ("http", "https") or not url.hostname:
            raise Invalid("expected a URL such as http://user:pass@127.0.0.1:8332 (http or https)")
        if url.password == REDACTED:
            raise Invalid(f"the password was redacted ({REDACTED}, by `otedama config show`): write the real one "
                          "or use --bitcoind-cookie")
        return text

    def redact(self, value: str) -> str:
        url = urlsplit(value)
        if url.password is None:
            return value
        netloc = f"{url.username}:{REDACTED}@{url.netloc.rpartition('@')[2]}"
        return urlunsplit(url._replace(netloc=netloc))


@dataclass(frozen=True)
class CompactBits(Kind):
    """A block difficulty as compact nBits: a hex string (``"1e00ffff"``) or a TOML integer (0x1e00ffff)."""

    metavar = "HEX"

    def parse(self, raw: object, textual: bool) -> int:
        expected = 'expected compact nBits as hex, such as "1e00ffff"'
        if isinstance(raw, str) and re.fullmatch(r"\s*(0x)?[0-9a-fA-F]{1,8}\s*", raw):
            raw = int(raw.strip().removeprefix("0x"), 16)
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 0xFFFFFFFF:
            raise Invalid(expected)
        try:
            if bits_to_target(raw) <= 0:
                raise Invalid(f"{expected}: {raw:08x} encodes a zero target")
        except ValueError as exc:
            raise Invalid(f"{expected}: {exc}") from None
        return raw

    def render(self, value: int) -> str:
        return f"{value:08x}"


@dataclass(frozen=True)
class Multiaddrs(Kind):
    """Multiaddrs: listen addresses (``peer=False``) or full peer addresses ending in ``/p2p/PEER_ID``.

    The file takes a string or an array of strings; the environment a comma-separated list; the
    command line the option repeated.
    """

    peer: bool
    nonempty: bool = False
    # Addresses to advertise (--announce): /ip4, /ip6 or /dns*, then /tcp/PORT, dialable by peers.
    announce: bool = False
    metavar = "MULTIADDR"
    repeated = True

    def parse(self, raw: object, textual: bool) -> tuple[str, ...]:
        expected = "expected a multiaddr (or a list of them)"
        if textual and isinstance(raw, str):
            raw = [part for part in re.split(r"[,\s]+", raw) if part]
        elif isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, Sequence) or not all(isinstance(item, str) for item in raw) or len(raw) > 64:
            raise Invalid(f"{expected}, at most 64")
        if self.nonempty and not raw:
            raise Invalid("expected at least one multiaddr (no_p2p = true runs without P2P)")
        for text in raw:
            try:
                self._check(text.strip())
            except (AddressError, SeedListError) as exc:
                raise Invalid(str(exc)) from None
        return tuple(text.strip() for text in raw)

    def render(self, value: tuple[str, ...]) -> list[str]:
        return list(value)

    def _check(self, text: str) -> None:
        if self.announce:
            parse_announce(text)
        elif not self.peer:
            parse_listen(text)
        elif text.startswith("/dnsaddr/"):  # a DNS seed, resolved when the node dials its seeds
            parse_entry(text)
        else:
            parse_peer(text)


@dataclass(frozen=True)
class Origins(Kind):
    """Web origins (``scheme://host[:port]``) allowed cross-origin requests: a string or a list in the
    file, comma-separated in the environment, the option repeated on the command line."""

    metavar = "ORIGIN"
    repeated = True

    def parse(self, raw: object, textual: bool) -> tuple[str, ...]:
        expected = "expected an origin such as https://example.org (or a list of them)"
        if textual and isinstance(raw, str):
            raw = [part for part in re.split(r"[,\s]+", raw) if part]
        elif isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, Sequence) or not all(isinstance(item, str) for item in raw) or len(raw) > 64:
            raise Invalid(f"{expected}, at most 64")
        out = []
        for text in raw:
            url = urlsplit(text.strip())
            if text.strip() != "*" and (url.scheme not in ("http", "https") or not url.netloc or url.path
                                        or url.query or url.fragment):
                raise Invalid(f"{expected}; {text!r} is not one (scheme and host only, or *)")
            out.append(text.strip())
        return tuple(out)

    def render(self, value: tuple[str, ...]) -> list[str]:
        return list(value)


@dataclass(frozen=True)
class Token(Kind):
    """A secret such as the API's admin token: printable, 16 to 200 characters; empty means not set."""

    metavar = "TOKEN"

    def parse(self, raw: object, textual: bool) -> str | None:
        text = _text(raw, "a token")
        if not text:
            return None
        if text == REDACTED:
            raise Invalid(f"the token was redacted ({REDACTED}, by `otedama config show`): write the real one "
                          "or use --api-token-file")
        if not 16 <= len(text) <= 200 or not text.isprintable() or any(c.isspace() for c in text):
            raise Invalid("expected a token of 16 to 200 printable characters without spaces")
        return text


@dataclass(frozen=True)
class WebhookUrl(Kind):
    """An http(s) URL to POST notifications to; empty means not set. Its path and query may hold a secret."""

    metavar = "URL"

    def parse(self, raw: object, textual: bool) -> str | None:
        text = _text(raw, "an https:// URL")
        if not text:
            return None
        expected = "expected a URL such as https://hooks.example.org/otedama (http or https)"
        if len(text) > 2000 or REDACTED in text:
            raise Invalid(f"{expected}, of at most 2000 characters and not redacted")
        try:
            url = urlsplit(text)
            url.port  # noqa: B018  (raises ValueError for a port that is not a number or out of range)
        except ValueError:
            raise Invalid(expected) from None
        if url.scheme not in ("http", "https") or not url.hostname:
            raise Invalid(expected)
        return text

    def redact(self, value: str) -> str:
        url = urlsplit(value)
        host = url.netloc.rpartition("@")[2]
        return f"{url.scheme}://{host}/{REDACTED}" if url.path.strip("/") or url.query or "@" in url.netloc \
            else value


@dataclass(frozen=True)
class Command(Kind):
    """A command line (split as a POSIX shell would, but never run by one); empty means not set."""

    metavar = "COMMAND"

    def parse(self, raw: object, textual: bool) -> str | None:
        text = _text(raw, "a command line")
        if not text:
            return None
        if len(text) > 1000 or "\0" in text:
            raise Invalid("expected a command line of at most 1000 characters")
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise Invalid(f"expected a command line: {exc}") from None
        if not words:
            raise Invalid("expected a command line")
        return text
