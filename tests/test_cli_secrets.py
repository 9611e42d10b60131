"""No secret and no credential inside a URL is ever printed: not by ``settings``, not by ``status``, not
in an error message. The tests walk every setting, so a new secret or URL setting is covered too."""

from __future__ import annotations

import pytest
from helpers import one_line_error, run_cli

from core.masking import mask
from core.settings import Settings, is_secret

PASSWORD = "pw-Zq9xK2"
# A value with PASSWORD inside for each URL setting, valid for that setting.
URL_VALUES = {
    "database_url": f"postgresql://admin:{PASSWORD}@127.0.0.1:9/supportloop",
    "llm_url": f"http://admin:{PASSWORD}@127.0.0.1:9/v1",
    "chroma_url": f"http://admin:{PASSWORD}@127.0.0.1:9",
    "slack_api_url": f"http://admin:{PASSWORD}@127.0.0.1:9/api/",
    "discord_api_url": f"http://admin:{PASSWORD}@127.0.0.1:9/api/v10",
    "discord_gateway_url": f"ws://admin:{PASSWORD}@127.0.0.1:9/",
}
SECRETS = [name for name in Settings.model_fields if is_secret(name)]


def variable(name: str) -> str:
    return f"SUPPORTLOOP_{name.upper()}"


def every_secret(*, but: tuple[str, ...] = ()) -> dict[str, str]:
    """Every secret setting set to a value holding PASSWORD, and every URL setting to a URL with it.

    The output is not wrapped (COLUMNS), so a password printed in full cannot hide across two lines.
    """
    assert {name for name in Settings.model_fields if name.endswith("_url")} == set(URL_VALUES)
    values = {name: f"{name}-{PASSWORD}" for name in SECRETS} | URL_VALUES
    return {"COLUMNS": "1000"} | {variable(name): value for name, value in values.items() if name not in but}


def test_settings_show_neither_secrets_nor_url_passwords(tmp_path):
    result = run_cli("settings", env={"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data"), **every_secret()})
    assert result.returncode == 0, result.stderr
    printed = result.stdout + result.stderr
    assert PASSWORD not in printed
    assert printed.count("admin:***@") >= len(URL_VALUES)  # masked, but still recognisable


def test_status_shows_no_secret_nor_url_password(tmp_path):
    # The database and Chroma server are unreachable, so they are checked in the error cases below.
    env = {"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data"), **every_secret(but=("database_url", "chroma_url"))}
    result = run_cli("status", env=env)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert "http://admin:***@127.0.0.1:9/v1" in result.stdout
    printed = " ".join(result.stdout.split())  # the table may wrap a long row
    hint = "(the model server answers only with SUPPORTLOOP_ANSWER_MODE=generate)"
    assert f"Answer mode extractive {hint}" in printed  # a server set up and unused is said


@pytest.mark.parametrize("unreachable", ["database_url", "chroma_url"])
def test_errors_about_an_unreachable_server_show_no_password(tmp_path, unreachable):
    env = {
        "SUPPORTLOOP_DATA_DIR": str(tmp_path / "data"),
        **every_secret(but=tuple(set(URL_VALUES) - {unreachable, "llm_url"})),
    }
    result = run_cli("status", env=env, timeout=120)
    assert result.returncode != 0
    line = one_line_error(result)
    assert PASSWORD not in result.stdout + result.stderr
    assert line.startswith("Error:")


def test_an_invalid_url_setting_is_reported_without_its_password(tmp_path):
    env = {"SUPPORTLOOP_LLM_URL": f"ftp://admin:{PASSWORD}@127.0.0.1/", "COLUMNS": "1000"}
    result = run_cli("settings", env=env)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "SUPPORTLOOP_LLM_URL='ftp://admin:***@127.0.0.1/'" in line and PASSWORD not in line


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://user:p/a:ss@db:5432/x", "postgresql://user:***@db:5432/x"),
        ("clone https://ghp_token@github.com/o/r", "clone https://***@github.com/o/r"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
        ("https://h/x?api_key=abc&page=2", "https://h/x?api_key=***&page=2"),
        ("sqlite:////srv/data/db.sqlite", "sqlite:////srv/data/db.sqlite"),
    ],
)
def test_mask_hides_credentials_in_any_url(text, shown):
    assert mask(text) == shown


def test_mask_hides_given_secret_values():
    assert mask("token xoxb-123 refused", ["xoxb-123", ""]) == "token *** refused"
