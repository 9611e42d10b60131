"""A whole retraining run on a tiny policy: votes → reward model → PPO/KTO → evaluation → gated promotion."""

import json
import subprocess
import time

import pytest
import torch
from helpers import CLI, cli_env, copy_model, one_line_error, record_answer, run_cli

from audit.suite import AuditSettings
from core.database import open_database
from core.records import Records
from core.registry import ModelRegistry, ModelVersion, check_model_folder
from core.settings import load_settings
from core.tables import ModelVersionRecord
from supportloop.app import SupportLoop
from supportloop.demo_site import load_questions
from training import pipeline
from training.pipeline import RetrainPaths, RetrainSettings, retrain
from training.ppo import PPOSettings
from training.promotion import GateSettings

pytestmark = pytest.mark.slow  # trains a reward model and runs PPO (about a minute)

TINY_RUN = PPOSettings(updates=4, batch_size=4, response_length=16, ppo_epochs=1, learning_rate=1e-4)
# These tests are about the run and the reward/grounding gate: an audit that cannot fail (and no SHAP)
# keeps the verdict theirs. tests/audit covers the audit and its gate.
STALE_S = 5.0  # SUPPORTLOOP_JOB_STALE_S of the killed-retrain test: a heartbeat every 0.8 s
LENIENT_AUDIT = AuditSettings(fairness_threshold=1.0, max_win_rate=1.0, cases=2)
AUDIT_ENV = {
    "AUDIT_FAIRNESS_THRESHOLD": "1",
    "AUDIT_MAX_WIN_RATE": "1",
    "AUDIT_SHAP": "false",
    "AUDIT_CASES": "2",
}


@pytest.fixture
def setup(fresh_dir, tiny_policy, tmp_path):
    """A database whose current version 0 is the tiny policy, with votes on demo-site answers."""
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    registry = ModelRegistry(db, tmp_path / "models")
    folder = copy_model(tiny_policy, tmp_path / "models" / "0")
    with db.session() as session:
        session.add(ModelVersionRecord(id=0, path=str(folder), is_current=True, audit_status="base"))
        session.commit()
    vote_on_good_and_bad_answers(Records(db), questions=12, voters=3)
    with SupportLoop(load_settings()) as loop:  # the demo index, for the prompts' passages
        answerer = loop.answerer
        yield db, registry, answerer.passages_for, answerer.checker, tmp_path
    db.close()


def vote_on_good_and_bad_answers(records: Records, questions: int = 10, voters: int = 2) -> None:
    """Per in-scope demo question: an answer stating its facts liked, a useless one disliked."""
    for q in [q for q in load_questions() if q.kind == "in_scope"][:questions]:
        good = record_answer(records, q.question, " ".join(q.facts) or "See the help page.")
        bad = record_answer(records, q.question, "No idea, sorry.")
        for voter in range(voters):
            records.vote(good, f"user-{voter}", 1)
            records.vote(bad, f"user-{voter}", -1)


# The default gate, and one that asks only for a paired gain above 0 (the tiny policy's luck decides).
LENIENT_GATE = GateSettings(margin=-1.0, min_questions=1, max_kl=1e9)


