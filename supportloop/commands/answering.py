"""Answering questions: ``ask`` (one or a file of them), ``demo`` and ``eval``."""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import typer

from core.cpu_layout import usable_cores
from core.errors import SupportLoopError
from supportloop.commands.common import (
    err,
    fmt,
    folding_table,
    ingest_summary,
    load_model,
    numbered_lines,
    open_app,
    out,
    write_atomically,
)

if TYPE_CHECKING:
    from bots.replies import Reply
    from core.settings import Settings
    from supportloop.app import SupportLoop

app = typer.Typer()


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
    if question is not None and not question.strip():
        raise SupportLoopError('The question is empty: ask something, e.g. supportloop ask "How do I…?"')
    if out_file is not None and file is None:
        raise SupportLoopError("--out needs --file.")
    from bots.console import print_reply
    from bots.replies import Origin

    if file is not None:
        items = _read_questions(file)
        with open_app() as loop:
            load_model(loop)
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
    with open_app() as loop:
        load_model(loop)
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
    from bots.console import print_reply, run_chat
    from bots.replies import Reply
    from rag.ingest import ingest_site
    from supportloop.demo_site import load_questions, serve_demo_site

    with open_app() as loop, serve_demo_site(loop.settings.demo_port) as url:
        report = ingest_site([url + "/"], loop.index, loop.settings)
        out.print(ingest_summary(report, f"the demo help center at {url}"))
        load_model(loop)
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
            f"median latency {median:.2f} s over {len(latencies)} questions, "
            f"answered {answers_at_once(loop.settings)} at a time."
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
    from core.progress import progress
    from rag.evaluation import BaselineAnswerer, evaluate, load_eval_questions, summarize, write_report

    items = load_eval_questions(questions)[:limit]
    with open_app() as loop:
        load_model(loop, recording=False)
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
    table = folding_table("metric", *summaries)
    first = next(iter(summaries.values()))
    for key, value in first.items():
        if isinstance(value, dict):
            for kind in value:
                table.add_row(f"{key} {kind}", *(fmt(s[key][kind]) for s in summaries.values()))
        else:
            table.add_row(key, *(fmt(s[key]) for s in summaries.values()))
    out.print(table)


def _reply_json(reply: Reply, item_id: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = {} if item_id is None else {"id": item_id}
    data.update(
        answer=reply.text,
        citations=[source.url for source in reply.sources],
        declined=reply.declined,
        latency_s=round(reply.latency_s, 4),
        answer_id=reply.answer_id,
        mode=reply.mode,
        model_version=reply.model_version,
    )
    return data


def _read_questions(path: Path) -> list[dict[str, Any]]:
    """Parse and check the whole batch file before any work starts."""
    items = []
    for number, line in numbered_lines(path):
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


def answers_at_once(settings: Settings) -> int:
    """How many of a batch's questions are answered at the same time.

    Generated answers go up to ``max_batch_size`` at once, so the batching generator (or the model
    server) can group them. Quoted answers are computed here, on the CPU: more at once than there are
    cores only queues them, and each answer's latency then counts the others' work. The demo's 76
    questions on 2 cores: 8 at a time took 48.5 s at a median of 3.77 s an answer; 2 at a time, 46.8 s
    at 0.91 s (one at a time, 79.9 s).
    """
    if settings.answer_mode == "generate":
        return settings.max_batch_size
    return max(1, min(settings.max_batch_size, usable_cores()))


def _answer_all(loop: SupportLoop, questions: list[str]) -> list[Reply | SupportLoopError]:
    """Answer ``answers_at_once`` questions at a time; results keep the input order."""
    from bots.replies import Origin
    from core.progress import progress

    def one(question: str) -> Reply | SupportLoopError:
        reply = loop.conversations.ask(question, Origin(platform="cli"))
        # one bad question does not sink the batch: its error takes the answer's place
        return SupportLoopError(reply.text) if reply.kind == "error" else reply

    results: list[Reply | SupportLoopError] = []
    with (
        ThreadPoolExecutor(max_workers=answers_at_once(loop.settings)) as pool,
        progress("Answering", total=len(questions)) as bar,
    ):
        for result in pool.map(one, questions):
            results.append(result)
            bar.advance()
    return results


def _write_lines(lines: list[dict[str, Any]], path: Path | None) -> None:
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if path is None:
        sys.stdout.write(text)
        return
    write_atomically(path, text)
    err.print(f"Wrote {path}")
