"""The report of one retraining run, for admins: JSON for tools, HTML with curves for people.

Both go to ``<reports_dir>/retrain-<version>.json|.html``. The HTML is one self-contained file (plots
embedded as PNG) naming the algorithm that tuned the policy and showing its curves (PPO: mean reward of
each update's answers, KL to the policy PPO started from, policy and value loss; KTO: its loss, KL
estimate, and the implied reward of liked and disliked answers), the before/after table of every
held-out measure with its 95% interval (the warm-started policy between them, when there was a warm
start), the gate's decision with the numbers it was made on (held-out questions, the paired reward gain
and its 95% interval, KL, and their limits), the reward model's held-out accuracy, and every data
decision. The JSON also keeps each version's reward per held-out question."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.reports import figure_img, html_page, html_table, pyplot, write_atomic

CURVES = {
    "ppo": (
        ("score", "mean reward"),
        ("kl", "KL to the starting policy"),
        ("policy_loss", "policy loss"),
        ("value_loss", "value loss"),
    ),
    "kto": (
        ("loss", "KTO loss"),
        ("kl", "KL estimate to the reference"),
        ("liked_reward", "implied reward, liked answers"),
        ("disliked_reward", "implied reward, disliked answers"),
    ),
}


def write_report(directory: Path, version: int, report: Mapping[str, Any]) -> Path:
    """Write the JSON and HTML reports (atomically); return the HTML path."""
    stem = directory / f"retrain-{version}"
    write_atomic(stem.with_suffix(".json"), json.dumps(report, indent=2, default=str))
    write_atomic(stem.with_suffix(".html"), _html(version, report))
    return stem.with_suffix(".html")


def _curves(algorithm: str, history: Sequence[Mapping[str, float]]) -> str:
    """The tuning curves of ``algorithm`` as an inline image."""
    curves = CURVES[algorithm]
    plt = pyplot()
    figure, axes = plt.subplots(1, len(curves), figsize=(4 * len(curves), 3), constrained_layout=True)
    steps = range(1, len(history) + 1)
    for axis, (key, title) in zip(axes, curves, strict=True):
        axis.plot(steps, [step.get(key, math.nan) for step in history], marker="o", markersize=3)
        axis.set_title(title)
        axis.set_xlabel(f"{algorithm.upper()} step")
        axis.grid(alpha=0.3)
    return figure_img(figure, f"{algorithm.upper()} curves")


def _html(version: int, report: Mapping[str, Any]) -> str:
    algorithm, tuning = report["algorithm"], report["policy"]
    history = tuning["history"]
    before, after = report["evaluation"]["before"], report["evaluation"]["after"]
    warm = report["sft"].get("evaluation")
    columns = [before, *([warm] if warm else []), after]
    measures = html_table(
        [(name, *(_estimate(c[name]) for c in columns)) for name in after if name != "rewards"],
        (
            "held-out measure",
            "current version",
            *(["after the warm start"] if warm else []),
            f"version {version}",
        ),
    )
    sft = report["sft"]
    warm_start = (
        f"{sft['examples']} liked answers, {len(sft['losses'])} epochs in {sft['seconds']:.0f} s; "
        + "answer loss "
        + " → ".join(f"{loss:.3f}" for loss in sft["losses"])
        if warm
        else sft["skipped"]
    )
    gate = html_table(
        [(name, _number(value)) for name, value in report["gate_measures"].items()], ("gate", "value")
    )
    decisions = html_table(sorted(report["dataset"].items()), ("data decision", "value"))
    reward_model = html_table(sorted(report["reward_model"].items()), ("reward model", "value"))
    verdict = "promoted" if report["promoted"] else "not promoted"
    curves = _curves(algorithm, history) if history else ""
    tuned = (
        f"{len(history)} {algorithm.upper()} steps in {tuning['seconds']:.0f} s"
        if algorithm != "sft"
        else "the warm start alone (SFT), no further tuning"
    )
    body = f"""<h1>Retraining run: version {version} ({verdict})</h1>
<p>{html.escape("; ".join(report["gate"]))}</p>
{gate}
<p>KL(version {version} ‖ current) on held-out answers: {report["evaluation"]["kl"]:.3f} nats;
tuned by {html.escape(tuned)}.</p>
<h2>Warm start</h2><p>{html.escape(warm_start)}</p>
<h2>Tuning: {algorithm.upper()}</h2>{curves}
<h2>Held-out evaluation (mean ± 95% interval)</h2>{measures}
<h2>Reward model</h2>{reward_model}
<h2>Data decisions</h2>{decisions}"""
    return html_page(f"SupportLoop retraining: version {version}", body)


def _number(value: float) -> str:
    """Counts as they are, measurements to three decimals."""
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def _estimate(value: Mapping[str, float]) -> str:
    if not value["n"]:
        return "—"
    return f"{value['mean']:.3f} ± {value['ci95']:.3f} (n={value['n']})"
