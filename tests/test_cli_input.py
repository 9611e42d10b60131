"""Bad input to the command line: the usage or one line saying what to fix, the right exit code, and
nothing loaded or changed. Each case runs the real ``supportloop`` command."""

from __future__ import annotations

import re
from typing import get_origin

import pytest
from helpers import one_line_error, run_cli

from core.settings import Settings


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["stauts"], "No such command 'stauts'"),
        (["status", "--verbose"], "No such option: --verbose"),
        (["ask", "how", "do", "I", "reset"], "Got unexpected extra argument(s) (do I reset)"),
    ],
)
def test_a_mistyped_command_option_or_unquoted_question_shows_the_usage(tmp_path, args, problem):
    result = run_cli(*args, env={"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.search(r"Usage: supportloop", result.stderr)
    assert problem in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("question", ["", "   "])
def test_an_empty_question_is_refused_before_anything_loads(tmp_path, question):
    result = run_cli("ask", question, env={"SUPPORTLOOP_DATA_DIR": str(tmp_path / "data")}, timeout=60)
    assert result.returncode == 1
    assert "The question is empty" in one_line_error(result)
    assert not (tmp_path / "data").exists()  # no database opened, no model prepared


def test_a_database_url_sqlalchemy_cannot_use_is_an_invalid_setting(tmp_path):
    result = run_cli("status", env={"SUPPORTLOOP_DATABASE_URL": "bogus://x"})
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith("Error: Invalid setting SUPPORTLOOP_DATABASE_URL")
    assert "NoSuchModuleError" not in line


LIST_SETTINGS = [name for name, f in Settings.model_fields.items() if get_origin(f.annotation) is list]


@pytest.mark.parametrize("value", ['["x"', '["x", 1]', '"x"', "a,b]"])
def test_every_malformed_list_setting_is_refused(value):
    assert LIST_SETTINGS
    variables = [f"SUPPORTLOOP_{name.upper()}" for name in LIST_SETTINGS]
    result = run_cli("settings", env=dict.fromkeys(variables, value))
    assert result.returncode == 2
    line = one_line_error(result)
    assert line.startswith("Error: Invalid setting ")
    for variable in variables:  # every list setting is named, each as not a list
        assert re.search(rf"{variable}=[^;]*: Value error, not a list", line), variable


def test_list_settings_read_commas_and_json_lists(monkeypatch):
    for name in LIST_SETTINGS:
        monkeypatch.setenv(f"SUPPORTLOOP_{name.upper()}", "a, b,,c")
        assert getattr(Settings(), name) == ["a", "b", "c"]
        monkeypatch.setenv(f"SUPPORTLOOP_{name.upper()}", '["a", " b"]')
        assert getattr(Settings(), name) == ["a", "b"]
