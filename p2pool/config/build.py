"""The configuration built once: defaults, then the file, the environment, the command line (and
values from programs), each value parsed and checked by its option's kind, then the rules that
involve several options. Every problem found is reported, one line each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bootstrap.seedlist import SeedListError, parse_seed_list
from p2pool.config.model import NodeConfig
from p2pool.config.options import BY_NAME, DEV_NETWORKS, OPTIONS, DefaultContext, Option
from p2pool.config.origin import DEFAULT, Layer, Origin
from p2pool.config.sources import Read, Setting, read_argv, read_code, read_env, read_file
from p2pool.config.tomltext import toml_value
from p2pool.config.values import Invalid
from p2pool.error import ConfigError
from sharechain.bitcoin.address import AddressError, address_to_script
from sharechain.params import network


@dataclass(frozen=True)
class Resolved:
    """The configuration and, for every option, where its value came from."""

    config: NodeConfig
    origins: Mapping[str, Origin]


def load_config(*, command: str = "run", config_file: Path | None = None, environ: Mapping[str, str] | None = None,
                argv: Mapping[str, Any] | None = None) -> Resolved:
    """What ``otedama run`` (or ``bootstrap``) runs with: defaults < ``config_file`` < ``environ`` < ``argv``."""
    environ = {} if environ is None else environ
    reads = [read_file(config_file)] if config_file is not None else []
    reads += [read_env(environ), read_argv(argv or {})]
    home = Path(environ.get("OTEDAMA_HOME") or "~/.otedama").expanduser()
    return resolve(reads, seed=command == "bootstrap", home=home)


def node_config(*, seed: bool = False, **values: Any) -> NodeConfig:
    """A configuration from a program: ``values`` typed as the TOML file has them (None: not given)."""
    return resolve([read_code(values)], seed=seed, home=Path("~/.otedama").expanduser()).config


def resolve(reads: Sequence[Read], *, seed: bool, home: Path) -> Resolved:
    errors = [error for read in reads for error in read.errors]
    chosen: dict[str, Setting] = {}
    for setting in sorted((s for read in reads for s in read.settings), key=lambda s: s.origin.layer):
        chosen[setting.name] = setting
    origins = {option.name: chosen[option.name].origin if option.name in chosen else DEFAULT for option in OPTIONS}
    # The network first: the other defaults (ports, datadir) depend on it.
    name = _parse(BY_NAME["network"], chosen.get("network"), DefaultContext(network("devnet"), home), errors)
    context = DefaultContext(network(name or "devnet"), home)
    values = {"network": name}
    for option in OPTIONS:
        if option.name != "network":
            values[option.name] = _parse(option, chosen.get(option.name), context, errors)
    if errors:
        raise ConfigError(*errors)
    config = NodeConfig(**values, seed=seed)
    errors = _rules(config, origins)
    if errors:
        raise ConfigError(*errors)
    return Resolved(replace(config, seed_entries=_seed_file_entries(config.seed_file)), origins)


def _seed_file_entries(path: Path | None) -> tuple[str, ...]:
    """The seeds in ``--seed-file`` (bootstrap/seedlist.py's format): peers, then DNS seeds."""
    if path is None:
        return ()
    try:
        seeds = parse_seed_list(path.read_text(encoding="utf-8"), f"seed file {path}")
    except OSError as exc:
        raise ConfigError(f"cannot read seed file {path}: {exc.strerror or exc}") from None
    except (SeedListError, UnicodeDecodeError) as exc:
        raise ConfigError(str(exc)) from None
    return (*seeds.peers, *(f"/dnsaddr/{name}" for name in seeds.dns))


def _parse(option: Option, setting: Setting | None, context: DefaultContext, errors: list[str]) -> Any:
    """The value of ``option``: ``setting``'s, else the default; a bad value adds its reason to ``errors``."""
    if setting is None:
        default = option.default_for(context)
        return None if default is None else option.kind.parse(default, False)
    try:
        return option.kind.parse(setting.raw, setting.textual)
    except Invalid as exc:
        errors.append(f"{setting.origin.blame(option.name, toml_value(setting.raw))}: {exc}")
        return None


def _rules(config: NodeConfig, origins: Mapping[str, Origin]) -> list[str]:
    """The checks that involve more than one option."""

    def said(name: str) -> str:
        """How the user gave option ``name``: ``--network mainnet`` or ``network = "mainnet" (file X)``."""
        rendered = BY_NAME[name].kind.render(getattr(config, name))
        origin = origins[name]
        if origin.layer is Layer.CLI and isinstance(rendered, bool):
            return origin.where if rendered else f"{origin.where}=false"
        if origin.layer is Layer.CLI:
            return f"{origin.where} {' '.join(rendered) if isinstance(rendered, list) else rendered}"
        return f"{name} = {toml_value(rendered)} ({origin})"

    errors: list[str] = []
    params = network(config.network)
    if (config.api_tls_cert is None) != (config.api_tls_key is None):
        given = "api_tls_cert" if config.api_tls_key is None else "api_tls_key"
        errors.append(f"{said(given)}: --api-tls-cert and --api-tls-key go together; give both for HTTPS, or neither")
    if config.api_token is not None and config.api_token_file is not None:
        errors.append(f"{said('api_token')} and {said('api_token_file')}: give the admin token one way, not both")
    if config.no_p2p and config.seed:
        errors.append(f"a seed node needs P2P: drop {said('no_p2p')}")
    if config.no_p2p and config.bootstrap:
        errors.append(f"{said('bootstrap')} needs P2P: drop {said('no_p2p')}")
    if config.no_p2p and config.announce:
        errors.append(f"{said('announce')}: --announce needs P2P: drop {said('no_p2p')}")
    if config.seed:
        return errors
    tls_files = [name for name in ("stratum_tls_cert", "stratum_tls_key") if getattr(config, name) is not None]
    if config.stratum_tls is not None and len(tls_files) < 2:
        errors.append(f"{said('stratum_tls')} needs --stratum-tls-cert and --stratum-tls-key (PEM files)")
    elif config.stratum_tls is None and tls_files:
        errors.append(f"{said(tls_files[0])}: give --stratum-tls HOST:PORT too (the TLS port for miners)")
    elif config.stratum_tls is not None and config.stratum_tls.port != 0 and config.stratum_tls == config.stratum:
        errors.append(f"{said('stratum_tls')}: the TLS port must differ from --stratum {config.stratum}")
    if config.devchain and config.network not in DEV_NETWORKS:
        errors.append(f"{said('devchain')}: the embedded dev chain is only for devnet and regtest, "
                      f"not {config.network}; give --bitcoind URL")
    elif config.bitcoind is None and config.network not in DEV_NETWORKS:
        errors.append(f"{said('network')} needs a real bitcoind: give --bitcoind URL (or bitcoind in the config "
                      "file, OTEDAMA_BITCOIND); the embedded dev chain is only for devnet and regtest")
    elif config.bitcoind is None and not config.devchain:
        errors.append(f"{said('network')} needs --bitcoind URL, or --devchain to mine an embedded dev chain")
    if config.bitcoind_cookie is not None and config.bitcoind is None:
        errors.append(f"{said('bitcoind_cookie')} needs --bitcoind URL (the cookie is that bitcoind's)")
    if config.payout_address is not None:
        try:
            address_to_script(config.payout_address, params.address_format)
        except AddressError as exc:
            errors.append(f"{said('payout_address')}: not an address of {config.network}: {exc}")
    elif config.miner and config.network not in DEV_NETWORKS:
        errors.append(f"--payout-address is required on {config.network} (the built-in miner pays to it), "
                      "or --no-miner")
    return errors
