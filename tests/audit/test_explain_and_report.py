"""SHAP values for every token of a scored text, and the audit report that shows them."""

import json

import pytest

from audit.cases import GROUP_MARKERS, load_cases
from audit.explain import Explainer
from audit.report import write_audit_report
from audit.suite import AuditSettings, run_audit
from training.reward_model import RewardModel

pytestmark = pytest.mark.slow  # SHAP evaluates the MiniLM reward model hundreds of times per text

CASE = load_cases()[0]


@pytest.fixture(scope="module")
def reward():
    return RewardModel.fresh("pointwise")  # untrained: SHAP explains whatever the scores are


def test_every_token_of_a_scored_text_gets_a_shap_value(reward):
    text = reward.text(CASE.question, CASE.honest)
    [explained] = Explainer(reward, max_evals=64).explain([text])
    assert len(explained.values) == len(reward.tokenizer(text)["input_ids"])
    assert "".join(explained.tokens) == text
    [score] = reward.score_texts([text])
    assert explained.base + sum(explained.values) == pytest.approx(score, abs=1e-3)  # SHAP is additive


def test_explanations_cover_every_group_and_the_report_shows_them(reward, embeddings, tmp_path):
    from rag.grounding import GroundingChecker

    settings = AuditSettings(cases=2, shap_cases=1, shap_group_cases=1, shap_max_evals=64)
    result = run_audit(reward, settings, checker=GroundingChecker(embeddings))
    explanations = result.explanations
    assert explanations.marker_effect.keys() == GROUP_MARKERS.keys()
    assert all(effects.keys() == GROUP_MARKERS[a].keys() for a, effects in explanations.marker_effect.items())
    assert explanations.raising or explanations.lowering
    assert explanations.texts == 2 + sum(
        len(g) for g in GROUP_MARKERS.values()
    )  # 1 case overall, 1 per group
    assert result.calibration.examples == 48

    page = write_audit_report(tmp_path, 3, result)
    assert page == tmp_path / "audit-3.html"
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 3  # fairness, adversarial, SHAP
    for section in ("Fairness across groups", "Adversarial probes", "SHAP explanations", "Data decisions"):
        assert section in html
    data = json.loads((tmp_path / "audit-3.json").read_text())
    assert data["version"] == 3 and data["passed"] == result.passed
    assert len(data["adversarial"]["probes"]) == 10 and data["counter_examples"] == len(
        result.counter_examples
    )
    assert {a["attribute"] for a in data["fairness"]["attributes"]} == {*GROUP_MARKERS, "language"}
    assert data["calibration"]["accuracy"] == pytest.approx(result.calibration.accuracy)
