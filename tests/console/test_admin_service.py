"""One admin service behind the CLI, the slash commands and the console, and no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.errors import SupportLoopError
from supportloop.commands.console import console

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["supportloop/operations.py", "supportloop/job_kinds.py"])
def test_the_admin_service_and_the_jobs_do_not_import_the_app(module):
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert "supportloop.app" not in imported  # not even for type checking


def test_slash_commands_and_console_share_one_admin_service(deployment):
    assert deployment.conversations.admin is deployment.admin
    assert "rollback" in dir(deployment.admin) and "gaps" in dir(deployment.admin)


def test_rollback_switches_the_served_version_everywhere(deployment):
    assert deployment.admin.rollback(0) == "Now serving model version 0 (was 1)."
    assert deployment.registry.current_id() == 0 and deployment.model_version.id == 0
    with pytest.raises(SupportLoopError, match="There is no model version 7"):
        deployment.admin.rollback(7)
    assert deployment.registry.current_id() == 0


def test_versions_list_their_reports(deployment):
    views = {view.record.id: view.reports for view in deployment.admin.versions()}
    assert views == {1: ["audit-1.html"], 0: []}


def test_the_console_command_is_off_without_a_token():
    with pytest.raises(SupportLoopError, match="set SUPPORTLOOP_ADMIN_TOKEN"):
        console()
