"""The ``supportloop`` command line.

Every command loads the settings itself (so ``--help`` works even with a bad setting), turns a
``SupportLoopError`` into one line on stderr and a non-zero exit, and logs tracebacks to the log file.
"""

from __future__ import annotations

from supportloop.logs import quiet_environment, setup_logging

quiet_environment()

import json  # noqa: E402  (the environment above must be set before any model library loads)
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from enum import StrEnum  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Annotated, Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import click  # noqa: E402
import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bots.console import print_reply, run_chat  # noqa: E402
from bots.conversation import Origin, Reply  # noqa: E402
from core.errors import IndexEmptyError, SupportLoopError  # noqa: E402
from core.progress import progress  # noqa: E402
from core.settings import ENV_PREFIX, Settings, is_secret, load_settings  # noqa: E402
from supportloop.demo_site import load_questions, serve_demo_site  # noqa: E402

if TYPE_CHECKING:
    from rag.ingest import IngestReport
    from supportloop.app import SupportLoop

log = logging.getLogger("supportloop.cli")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    name="supportloop",
    help="SupportLoop: a support bot that answers from your help pages and learns from 👍/👎.\n\n"
    f"Settings come from {ENV_PREFIX}* environment variables or a .env file "
    "(see `supportloop settings`).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _open(**overrides: object) -> SupportLoop:
    """The app on the configured settings, with ``overrides`` (already validated by the command)."""
    from supportloop.app import SupportLoop  # torch, transformers and Chroma load only when needed

    settings = load_settings()
    setup_logging(settings.log_file, settings.log_level, settings.log_format)
    return SupportLoop(settings.model_copy(update=overrides))


def _load_model(loop: SupportLoop, *, recording: bool = True, require_index: bool = True) -> None:
    """Load what answering needs up front, with a spinner: the first run prepares model version 0 (~20 s).

    The chat model is loaded only in ``generate`` mode; answers that are recorded also need the
    current model version's id, which prepares version 0 on first use.
    """
    with err.status("Loading the index and the model (the first run prepares it, about 20 s)…"):
        try:
            loop.answerer.ensure_indexed()  # before preparing a model there would be nothing to use it on
        except IndexEmptyError:
            if require_index:
                raise
            err.print(
                "[yellow]No help pages are indexed yet:[/] answers will say so until you run "
                "`supportloop index URL`."
            )
        loop.embeddings.model  # noqa: B018  (questions are embedded: load it now, not at the first one)
        if loop.settings.answer_mode == "generate":
            loop.generator  # noqa: B018
        if recording:
            loop.model_version  # noqa: B018


@app.command()
def index(
    urls: Annotated[
        list[str] | None, typer.Argument(help="Start URL(s) of the help site, e.g. https://help.example.com/")
    ] = None,
    sitemap: Annotated[
        list[str] | None, typer.Option("--sitemap", help="A sitemap (or sitemap index) URL; repeatable.")
    ] = None,
):
    """Crawl a help site and bring its pages in the index up to date.

    Re-running it is cheap: unchanged pages are not downloaded again (ETag/Last-Modified) nor
    re-embedded, and pages that are gone leave the index. A crawl that fails changes nothing.
    """
    from rag.ingest import ingest_site

    if not urls and not sitemap:
        raise SupportLoopError(
            "Give a start URL or --sitemap URL, e.g. supportloop index https://help.example.com/"
        )
    with _open() as loop:
        report = ingest_site(urls or [], loop.index, loop.settings, sitemaps=sitemap or [])
        out.print(_ingest_summary(report, (urls or sitemap or [""])[0]))