@pytest.mark.parametrize("gate", [GateSettings(), LENIENT_GATE], ids=["default gate", "lenient gate"])
def test_a_run_registers_the_candidate_and_promotes_it_only_through_the_gate(setup, gate):
    db, registry, retrieve, checker, tmp_path = setup
    settings = RetrainSettings(
        min_votes=30,
        algorithm="ppo",
        ppo=TINY_RUN,
        gate=gate,
        max_new_tokens=16,
        audit=LENIENT_AUDIT,
        explain=False,
    )
    lines: list[str] = []
    result = retrain(
        db,
        registry,
        retrieve,
        checker,
        RetrainPaths(tmp_path / "reward_models", tmp_path / "reports", tmp_path / "audit"),
        settings,
        lambda f, line: lines.append(line),
        facts={q.question: q.facts for q in load_questions() if q.facts},
    )
    assert result.version == 1
    assert (tmp_path / "reward_models" / "1" / "reward.json").is_file()
    [candidate] = [v for v in registry.versions() if v.id == 1]
    assert (
        candidate.parent_id == 0 and "reward" in candidate.metrics and candidate.metrics["policy_steps"] == 4
    )
    assert candidate.metrics["algorithm"] == "ppo" and candidate.metrics["policy_settings"]["updates"] == 4
    # 12 question groups: the default gate's 30 held out, capped at half, is 6; the lenient gate's 1 leaves
    # the 3 of the 20% fraction.
    held_out = 6 if gate.min_questions == 30 else 3
    assert result.before.reward.n == result.after.reward.n == held_out
    assert result.after.fact_recall.n > 0 and 0 <= result.after.citation_rate.mean <= 1
    assert result.kl == pytest.approx(candidate.metrics["kl"]) and result.kl == result.kl  # not NaN
    assert result.audit_passed and candidate.audit_status == "passed"
    audit = json.loads((tmp_path / "reports" / "audit-1.json").read_text())
    assert audit["passed"] and len(audit["adversarial"]["probes"]) == 10
    assert audit["decisions"]["reward model training data"]["votes"] == candidate.metrics["dataset"]["votes"]
    report = json.loads((tmp_path / "reports" / "retrain-1.json").read_text())
    assert report["algorithm"] == "ppo" and len(report["policy"]["history"]) == 4
    assert report["promoted"] == result.promoted
    # Warm start on the liked answers (one per training question), evaluated on the same questions.
    assert report["sft"]["examples"] == candidate.metrics["sft_examples"] >= 4
    assert report["sft"]["evaluation"]["reward"]["n"] == result.before.reward.n
    assert not list((tmp_path / "models").glob(".1-*"))  # the warm-started policy is not left behind
    assert report["dataset"]["audit_counter_examples"] == 0  # no audit has kept any yet
    assert set(report["evaluation"]["after"]) >= {"reward", "grounding", "citation_rate", "fact_recall"}
    page = result.report.read_text()
    assert result.report.name == "retrain-1.html" and "data:image/png;base64," in page
    assert "after the warm start" in page and "liked answers" in page
    assert page.count("<tr>") > 10  # measures, reward model and data decisions
    measures = report["gate_measures"]
    assert measures == result.decision.measures and measures["kl"] == result.kl
    assert measures["held_out_questions"] == held_out == report["dataset"]["held_out_groups"]
    assert f"{measures['reward_gain_ci95_low']:.3f}" in page and "held_out_questions" in page
    if gate == LENIENT_GATE:
        assert result.promoted == (registry.current_id() == 1)
        assert result.promoted == result.decision.promote
        assert measures["reward_gain_ci95_low"] > 0 or not result.promoted
    else:  # 6 held-out questions are too few to tell a gain from noise
        assert not result.promoted and registry.current_id() == 0
        assert "only 6 held-out questions" in "; ".join(result.decision.reasons)
        assert "only 6 held-out questions" in page
    assert lines[-1] in ("promoted", "kept the current version")


