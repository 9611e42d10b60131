"""The report of one retraining run, for admins: JSON for tools, HTML with curves for people.

Both go to ``<reports_dir>/retrain-<version>.json|.html``. The HTML is one self-contained file (plots
embedded as PNG) showing the PPO curves (mean reward of each update's answers, KL to the current
version, policy and value loss), the before/after table of every held-out measure with its 95%
interval, the gate's decision, the reward model's held-out accuracy, and every data decision.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CURVES = (
    ("score", "mean reward"),
    ("kl", "KL to current"),
    ("policy_loss", "policy loss"),
    ("value_loss", "value loss"),
)


def write_report(directory: Path, version: int, report: Mapping[str, Any]) -> Path:
    """Write the JSON and HTML reports (atomically); return the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = directory / f"retrain-{version}"
    _write(stem.with_suffix(".json"), json.dumps(report, indent=2, default=str))
    _write(stem.with_suffix(".html"), _html(version, report))
    return stem.with_suffix(".html")


def _write(path: Path, text: str) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def _curves(history: Sequence[Mapping[str, float]]) -> str:
    """The PPO curves as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, len(CURVES), figsize=(4 * len(CURVES), 3), constrained_layout=True)
    steps = range(1, len(history) + 1)
    for axis, (key, title) in zip(axes, CURVES, strict=True):
        axis.plot(steps, [step[key] for step in history], marker="o", markersize=3)
        axis.set_title(title)
        axis.set_xlabel("PPO update")
        axis.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _html(version: int, report: Mapping[str, Any]) -> str:
    history = report["ppo"]["history"]
    before, after = report["evaluation"]["before"], report["evaluation"]["after"]
    measures = _table(
        [(name, _estimate(before[name]), _estimate(after[name])) for name in after],
        ("held-out measure", "current version", f"version {version}"),
    )
    decisions = _table(sorted(report["dataset"].items()), ("data decision", "value"))
    reward_model = _table(sorted(report["reward_model"].items()), ("reward model", "value"))
    verdict = "promoted" if report["promoted"] else "not promoted"
    curves = f'<img alt="PPO curves" src="data:image/png;base64,{_curves(history)}">' if history else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SupportLoop retraining: version {version}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}img{{max-width:100%}}</style></head>
<body><h1>Retraining run: version {version} ({verdict})</h1>
<p>{html.escape("; ".join(report["gate"]))}</p>
<p>KL(version {version} ‖ current) on held-out answers: {report["evaluation"]["kl"]:.3f} nats;
{len(history)} PPO updates in {report["ppo"]["seconds"]:.0f} s.</p>
<h2>PPO</h2>{curves}
<h2>Held-out evaluation (mean ± 95% interval)</h2>{measures}
<h2>Reward model</h2>{reward_model}
<h2>Data decisions</h2>{decisions}
</body></html>
"""


def _estimate(value: Mapping[str, float]) -> str:
    if not value["n"]:
        return "—"
    return f"{value['mean']:.3f} ± {value['ci95']:.3f} (n={value['n']})"