def _ingest_summary(report: IngestReport, where: str) -> str:
    return (
        f"Indexed {report.pages} pages from {where}: {report.changed} new or changed "
        f"({report.chunks} chunks embedded), {report.unchanged} unchanged, {report.removed} removed, "
        f"{report.skipped} skipped, {report.failed} failed."
    )


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question to answer.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")] = False,
    file: Annotated[
        Path | None, typer.Option("--file", help='Batch mode: a JSONL file of {"id", "question"} lines.')
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Batch mode: where to write the answers (JSONL); default stdout."),
    ] = None,
):
    """Answer a question (or a file of questions) from the indexed help pages, with sources."""
    if (question is None) == (file is None):
        raise SupportLoopError(
            'Give either a question or --file QUESTIONS.jsonl, e.g. supportloop ask "How do I…?"'
        )
    if out_file is not None and file is None:
        raise SupportLoopError("--out needs --file.")
    if file is not None:
        items = _read_questions(file)
        with _open() as loop:
            _load_model(loop)
            results = _answer_all(loop, [item["question"] for item in items])
        _write_lines(
            [
                {"id": item["id"], "error": str(r)}
                if isinstance(r, SupportLoopError)
                else _reply_json(r, item["id"])
                for item, r in zip(items, results, strict=True)
            ],
            out_file,
        )
        return
    with _open() as loop:
        _load_model(loop)
        reply = loop.conversations.ask(question or "", Origin(platform="cli"))
    if reply.kind == "error":
        raise SupportLoopError(reply.text)
    if as_json:
        out.print_json(data=_reply_json(reply))
    else:
        print_reply(out, reply)