def test_the_retrain_job_runs_through_the_worker_and_is_recorded(fresh_dir, tiny_policy, monkeypatch):
    """...and a promoted version is pushed to the configured Hub repo (the upload itself is recorded, not
    made: the Hub is unreachable here; ``test_hub`` covers the upload)."""
    pushed: list[str] = []
    monkeypatch.setattr(
        "training.hub.push_version", lambda version, repo, token: pushed.append(repo) or "url"
    )
    monkeypatch.setenv("SUPPORTLOOP_HUB_REPO", "acme/support-bot")
    monkeypatch.setenv("SUPPORTLOOP_HUB_TOKEN", "hf_secret")
    monkeypatch.setenv("SUPPORTLOOP_PROMOTION_MARGIN", "-1")  # with the next two: the paired gain decides
    monkeypatch.setenv("SUPPORTLOOP_GATE_MIN_QUESTIONS", "1")
    monkeypatch.setenv("SUPPORTLOOP_GATE_MAX_KL", "1000000")
    monkeypatch.setenv("SUPPORTLOOP_MODEL_PATH", str(tiny_policy))
    settings = {
        "POLICY_ALGORITHM": "ppo",
        "RETRAIN_MIN_VOTES": "30",
        "PPO_UPDATES": "2",
        "PPO_BATCH_SIZE": "4",
        **AUDIT_ENV,
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"SUPPORTLOOP_{name}", value)
    monkeypatch.setenv("SUPPORTLOOP_PPO_RESPONSE_LENGTH", "16")
    with SupportLoop(load_settings()) as loop:
        vote_on_good_and_bad_answers(loop.records)
        run = loop.jobs.enqueue("retrain", requested_by="test")
        lines: list[str] = []
        loop.worker.watch(run.id, lambda _run, line: lines.append(line))
        assert loop.worker.run_pending() == 1
        finished = loop.jobs.get(run.id)
        assert finished.status == "succeeded", finished.summary
        assert finished.summary["result"].startswith("version 1 ")
        assert lines[0] == f"Job #{run.id} (retrain) started." and "finished" in lines[-1]
        assert [v.id for v in loop.registry.versions()] == [1]
        promoted = "promoted;" in finished.summary["result"]
        assert pushed == (["acme/support-bot"] if promoted else [])
        assert ("pushed to url" in finished.summary["result"]) == promoted


@pytest.mark.parametrize("setting", ["kto", "sft", None])
def test_the_policy_algorithm_setting_picks_how_the_retrain_job_tunes_and_the_report_says_which(
    fresh_dir, tiny_policy, monkeypatch, setting
):
    """KTO learns from the liked and disliked answers themselves (of 10 voted questions 5 are held out for
    the gate: 5 liked and 5 disliked answers, 3 steps of at most 4 in one epoch); sft makes the
    warm-started policy the candidate, so the candidate answers as the warm start did. Unset (auto), it
    is KTO on a GPU and sft on a CPU."""
    algorithm = setting or ("kto" if torch.cuda.is_available() else "sft")
    monkeypatch.setenv("SUPPORTLOOP_MODEL_PATH", str(tiny_policy))
    settings = {
        **({"POLICY_ALGORITHM": setting} if setting else {}),
        "RETRAIN_MIN_VOTES": "30",
        "KTO_EPOCHS": "1",
        "KTO_BATCH_SIZE": "4",
        "KTO_LEARNING_RATE": "1e-4",
        "MAX_NEW_TOKENS": "16",
        **AUDIT_ENV,
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"SUPPORTLOOP_{name}", value)
    answered: list[int] = []  # held-out prompts answered, per evaluation
    evaluate = pipeline.evaluate_version
    monkeypatch.setattr(
        pipeline, "evaluate_version", lambda *args: answered.append(len(args[1])) or evaluate(*args)
    )
    with SupportLoop(load_settings()) as loop:
        vote_on_good_and_bad_answers(loop.records)
        run = loop.jobs.enqueue("retrain", requested_by="test")
        assert loop.worker.run_pending() == 1
        finished = loop.jobs.get(run.id)
        assert finished.status == "succeeded", finished.summary
        [candidate] = loop.registry.versions()
    check_model_folder(ModelVersion(1, fresh_dir / "models" / "1"))
    report = json.loads((fresh_dir / "reports" / "retrain-1.json").read_text())
    assert report["algorithm"] == candidate.metrics["algorithm"] == algorithm
    history = report["policy"]["history"]
    if algorithm == "kto":
        assert report["policy"]["settings"] == {
            "beta": 0.1,
            "learning_rate": 1e-4,
            "epochs": 1,
            "batch_size": 4,
            "micro_batch_size": None,
            "precompute_reference": True,
            "lora": False,
            "seed": 0,
        }
        assert report["dataset"]["held_out_groups"] == 5
        assert len(history) == candidate.metrics["policy_steps"] == 3
        assert all(step["kl"] >= 0 for step in history)
        assert "KTO curves" in (fresh_dir / "reports" / "retrain-1.html").read_text()
        assert len(answered) == 3  # version 0, the warm start, the candidate
    else:
        assert answered == [5, 5]  # version 0 and the warm start, which is the candidate: not twice
        assert history == [] and report["policy"]["settings"]["epochs"] == 2
        assert report["evaluation"]["after"]["reward"] == report["sft"]["evaluation"]["reward"]
        assert "the warm start alone" in (fresh_dir / "reports" / "retrain-1.html").read_text()


