"""Admin authentication: one bearer token, from the config or a file the node creates in its datadir.

Admin routes call :func:`require_admin` before anything else (the app's token is ``app.state.api_token``);
without the token, or with another, they answer 401 (compared in constant time). The token file is created
on first start with mode 0600.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request

from p2pool.config import ConfigError

log = logging.getLogger("otedama.api")

TOKEN_FILE = "api-token"
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 1024

TOKEN_SCHEME = "token"  # its name in the OpenAPI description
SECURITY_SCHEMES = {TOKEN_SCHEME: {
    "type": "http", "scheme": "bearer",
    "description": f"The node's API token: the file `{TOKEN_FILE}` in its datadir, or --api-token."}}


def resolve_token(datadir: Path, token: str | None = None, token_file: Path | None = None) -> str:
    """The admin token: ``token`` if given, else the contents of ``token_file``, else ``datadir/api-token``
    (created with a new random token when missing)."""
    if token:
        return _checked(token, "--api-token")
    if token_file is not None:
        try:
            text = Path(token_file).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the API token file {token_file}: {exc}") from None
        return _checked(text, f"the API token file {token_file}")
    return _datadir_token(datadir / TOKEN_FILE)


def _checked(token: str, where: str) -> str:
    if not MIN_TOKEN_LENGTH <= len(token) <= MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
        raise ConfigError(f"{where}: the API token must be {MIN_TOKEN_LENGTH} to {MAX_TOKEN_LENGTH} printable "
                          "ASCII characters")
    if any(c.isspace() for c in token):
        raise ConfigError(f"{where}: the API token must not contain spaces")
    return token


def _datadir_token(path: Path) -> str:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot create the API token file {path}: {exc}") from None
    else:
        token = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(token + "\n")
        log.info("API token for the admin endpoints written to %s", path)
        return token
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("API token file %s was readable by others (mode %o): now 0600", path, mode & 0o777)
            path.chmod(0o600)
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the API token file {path}: {exc}") from None
    return _checked(text, f"the API token file {path}")


def require_admin(request: Request) -> None:
    """Passes with the app's bearer token (``Authorization: Bearer TOKEN``), else raises a 401."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise HTTPException(401, f"admin endpoint: send the node's API token (datadir/{TOKEN_FILE}) as "
                                 "'Authorization: Bearer TOKEN'", headers={"WWW-Authenticate": "Bearer"})
    expected: bytes = request.app.state.api_token.encode()
    if not hmac.compare_digest(credentials.strip().encode("utf-8", "surrogateescape"), expected):
        client = request.client.host if request.client else "?"
        log.warning("admin request %s %s from %s refused: wrong API token", request.method, request.url.path, client)
        raise HTTPException(401, "wrong API token", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