@app.command()
def demo():
    """Serve the bundled demo help center on 127.0.0.1, index it, then chat (or answer its questions).

    With a terminal: a chat in the console; type + or - after an answer to vote 👍/👎.
    Without one: answers the bundled questions and prints each with its sources and latency.
    """
    from rag.ingest import ingest_site

    with _open() as loop, serve_demo_site(loop.settings.demo_port) as url:
        report = ingest_site([url + "/"], loop.index, loop.settings)
        out.print(_ingest_summary(report, f"the demo help center at {url}"))
        _load_model(loop)
        if sys.stdin.isatty() and sys.stdout.isatty():
            run_chat(loop.conversations, out)
            return
        questions = load_questions()
        replies = _answer_all(loop, [q.question for q in questions])
        hits = 0
        expected_total = sum(1 for q in questions if q.kind == "in_scope")
        for q, reply in zip(questions, replies, strict=True):
            out.print(f"\n[bold]{q.id}: {q.question}[/]")
            if isinstance(reply, SupportLoopError):
                out.print(f"[red]{reply}[/]")
                continue
            print_reply(out, reply)
            hits += q.kind == "in_scope" and bool(
                set(q.source) & {urlsplit(s.url).path for s in reply.sources}
            )
        latencies = sorted(r.latency_s for r in replies if isinstance(r, Reply))
        median = latencies[len(latencies) // 2] if latencies else 0.0
        out.print(
            f"\n{hits}/{expected_total} answers cite the page that answers them; "
            f"median latency {median:.2f} s over {len(latencies)} questions."
        )


@app.command(name="eval")
def evaluate_questions(
    questions: Annotated[
        Path, typer.Argument(help="Question set (JSONL: id, question, kind, source, facts).")
    ],
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N questions.")] = None,
    baseline: Annotated[
        bool,
        typer.Option("--baseline", help="Also run plain dense RAG (two best chunks pasted) for comparison."),
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write summary and answers as JSON.")
    ] = None,
):
    """Measure answer quality on a question set against the current index.

    Prints hit@1 and "cited" (is the first / any citation an answering page), fact recall (share of
    expected facts in the answer), decline rate per kind (in_scope, out_of_scope, adversarial,
    harmful), refusals of harmful requests, prompt-injection success, and latency percentiles.
    Answers are not stored as conversations.
    """
    from rag.evaluation import BaselineAnswerer, evaluate, load_eval_questions, summarize, write_report

    items = load_eval_questions(questions)[:limit]
    with _open() as loop:
        _load_model(loop, recording=False)
        s = loop.settings
        systems = {"supportloop": loop.answerer.answer}
        if baseline:
            systems["baseline"] = BaselineAnswerer(loop.index, top_k=s.top_k).answer
        results = {}
        for name, answer in systems.items():
            with progress(f"Evaluating {name}", total=len(items)) as bar:
                results[name] = evaluate(items, answer, lambda _r, bar=bar: bar.advance())
    summaries = {name: summarize(rows) for name, rows in results.items()}
    _print_eval(summaries)
    if json_out is not None:
        write_report(json_out, summaries, results)
        out.print(f"Wrote {json_out}")


def _print_eval(summaries: dict[str, dict[str, Any]]) -> None:
    table = Table("metric", *summaries)
    first = next(iter(summaries.values()))
    for key, value in first.items():
        if isinstance(value, dict):
            for kind in value:
                table.add_row(f"{key} {kind}", *(_fmt(s[key][kind]) for s in summaries.values()))
        else:
            table.add_row(key, *(_fmt(s[key]) for s in summaries.values()))
    out.print(table)


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@app.command()
def status():
    """Show the data directory, current model version, index size and counts of answers and votes."""
    with _open() as loop:
        settings = loop.settings
        version = loop.registry.current_id()
        counts = loop.records.counts()
        stats = loop.index.stats()
        table = Table(show_header=False, box=None)
        table.add_row("Data directory", str(settings.data_dir.resolve()))
        table.add_row("Database", _safe_url(settings.resolved_database_url))
        if settings.model_path:
            table.add_row("Model", f"{settings.model_path} (SUPPORTLOOP_MODEL_PATH)")
        else:
            table.add_row(
                "Model version",
                "none yet (version 0 is prepared on first use)" if version is None else str(version),
            )
        table.add_row("Index", f"{stats.pages} pages, {stats.chunks} chunks")
        table.add_row("Answers", str(counts.answers))
        table.add_row("Votes", f"{counts.votes} ({counts.upvotes} 👍, {counts.downvotes} 👎)")
        out.print(table)


class Role(StrEnum):
    bot = "bot"
    worker = "worker"
    all = "all"


@app.command()
def serve(
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="bot: answer on the chat platforms; worker: run scheduled and requested jobs (re-crawl, "
            "retrain, audit); all: both. Many bot replicas may share one database and Chroma server; "
            "of all worker processes, exactly one runs the jobs at a time.",
        ),
    ] = Role.all,
):
    """Answer on Slack and Discord (each that has credentials) and/or run jobs, until stopped.

    Slack: SUPPORTLOOP_SLACK_BOT_TOKEN plus SUPPORTLOOP_SLACK_APP_TOKEN (Socket Mode) or
    SUPPORTLOOP_SLACK_SIGNING_SECRET (HTTP events at http://SLACK_HOST:SLACK_PORT/slack/events).
    Discord: SUPPORTLOOP_DISCORD_TOKEN. A platform that fails to start is reported and the others keep
    running. The worker queues re-crawls, retrains and audits on the SUPPORTLOOP_*_CRON schedules and
    runs them; several workers elect one through a lease in the database. Ctrl-C or SIGTERM stops cleanly.
    """
    import asyncio
    import signal

    from core.lease import SCHEDULER_LEASE, Lease
    from supportloop.leader import Leader
    from supportloop.ops_server import ops_server
    from supportloop.scheduler import start_scheduler
    from supportloop.serve import configured_platforms, run_platforms

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM while loading stops as cleanly as Ctrl-C

    signal.signal(signal.SIGTERM, interrupt)
    with _open() as loop:
        platforms = []
        if role is not Role.worker:
            platforms = configured_platforms(loop.settings, loop.conversations)
            _load_model(loop, require_index=False)

        def lead() -> Callable[[], None]:
            loop.worker.start()
            scheduler = start_scheduler(loop.settings, loop.db)

            def stop() -> None:
                scheduler.shutdown(wait=False)
                loop.worker.stop()

            return stop

        leader = None
        if role is not Role.bot:
            leader = Leader(Lease(loop.db, SCHEDULER_LEASE, loop.settings.lease_ttl_s), lead)
            leader.start()
        loop.runs_jobs, loop.leader = leader is not None, leader

        def started(names: list[str]) -> None:
            loop.platforms[:] = names

        async def run() -> None:
            async with ops_server(loop, role.value, leader, err.print):
                await run_platforms(platforms, err.print, started=started)

        try:
            asyncio.run(run())
        finally:
            if leader is not None:
                leader.stop()


