"""The audit report: ``<reports_dir>/audit-<version>.json`` for tools and ``.html`` with plots for admins.

The HTML shows the verdict and its reasons; fairness per attribute (mean score and approval by group,
demographic parity, equalized odds, gaps); each adversarial probe's win rate; the SHAP tokens that raise
and lower reward, overall and per group, with each group marker's effect; the factual-accuracy
calibration; and every data decision.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from audit.explain import Explanations
from audit.fairness import FairnessResult
from audit.suite import AuditResult
from core.reports import figure_img, html_page, html_table, pyplot, write_atomic


def write_audit_report(directory: Path, version: int, result: AuditResult) -> Path:
    """Write both files atomically; return the HTML path."""
    stem = directory / f"audit-{version}"
    data = {"version": version, **result.to_json()}
    write_atomic(stem.with_suffix(".json"), json.dumps(data, indent=2, default=str))
    write_atomic(stem.with_suffix(".html"), _html(version, result))
    return stem.with_suffix(".html")


def _fairness_plot(fairness: FairnessResult) -> str:
    plt = pyplot()
    attributes = [a for a in fairness.attributes if a.scorer == "reward model"]
    figure, axes = plt.subplots(
        1, len(attributes), figsize=(3.2 * len(attributes), 3), constrained_layout=True
    )
    for axis, attribute in zip(axes, attributes, strict=True):
        groups = list(attribute.by_group)
        axis.bar(groups, [attribute.by_group[g]["mean score"] for g in groups], color="#4878a8")
        axis.set_title(f"{attribute.attribute} ({'pass' if attribute.passed else 'FAIL'})")
        axis.set_ylim(0, 1)
        axis.tick_params(axis="x", rotation=60, labelsize=7)
    axes[0].set_ylabel("mean probability of an upvote")
    return figure_img(figure, "mean reward-model score by group")


def _adversarial_plot(result: AuditResult) -> str:
    plt = pyplot()
    probes = result.adversarial.probes
    figure, axis = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
    colours = ["#3a8a3a" if p.passed else "#b03030" for p in probes]
    axis.barh([p.probe for p in probes], [p.judged_rate for p in probes], color=colours)
    axis.axvline(result.adversarial.max_win_rate, color="black", linestyle="--", linewidth=1)
    axis.set_xlim(0, 1)
    axis.set_xlabel("share of cases where the hacked answer scored higher (the scorer judged on)")
    return figure_img(figure, "adversarial win rates")


def _shap_plot(explanations: Explanations) -> str:
    plt = pyplot()
    tokens = explanations.raising + list(reversed(explanations.lowering))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    left.barh(
        [t for t, _ in tokens][::-1],
        [v for _, v in tokens][::-1],
        color=["#3a8a3a" if v > 0 else "#b03030" for _, v in tokens][::-1],
    )
    left.set_title("tokens that raise / lower reward (mean SHAP)")
    left.tick_params(axis="x", labelsize=7, rotation=30)
    labels = [f"{a}: {g}" for a, groups in explanations.marker_effect.items() for g in groups]
    values = [v for groups in explanations.marker_effect.values() for v in groups.values()]
    right.barh(labels[::-1], values[::-1], color="#4878a8")
    right.axvline(0, color="black", linewidth=1)
    right.tick_params(axis="y", labelsize=7)
    right.set_title("group marker's effect on the score (summed SHAP)")
    return figure_img(figure, "SHAP explanations")


def _html(version: int, result: AuditResult) -> str:
    verdict = "passed" if result.passed else "failed"
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in result.reasons) or "<li>every check passed</li>"
    fairness = html_table(
        [
            (
                a.scorer,
                a.attribute,
                "pass" if a.passed else "FAIL",
                f"{a.demographic_parity:.3f}",
                f"{a.equalized_odds:.3f}",
                f"{a.score_gap:.3f}",
                f"{a.max_pair_gap:.3f}",
            )
            for a in result.fairness.attributes
        ],
        (
            "scored with",
            "attribute",
            "verdict",
            "demographic parity diff.",
            "equalized odds diff.",
            "mean-score gap",
            "largest per-pair gap",
        ),
    )
    groups = html_table(
        [
            (a.attribute, group, *(f"{v:.3f}" for v in metrics.values()))
            for a in result.fairness.attributes
            if a.scorer == "reward model"
            for group, metrics in a.by_group.items()
        ],
        ("attribute", "group", "mean score", "approval rate", "true positive rate", "false positive rate"),
    )
    probes = html_table(
        [
            (
                p.probe,
                "pass" if p.passed else "FAIL",
                p.judged_on,
                f"{p.win_rate:.0%}",
                f"{p.mean_margin:+.3f}",
                "—" if p.composite_win_rate is None else f"{p.composite_win_rate:.0%}",
            )
            for p in result.adversarial.probes
        ],
        (
            "probe",
            "verdict",
            "judged on",
            "win rate (reward model)",
            "mean P(👍) hacked − honest",
            "win rate (composite)",
        ),
    )
    shap_section = "<p>Not computed in this run.</p>"
    if result.explanations is not None:
        e = result.explanations
        per_group = html_table(
            [(group, ", ".join(f"{t} {v:+.3f}" for t, v in top)) for group, top in e.by_group.items()],
            ("group", "tokens that move its score most"),
        )
        shap_section = f"<p>{e.texts} texts explained.</p>{_shap_plot(e)}{per_group}"
    calibration = "<p>Not measured in this run.</p>"
    if result.calibration is not None:
        c = result.calibration
        calibration = html_table(
            [
                ("examples", c.examples),
                ("accuracy", f"{c.accuracy:.3f}"),
                ("precision", f"{c.precision:.3f}"),
                ("recall", f"{c.recall:.3f}"),
            ]
            + [(f"accuracy on {kind}", f"{value:.3f}") for kind, value in c.by_kind.items()],
            ("sentence-level support check", "value"),
        )
    decisions = html_table(
        [(k, json.dumps(v, default=str)) for k, v in result.decisions.items()]
        + [("counter-examples kept for the next training run", len(result.counter_examples))],
        ("data decision", "value"),
    )
    css = "pass" if result.passed else "fail"
    parts = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in result.timings.items())
    body = f"""<h1>Reward-model audit: version {version} (<span class="{css}">{verdict}</span>)</h1>
<ul>{reasons}</ul><p>Took {result.seconds:.0f} s ({html.escape(parts)}).</p>
<h2>Fairness across groups</h2>{_fairness_plot(result.fairness)}{fairness}{groups}
<h2>Adversarial probes</h2>{_adversarial_plot(result)}{probes}
<h2>SHAP explanations</h2>{shap_section}
<h2>Factual accuracy: calibration on labelled sentences</h2>{calibration}
<h2>Data decisions</h2>{decisions}"""
    return html_page(f"SupportLoop audit: version {version}", body)
