"""`supportloop audit [VERSION]` and `/supportloop audit`: a report, a recorded verdict, clear errors."""

import json

import pytest
from helpers import one_line_error, run_cli

from core.settings import load_settings
from core.tables import ModelVersionRecord
from supportloop.app import SupportLoop
from training.reward_model import RewardModel

pytestmark = pytest.mark.slow

QUICK = {"SUPPORTLOOP_AUDIT_CASES": "2", "SUPPORTLOOP_AUDIT_SHAP": "false"}


@pytest.fixture
def version_with_reward_model(fresh_dir, model_dir, monkeypatch):
    """Version 0 current, with a (fresh, untrained) reward model saved as its own."""
    monkeypatch.delenv("SUPPORTLOOP_MODEL_PATH")  # serve the registry's versions
    for name, value in QUICK.items():
        monkeypatch.setenv(name, value)
    with SupportLoop(load_settings()) as loop, loop.db.session() as session:
        session.add(ModelVersionRecord(id=0, path=str(model_dir), is_current=True, audit_status="base"))
        session.commit()
    RewardModel.fresh("pointwise").save(fresh_dir / "reward_models" / "0")
    return fresh_dir


def test_auditing_without_a_model_version_or_reward_model_says_why(fresh_dir, monkeypatch):
    assert "SUPPORTLOOP_MODEL_PATH, which has no reward model" in one_line_error(run_cli("audit", env=QUICK))
    monkeypatch.delenv("SUPPORTLOOP_MODEL_PATH")
    assert "There is no model version yet" in one_line_error(run_cli("audit", env=QUICK))
    assert "Model version 4 has no reward model" in one_line_error(run_cli("audit", "4", env=QUICK))


def test_the_audit_command_writes_the_report_and_records_the_verdict(version_with_reward_model):
    data_dir = version_with_reward_model
    result = run_cli("audit")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audit ") and "Report:" in result.stdout
    report = json.loads((data_dir / "reports" / "audit-0.json").read_text())
    verdict = "passed" if report["passed"] else "failed"
    assert f"audit {verdict}" in result.stdout.lower()
    assert report["decisions"]["cases"] == 2 and report["explanations"] is None
    assert report["decisions"]["composite reward weights"] == {
        "satisfaction": 0.4,
        "grounding": 0.4,
        "ethics": 0.2,
    }
    assert (data_dir / "reports" / "audit-0.html").read_text().startswith("<!doctype html>")
    with SupportLoop(load_settings()) as loop:
        assert loop.registry.versions()[0].audit_status == verdict
    kept = (data_dir / "audit" / "counterexamples.jsonl").read_text().splitlines()
    assert len(kept) == report["counter_examples"]


def test_the_slash_command_runs_the_audit_job_and_posts_the_summary(version_with_reward_model):
    from bots.replies import Origin
    from bots.user_input import parse_command

    admin = Origin("slack", "U_ADMIN", "C1")
    with SupportLoop(load_settings()) as loop:
        posted: list[str] = []
        reply = loop.conversations.command(parse_command("audit"), admin, is_admin=True, post=posted.append)
        assert "job #1" in reply.text
        assert loop.worker.run_pending() == 1
        assert loop.jobs.get(1).status == "succeeded"
    assert posted[0] == "Job #1 (audit) started."
    assert "finished: audit " in posted[-1] and "audit-0.html" in posted[-1]