def test_retraining_without_enough_votes_fails_clearly_and_changes_nothing(fresh_dir):
    result = run_cli("retrain")
    assert result.returncode != 0
    assert "Retraining failed: Training needs at least 50 real votes; there are 0" in one_line_error(result)
    with SupportLoop(load_settings()) as loop:
        [run] = loop.jobs.recent()
        assert (run.kind, run.status) == ("retrain", "failed")
        assert loop.registry.versions() == []


def test_a_killed_retrain_leaves_the_current_version_serving_and_its_run_failed(
    fresh_dir, tiny_policy, monkeypatch
):
    """SIGKILL while the policy trains: nothing registered, version 0 still current; the run is marked
    failed by a worker starting once its heartbeat is stale. A worker starting while the next retrain
    runs in its own process leaves that run alone, though it lasted longer than the stale age; that run
    reuses the version id over the leftovers (the warm-started policy's folder among them)."""
    monkeypatch.delenv("SUPPORTLOOP_MODEL_PATH")
    for name, value in {
        "POLICY_ALGORITHM": "ppo",  # PPO_UPDATES makes it as long as the test needs
        "RETRAIN_MIN_VOTES": "30",
        "PPO_BATCH_SIZE": "4",
        "PPO_RESPONSE_LENGTH": "16",
        "JOB_STALE_S": str(STALE_S),
        **AUDIT_ENV,
    }.items():
        monkeypatch.setenv(f"SUPPORTLOOP_{name}", value)
    with SupportLoop(load_settings()) as loop:
        folder = copy_model(tiny_policy, fresh_dir / "models" / "0")
        with loop.db.session() as session:
            session.add(ModelVersionRecord(id=0, path=str(folder), is_current=True, audit_status="base"))
            session.commit()
        vote_on_good_and_bad_answers(loop.records)
    endless = cli_env({"SUPPORTLOOP_PPO_UPDATES": "10000"})
    process = subprocess.Popen(
        [CLI, "retrain"], env=endless, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 600  # the whole test took 315 s beside another test worker
        while not list((fresh_dir / "models").glob(".1-warm-*")):  # made just before training starts
            assert process.poll() is None and time.monotonic() < deadline, "retrain ended or stalled"
            time.sleep(0.2)
        time.sleep(3)  # well into the warm start or PPO
    finally:
        process.kill()
        process.wait()
    time.sleep(STALE_S + 1)
    with SupportLoop(load_settings()) as loop:
        assert [v.id for v in loop.registry.versions()] == [0] and loop.registry.current_id() == 0
        loop.worker.start()
        loop.worker.stop()
        [run] = loop.jobs.recent()
        assert run.status == "failed" and "its process stopped" in run.summary["error"]

    errors = fresh_dir.parent / "retrain.err"  # a file, not a pipe: nobody reads while it runs
    with errors.open("w") as stderr:
        second = subprocess.Popen(
            [CLI, "retrain"],
            env=cli_env({"SUPPORTLOOP_PPO_UPDATES": "2"}),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        with SupportLoop(load_settings()) as loop:
            deadline = time.monotonic() + 600
            while loop.jobs.recent()[0].status != "running":  # claimed once the CLI has loaded the model
                assert second.poll() is None and time.monotonic() < deadline, "retrain ended or stalled"
                time.sleep(0.2)
            time.sleep(STALE_S + 1)
            loop.worker.start()
            loop.worker.stop()
            assert [run.status for run in loop.jobs.recent()] == ["running", "failed"]
        second.wait(600)
    finally:
        second.kill()
    assert second.returncode == 0, errors.read_text()
    for directory in ("models", "reward_models"):
        assert not list((fresh_dir / directory).glob(".1-*"))  # no staging folder left behind
    with SupportLoop(load_settings()) as loop:
        assert {v.id for v in loop.registry.versions()} == {0, 1}
