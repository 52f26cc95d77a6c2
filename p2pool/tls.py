"""TLS server settings from a PEM certificate chain and its key, shared by the HTTP API and Stratum."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TlsFiles:
    """A PEM certificate chain and its private key."""

    cert: Path
    key: Path

    def context(self, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
        """A server context (TLS 1.2 at least) offering ``alpn``; ValueError naming the files if they do not load."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if alpn:
            context.set_alpn_protocols(list(alpn))
        try:
            context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"cannot load the TLS certificate {self.cert} and key {self.key}: {exc}") from None
        return context
