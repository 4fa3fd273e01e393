"""[mailbox]/[mailboxes.*]/[smtp] `auth` with their oauth2 tables, and [lmtp] (SPEC §9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maild.config import parse_settings
from maild.errors import ConfigError
from maild.oauth2.settings import Flow, Mechanism, Provider, authorization_url, scopes, token_url
from tests.unit.test_config import cfg, error_key

GENERIC = {
    "provider": "generic",
    "flow": "client_credentials",
    "token_url": "http://127.0.0.1:8080/token",
    "client_id": "maild",
    "client_secret": "s3cret-value",
}
MICROSOFT = {
    "provider": "microsoft",
    "tenant": "contoso.onmicrosoft.com",
    "client_id": "0000-app",
    "client_secret": "s3cret-value",
}
GOOGLE = {
    "provider": "google",
    "flow": "refresh_token",
    "client_id": "123.apps.googleusercontent.com",
    "client_secret": "s3cret-value",
    "refresh_token_file": "/var/lib/maild/google-refresh-token",
}


def oauth2_mailbox(table: dict[str, Any], **more: Any) -> dict[str, Any]:
    return cfg(mailbox__auth="oauth2", mailbox__password=None, mailbox__oauth2=dict(table), **more)


def test_password_is_the_default_and_needs_no_oauth2_table() -> None:
    s = parse_settings(cfg())
    assert s.mailbox is not None
    assert (s.mailbox.auth, s.mailbox.oauth2) == ("password", None)
    assert (s.smtp.auth, s.smtp.oauth2) == ("password", None)


def test_generic_client_credentials_mailbox_needs_no_password() -> None:
    s = parse_settings(oauth2_mailbox(GENERIC))
    assert s.mailbox is not None and s.mailbox.oauth2 is not None
    o = s.mailbox.oauth2
    assert (s.mailbox.auth, s.mailbox.password, s.mailbox.username) == ("oauth2", "", "support")
    assert (o.provider, o.flow, o.mechanism) == (Provider.GENERIC, Flow.CLIENT_CREDENTIALS, Mechanism.XOAUTH2)
    assert token_url(o) == "http://127.0.0.1:8080/token"
    assert "s3cret-value" not in repr(o)  # never printed with the settings


def test_microsoft_derives_its_token_url_and_app_scope() -> None:
    s = parse_settings(oauth2_mailbox(MICROSOFT, mailbox__username="shared@contoso.com"))
    assert s.mailbox is not None and s.mailbox.oauth2 is not None
    o = s.mailbox.oauth2
    assert token_url(o) == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert scopes(o) == ("https://outlook.office365.com/.default",)
    assert s.mailbox.username == "shared@contoso.com"  # a shared mailbox: not the token's owner


def test_smtp_oauth2_with_oauthbearer(tmp_path: Path) -> None:
    secret = tmp_path / "client-secret"
    secret.write_text("from-a-file\n")
    table = {**GOOGLE, "client_secret": None, "client_secret_file": str(secret), "mechanism": "oauthbearer"}
    table = {k: v for k, v in table.items() if v is not None}
    s = parse_settings(cfg(smtp__auth="oauth2", smtp__username="support@example.com", smtp__oauth2=table))
    assert s.smtp.oauth2 is not None
    assert s.smtp.oauth2.client_secret == "from-a-file"
    assert s.smtp.oauth2.mechanism is Mechanism.OAUTHBEARER
    assert scopes(s.smtp.oauth2) == ("https://mail.google.com/",)


def test_authorization_url_is_derived_for_microsoft_and_google_and_configured_for_generic() -> None:
    urls = []
    for table in (MICROSOFT, GOOGLE, {**GENERIC, "auth_url": "http://127.0.0.1:8080/authorize"}, GENERIC):
        s = parse_settings(oauth2_mailbox(table))
        assert s.mailbox is not None and s.mailbox.oauth2 is not None
        urls.append(authorization_url(s.mailbox.oauth2))
    assert urls == [
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "http://127.0.0.1:8080/authorize",
        "",
    ]


def test_smtp_oauth2_user_defaults_to_the_support_address() -> None:
    s = parse_settings(cfg(smtp__auth="oauth2", smtp__oauth2=GENERIC))
    assert (s.smtp.username, s.smtp.password) == ("support@example.com", None)


def test_relative_refresh_token_file_is_beside_the_config_file(tmp_path: Path) -> None:
    table = {**GOOGLE, "refresh_token_file": "oauth2-refresh-token"}
    s = parse_settings(oauth2_mailbox(table), source=tmp_path / "maild.toml")
    assert s.mailbox is not None and s.mailbox.oauth2 is not None
    assert s.mailbox.oauth2.refresh_token_file == tmp_path / "oauth2-refresh-token"


def test_extra_mailboxes_inherit_or_set_their_own_oauth2_and_keep_their_label() -> None:
    data = oauth2_mailbox(GENERIC)
    data["mailboxes"] = {
        "ja": {"folder": "Japanese"},
        "shared": {"username": "billing", "oauth2": {**GENERIC, "client_id": "other"}},
    }
    s = parse_settings(data)
    by_label = {m.label: m for m in s.mailboxes}
    assert set(by_label) == {"", "ja", "shared"}
    assert by_label["ja"].oauth2 == by_label[""].oauth2
    assert by_label["shared"].oauth2 is not None and by_label["shared"].oauth2.client_id == "other"
    assert s.mailbox_by_label("shared").username == "billing"
    assert s.mailbox_by_label(None).label == ""
    assert by_label["shared"].section == "mailboxes.shared"
    with pytest.raises(ConfigError) as info:
        s.mailbox_by_label("nope")
    assert info.value.key == "mailboxes.nope" and "ja, shared" in str(info.value)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"mailbox__auth": "oauth2"}, "mailbox.oauth2"),
        ({"mailbox__auth": "token"}, "mailbox.auth"),
        ({"mailbox__oauth2": GENERIC}, "mailbox.auth"),
        ({"smtp__auth": "oauth2", "smtp__oauth2": GENERIC, "smtp__password": "pw"}, "smtp.username"),
    ],
)
def test_auth_and_its_table_go_together(changes: dict[str, Any], key: str) -> None:
    assert error_key(cfg(**changes)) == key


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({**GENERIC, "provider": "yahoo"}, "mailbox.oauth2.provider"),
        ({**GENERIC, "flow": "password"}, "mailbox.oauth2.flow"),
        ({**GENERIC, "mechanism": "plain"}, "mailbox.oauth2.mechanism"),
        ({k: v for k, v in GENERIC.items() if k != "token_url"}, "mailbox.oauth2.token_url"),
        ({k: v for k, v in GENERIC.items() if k != "client_id"}, "mailbox.oauth2.client_id"),
        ({k: v for k, v in GENERIC.items() if k != "client_secret"}, "mailbox.oauth2.client_secret"),
        ({k: v for k, v in MICROSOFT.items() if k != "tenant"}, "mailbox.oauth2.tenant"),
        ({**GOOGLE, "flow": "client_credentials"}, "mailbox.oauth2.flow"),
        ({k: v for k, v in GOOGLE.items() if k != "refresh_token_file"}, "mailbox.oauth2.refresh_token_file"),
        ({**GENERIC, "token_url": "http://idp.example.com/token"}, "mailbox.oauth2.token_url"),
        ({**GENERIC, "token_url": "ftp://127.0.0.1/token"}, "mailbox.oauth2.token_url"),
        ({**GENERIC, "auth_url": "http://idp.example.com/authorize"}, "mailbox.oauth2.auth_url"),
        ({**GENERIC, "scopes": "IMAP"}, "mailbox.oauth2.scopes"),
        ({**GENERIC, "scopes": [""]}, "mailbox.oauth2.scopes"),
        ({**GENERIC, "client_secert": "x"}, "mailbox.oauth2.client_secert"),
        ({**GENERIC, "timeout": "soon"}, "mailbox.oauth2.timeout"),
    ],
)
def test_bad_oauth2_tables_name_the_key(table: dict[str, Any], key: str) -> None:
    assert error_key(oauth2_mailbox(table)) == key


def test_lmtp_alone_is_a_valid_config() -> None:
    s = parse_settings(cfg(mailbox=None, lmtp={"listen": "127.0.0.1:2424"}))
    assert s.mailbox is None and s.mailboxes == ()
    assert s.lmtp is not None and s.lmtp.host_port == ("127.0.0.1", 2424)
    assert s.lmtp.unix_path is None and s.lmtp.max_message_size == 50 * 1024 * 1024


def test_lmtp_on_a_unix_socket_with_a_size_limit() -> None:
    s = parse_settings(cfg(lmtp={"listen": "unix:/run/maild/lmtp.sock", "max_message_size": "10MB"}))
    assert s.lmtp is not None and s.lmtp.unix_path == Path("/run/maild/lmtp.sock")
    assert s.lmtp.max_message_size == 10 * 1024 * 1024


def test_neither_mailbox_nor_lmtp_is_refused() -> None:
    assert error_key(cfg(mailbox=None)) == "mailbox"


@pytest.mark.parametrize(
    "listen",
    ["0.0.0.0:2424", "192.0.2.1:24", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "unix:relative.sock", ""],
)
def test_bad_lmtp_listen_is_refused(listen: str) -> None:
    assert error_key(cfg(lmtp={"listen": listen})) == "lmtp.listen"


def test_lmtp_unknown_key_is_named() -> None:
    assert error_key(cfg(lmtp={"listen": "127.0.0.1:2424", "max_size": "1MB"})) == "lmtp.max_size"