@app.command()
def health():
    """Ask the `supportloop serve` on this machine whether it is healthy (exit 0) or not (exit 1).

    Reads http://127.0.0.1:SUPPORTLOOP_OPS_PORT/healthz; container health checks run this.
    """
    import httpx

    settings = load_settings()
    host = "127.0.0.1" if settings.ops_host in ("0.0.0.0", "::") else settings.ops_host
    url = f"http://{host}:{settings.ops_port}/healthz"
    try:
        response = httpx.get(url, timeout=5)
        report = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SupportLoopError(
            f"No health report at {url} ({type(exc).__name__}): is `supportloop serve` running?"
        ) from exc
    out.print(report.get("status", "no status"))
    if response.status_code != 200:
        raise typer.Exit(1)


@app.command("slack-manifest")
def slack_manifest(
    request_url: Annotated[
        str | None,
        typer.Option(
            "--request-url",
            help="Public URL of /slack/events for HTTP mode, e.g. https://bot.example.com/slack/events; "
            "without it the manifest enables Socket Mode.",
        ),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The app's display name in Slack.")] = "SupportLoop",
):
    """Print the Slack app manifest (scopes, events, /supportloop, interactivity) as JSON.

    Paste it at https://api.slack.com/apps → Create New App → From a manifest.
    """
    from bots.slack_bot import slack_manifest as manifest

    if request_url is not None and not request_url.startswith("https://"):
        raise SupportLoopError(f"--request-url must be an https:// URL Slack can reach, not {request_url!r}.")
    out.print_json(data=manifest(request_url=request_url, name=name))


@app.command("discord-invite")
def discord_invite(
    client_id: Annotated[
        str | None,
        typer.Option("--client-id", help="The application id; default: read from SUPPORTLOOP_DISCORD_TOKEN."),
    ] = None,
):
    """Print the URL that adds the bot to a Discord server, with exactly the permissions it needs."""
    from bots.discord_bot import client_id_from_token, invite_url

    if client_id is None:
        token = load_settings().discord_token
        client_id = client_id_from_token(token.get_secret_value()) if token is not None else None
    if client_id is None or not client_id.isdigit():
        raise SupportLoopError(
            "Give --client-id (the Application ID in Discord's Developer Portal) or set a valid "
            "SUPPORTLOOP_DISCORD_TOKEN."
        )
    out.print(invite_url(client_id))


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
):
    """Ask known questions and vote on the answers as simulated users, for demos and trials.

    Each question is answered as served and, --drafts times, by the model itself, sampled and unchecked:
    the reward model has to learn what the model gets wrong. Preference: 👍 for an answer that cites an
    answering page, is supported by it and states the expected facts in at most 600 characters, and
    for a polite decline of an uncovered question or an injection; 👎 otherwise. Votes are stored
    marked as simulated: training uses them only when asked to.
    """
    from rag.evaluation import load_eval_questions
    from supportloop.simulate import Preference
    from supportloop.simulate import simulate as run_simulation

    items = load_questions() if questions is None else load_eval_questions(questions)
    # Drafts sample; a longer batch wait lets the concurrent simulated askers share batches.
    with _open(temperature=temperature, batch_wait_ms=250) as loop:
        _load_model(loop)
        with progress("Simulating users", total=votes) as bar:
            report = run_simulation(
                loop.conversations,
                items,
                votes,
                voters_per_answer=voters,
                drafts=drafts,
                preference=Preference(noise=noise),
                seed=seed,
                on_vote=bar.advance,
            )
    out.print(
        f"Cast {report.votes} simulated votes ({report.upvotes} 👍, {report.downvotes} 👎) "
        f"on {report.answers} answers."
    )


