"""Learning from votes and managing what it produced: ``simulate``, ``retrain``, ``audit``, ``models``,
``rollback``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.errors import SupportLoopError
from supportloop.commands.common import fmt, folding_table, load_model, open_app, out

app = typer.Typer()


@app.command()
def simulate(
    votes: Annotated[int, typer.Option("--votes", min=1, help="How many votes to cast.")],
    questions: Annotated[
        Path | None,
        typer.Option(
            "--questions",
            help="Question set in the `eval` format (answering pages, expected facts); "
            "default: the bundled demo help center's questions.",
        ),
    ] = None,
    voters: Annotated[
        int, typer.Option("--voters", min=1, help="Simulated users voting on each answer.")
    ] = 3,
    drafts: Annotated[
        int,
        typer.Option(
            "--drafts", min=0, max=10, help="Unchecked model answers per question, besides the served one."
        ),
    ] = 2,
    temperature: Annotated[
        float,
        typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature of the drafts."),
    ] = 0.8,
    noise: Annotated[
        float, typer.Option("--noise", min=0.0, max=0.5, help="Chance a user votes against their preference.")
    ] = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the noise, for repeatable runs.")] = 0,
    taste: Annotated[
        str | None,
        typer.Option(
            "--taste",
            help="Users with a taste besides correctness: steps (the page's numbered steps where it has "
            "them), short (at most 200 characters) or one-page (one page quoted and cited). They judge "
            "the composer's other answers only where SUPPORTLOOP_EXPLORE_SHARE serves them.",
        ),
    ] = None,
):
    """Ask known questions and vote on the answers as simulated users, for demos and trials.

    Each question is answered as served and, --drafts times, by the model itself, sampled and unchecked:
    the reward model has to learn what the model gets wrong. Preference: 👍 for an answer that cites an
    answering page, is supported by it and states the expected facts in at most 600 characters, and
    for a polite decline of an uncovered question or an injection; 👎 otherwise. Votes are stored
    marked as simulated: training uses them only when asked to.
    """
    from supportloop.tastes import TASTES

    if taste is not None and taste not in TASTES:
        raise SupportLoopError(f"--taste must be one of {', '.join(TASTES)}; got {taste!r}.")
    from core.progress import progress
    from rag.evaluation import load_eval_questions
    from supportloop.demo_site import load_questions
    from supportloop.simulate import Preference
    from supportloop.simulate import simulate as run_simulation

    items = load_questions() if questions is None else load_eval_questions(questions)
    # Drafts sample; a longer batch wait lets the concurrent simulated askers share batches.
    with open_app(temperature=temperature, batch_wait_ms=250) as loop:
        load_model(loop)
        with progress("Simulating users", total=votes) as bar:
            report = run_simulation(
                loop.conversations,
                items,
                votes,
                voters_per_answer=voters,
                drafts=drafts,
                preference=Preference(noise=noise, taste=taste),
                seed=seed,
                on_vote=bar.advance,
            )
    out.print(
        f"Cast {report.votes} simulated votes ({report.upvotes} 👍, {report.downvotes} 👎) "
        f"on {report.answers} answers."
    )


@app.command()
def retrain():
    """Learn from the votes now: train the reward model, tune the current version on the votes, evaluate
    both on held-out questions, and make the candidate current only if it passes the promotion gate.

    How it tunes is SUPPORTLOOP_POLICY_ALGORITHM: auto (the default) runs KTO on a GPU and the warm start
    on liked answers alone on a CPU, where KTO takes about half an hour; ppo, kto or sft pick one. The
    run is recorded like a scheduled one (`job_runs`); see `supportloop models` for the result. Which
    votes, how long each tuning runs and what the gate asks come from the SUPPORTLOOP_RETRAIN_*,
    SUPPORTLOOP_SFT_*, SUPPORTLOOP_KTO_*, SUPPORTLOOP_PPO_*, SUPPORTLOOP_PROMOTION_MARGIN and
    SUPPORTLOOP_GATE_* settings.
    """
    from core.progress import progress

    with open_app() as loop:
        load_model(loop)
        run = loop.jobs.enqueue("retrain", requested_by="cli")
        with progress("Retraining", total=100) as bar:

            def show(_run: object, line: str) -> None:
                percent = round(100 * loop.jobs.get(run.id).progress)
                bar.advance(max(0, percent - bar.done), status=line.split(": ", 1)[-1][:60])

            loop.worker.watch(run.id, show)
            loop.worker.run_pending()
        finished = loop.jobs.get(run.id)
    if finished.status != "succeeded":
        raise SupportLoopError(f"Retraining failed: {finished.summary.get('error', 'see the log')}")
    out.print(finished.summary["result"])


@app.command()
def audit(
    version: Annotated[
        int | None, typer.Argument(help="The model version whose reward model to audit (default: current).")
    ] = None,
):
    """Audit a version's reward model: fairness across groups (Fairlearn), adversarial probes (padding,
    flattery, wrong answers, injections…), SHAP explanations and the factual-accuracy calibration.

    Writes reports/audit-VERSION.html and .json, records the verdict (see `supportloop models`) and keeps
    the failures as counter-examples for the next retraining. Thresholds: SUPPORTLOOP_AUDIT_*.
    """
    from core.progress import progress

    with open_app() as loop, progress("Auditing", total=100) as bar:

        def show(fraction: float, line: str) -> None:
            bar.advance(max(0, round(100 * fraction) - bar.done), status=line[:60])

        result, report = loop.admin.audit(version, show)
    out.print(result.summary())
    out.print(f"Report: {report}")


@app.command()
def models():
    """List model versions: which is current, where each came from, its audit status and metrics."""
    with open_app() as loop:
        versions = loop.registry.versions()
        if not versions:
            out.print("No model versions yet: version 0 is prepared on first use (e.g. `supportloop ask`).")
            return
        table = folding_table("version", "current", "parent", "created (UTC)", "audit", "metrics")
        for v in versions:
            metrics = ", ".join(f"{k}={fmt(m)}" for k, m in sorted(v.metrics.items()))
            table.add_row(
                str(v.id),
                "✓" if v.is_current else "",
                "–" if v.parent_id is None else str(v.parent_id),
                f"{v.created_at:%Y-%m-%d %H:%M}",
                v.audit_status,
                metrics,
            )
        out.print(table)


@app.command()
def rollback(version: Annotated[int, typer.Argument(help="The model version to serve.", min=0)]):
    """Serve an earlier model version from now on (a running `serve` switches within seconds)."""
    with open_app() as loop:
        out.print(loop.admin.rollback(version))
