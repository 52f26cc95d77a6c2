"""The operator's options: Stratum over TLS, logs and notifications, each wrong value or combination
refused with one line, secrets redacted by ``config show``."""

from __future__ import annotations

import pytest

from p2pool.config import ConfigError, Endpoint, load_config
from p2pool.config.render import render_toml, render_values


def config(tmp_path, text: str = "", **argv: object):
    path = tmp_path / "otedama.toml"
    path.write_text(text)
    return load_config(config_file=path, environ={}, argv={"datadir": str(tmp_path / "data"), **argv})


def reasons(tmp_path, text: str = "", **argv: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, text, **argv)
    return [str(reason) for reason in caught.value.reasons]


def test_defaults(tmp_path):
    values = config(tmp_path).config
    assert values.stratum_tls is None and values.log_format == "text" and values.log_file is None
    assert (values.log_file_max_mb, values.log_file_backups, values.notify_worker_offline) == (50, 5, 10)
    assert values.notify_webhook is None and values.notify_command is None


def test_stratum_tls_needs_its_certificate_and_key_and_a_port_of_its_own(tmp_path):
    cert = 'stratum_tls_cert = "/c.pem"\nstratum_tls_key = "/k.pem"\n'
    assert config(tmp_path, 'stratum_tls = "0.0.0.0:3334"\n' + cert).config.stratum_tls == Endpoint("0.0.0.0", 3334)
    assert config(tmp_path, 'stratum_tls = ":3334"\n' + cert).config.stratum_tls == Endpoint("0.0.0.0", 3334)
    assert reasons(tmp_path, 'stratum_tls = ":3334"\n') == [
        'stratum_tls = "0.0.0.0:3334" (file ' + str(tmp_path / "otedama.toml") + ") needs --stratum-tls-cert and "
        "--stratum-tls-key (PEM files)"]
    assert "give --stratum-tls HOST:PORT too" in reasons(tmp_path, cert)[0]
    assert "must differ from --stratum" in reasons(tmp_path, 'stratum = ":3333"\nstratum_tls = ":3333"\n' + cert)[0]


def test_log_and_notification_values(tmp_path):
    values = config(tmp_path, 'log_format = "json"\nlog_file = "~/otedama.log"\nnotify_command = "/bin/notify --x \'a b\'"\n'
                    'notify_webhook = "https://hooks.example.org/T0/B1/secret"\nnotify_worker_offline = 0\n').config
    assert values.log_format == "json" and values.log_file is not None and values.log_file.is_absolute()
    assert values.notify_command == "/bin/notify --x 'a b'" and values.notify_worker_offline == 0
    assert "expected one of text, json" in reasons(tmp_path, 'log_format = "xml"\n')[0]
    assert "expected a URL such as https://" in reasons(tmp_path, 'notify_webhook = "ftp://x"\n')[0]
    assert "expected a command line: No closing quotation" in reasons(tmp_path, "notify_command = \"a 'b\"\n")[0]
    assert "expected a whole number from 1 to 100000" in reasons(tmp_path, "log_file_max_mb = 0\n")[0]


def test_the_webhook_is_a_secret_where_it_has_a_path(tmp_path):
    resolved = config(tmp_path, 'notify_webhook = "https://hooks.example.org/T0/B1/s3cr3t"\n')
    shown = render_toml(resolved)
    assert "s3cr3t" not in shown
    assert 'notify_webhook = "https://hooks.example.org/<redacted>"' in shown
    backup = render_values(resolved.config, heading="backup", skip=("datadir",))
    assert "T0/B1" not in backup and "datadir" not in backup and 'network = "devnet"' in backup