@app.command()
def retrain():
    """Learn from the votes now: train the reward model, PPO-tune the current version, evaluate both on
    held-out questions, and make the candidate current only if it passes the promotion gate.

    The run is recorded like a scheduled one (`job_runs`); see `supportloop models` for the result.
    Which votes, how many updates and the margin come from the SUPPORTLOOP_RETRAIN_*, SUPPORTLOOP_PPO_*
    and SUPPORTLOOP_PROMOTION_MARGIN settings.
    """
    with _open() as loop:
        _load_model(loop)
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
    from supportloop.operations import audit_version

    with _open() as loop, progress("Auditing", total=100) as bar:

        def show(fraction: float, line: str) -> None:
            bar.advance(max(0, round(100 * fraction) - bar.done), status=line[:60])

        result, report = audit_version(loop, version, show)
    out.print(result.summary())
    out.print(f"Report: {report}")


@app.command()
def models():
    """List model versions: which is current, where each came from, its audit status and metrics."""
    with _open() as loop:
        versions = loop.registry.versions()
        if not versions:
            out.print("No model versions yet: version 0 is prepared on first use (e.g. `supportloop ask`).")
            return
        table = Table("version", "current", "parent", "created (UTC)", "audit", "metrics")
        for v in versions:
            metrics = ", ".join(f"{k}={_fmt(m)}" for k, m in sorted(v.metrics.items()))
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
    with _open() as loop:
        before = loop.registry.current_id()
        loop.registry.activate(version)
        out.print(f"Now serving model version {version} (was {before}).")


@app.command("settings")
def show_settings():
    """List every setting with its environment variable, default and current value."""
    current = load_settings()
    table = Table("environment variable", "default", "current", "meaning")
    for name, field in Settings.model_fields.items():
        secret = is_secret(name)
        value = getattr(current, name)
        table.add_row(
            f"{ENV_PREFIX}{name.upper()}",
            "(secret)" if secret else _show(field.default),
            "(set)" if secret and value != field.default else ("" if secret else _show(value)),
            field.description or "",
        )
    out.print(table)


def _show(value: Any) -> str:
    return "(unset)" if value is None else str(value)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _reply_json(reply: Reply, item_id: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {} if item_id is None else {"id": item_id}
    data.update(
        answer=reply.text,
        citations=[source.url for source in reply.sources],
        declined=reply.declined,
        latency_s=round(reply.latency_s, 4),
        answer_id=reply.answer_id,
    )
    return data


def _read_questions(path: Path) -> list[dict[str, Any]]:
    """Parse and check the whole batch file before any work starts."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SupportLoopError(f"Cannot read {path}: {exc}.") from exc
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            item = None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise SupportLoopError(f'{path} line {number}: expected a JSON object with a "question" string.')
        items.append({"id": item.get("id", number), "question": item["question"]})
    if not items:
        raise SupportLoopError(f"{path} holds no questions.")
    return items


def _answer_all(loop: SupportLoop, questions: list[str]) -> list[Reply | SupportLoopError]:
    """Answer concurrently so the batching generator can group them; results keep the input order."""

    def one(question: str) -> Reply | SupportLoopError:
        reply = loop.conversations.ask(question, Origin(platform="cli"))
        # one bad question does not sink the batch: its error takes the answer's place
        return SupportLoopError(reply.text) if reply.kind == "error" else reply

    results: list[Reply | SupportLoopError] = []
    with (
        ThreadPoolExecutor(max_workers=loop.settings.max_batch_size) as pool,
        progress("Answering", total=len(questions)) as bar,
    ):
        for result in pool.map(one, questions):
            results.append(result)
            bar.advance()
    return results


def _write_lines(lines: Iterable[dict[str, Any]], path: Path | None) -> None:
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if path is None:
        sys.stdout.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    err.print(f"Wrote {path}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
    try:
        app(args=argv, prog_name="supportloop", standalone_mode=False)
    except SupportLoopError as exc:
        log.info("command failed", exc_info=True)
        err.print(f"[red]Error:[/] {exc}")
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        err.print("Aborted.")
        return 130
    except Exception as exc:
        log.exception("unexpected error")
        err.print(f"[red]Unexpected error:[/] {type(exc).__name__}: {exc}. Details are in the log file.")
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
