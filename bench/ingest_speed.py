"""Ingest speed on a real documentation set: crawl + extract, embedding, and first ingest vs re-crawl.

Renders Mastodon's documentation (193 pages, Docsy-style chrome) into a scratch directory, serves it on
127.0.0.1 with ETags, and measures, in one run:

- crawl + extract throughput (pages/s, embedding excluded), median of ``--repeats`` crawls;
- embedding throughput (chunks/s) of every chunk of the site through ``HelpIndex.embed``;
- a first ``ingest_site`` into a fresh index against re-ingests of the unchanged site (all 304s, nothing
  embedded), and the same ratio for the crawl alone (full crawl vs a crawl that knows every ETag).

The baselines are measured in the same run, so load from other processes hits both sides of each ratio.

    python bench/ingest_speed.py [--repeats 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # for fakes.help_center

from supportloop.logs import quiet_environment, setup_logging

quiet_environment()

import torch  # noqa: E402
from fakes.help_center import render_mastodon_docs  # noqa: E402

from core.embedder import load_embeddings  # noqa: E402
from core.settings import Settings  # noqa: E402
from rag.chunker import Chunk, chunk_page  # noqa: E402
from rag.crawler import CrawlResult, crawl  # noqa: E402
from rag.extract import ExtractedPage, extract  # noqa: E402
from rag.fetch import CrawlConfig, PageState  # noqa: E402
from rag.index import HelpIndex, chroma_client  # noqa: E402
from rag.ingest import IngestReport, ingest_site  # noqa: E402
from supportloop.demo_site import serve_demo_site  # noqa: E402

TARGET_PAGES_PER_S = 10.0
TARGET_CHUNKS_PER_S = 40.0
TARGET_RECRAWL_RATIO = 5.0


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` once; its result and wall seconds."""
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def crawl_and_extract(
    start: str, sitemap: str, config: CrawlConfig, known: dict[str, PageState] | None = None
) -> tuple[CrawlResult, list[ExtractedPage], float, float]:
    """One crawl then extraction of every fetched page, timed apart so either can be blamed."""
    result, crawl_s = timed(lambda: crawl([start], config, sitemaps=[sitemap], known=known))
    extracted, extract_s = timed(lambda: [extract(page.html) for page in result.pages])
    return result, extracted, crawl_s, extract_s


def known_states(result: CrawlResult) -> dict[str, PageState]:
    """What an index would remember of each crawled page, so the next crawl asks with its ETag."""
    return {
        page.url: PageState(
            etag=page.etag,
            last_modified=page.last_modified,
            depth=page.depth,
            from_sitemap=page.from_sitemap,
        )
        for page in result.pages
    }


def verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each crawl measurement (median)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    load_before = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="supportloop-ingest-bench-"))
    site_dir = scratch / "site"
    settings = Settings(data_dir=scratch / "data", crawl_rate_per_host=1000, crawl_concurrency=4)
    setup_logging(settings.log_file, "INFO")
    paths, render_s = timed(lambda: render_mastodon_docs(site_dir))
    print(f"rendered {len(paths)} Mastodon docs pages in {render_s:.1f} s")
    config = CrawlConfig.from_settings(settings)
    cores = os.cpu_count()

    with serve_demo_site(0, site_dir) as url:
        start, sitemap = f"{url}/", f"{url}/sitemap.xml"

        # 1. crawl + extract, embedding excluded
        crawl_runs = []
        for _ in range(args.repeats):
            result, extracted, crawl_s, extract_s = crawl_and_extract(start, sitemap, config)
            crawl_runs.append((len(result.pages), crawl_s, extract_s))
        pages = crawl_runs[-1][0]
        crawl_s = statistics.median(r[1] for r in crawl_runs)
        extract_s = statistics.median(r[2] for r in crawl_runs)
        total_s = statistics.median(r[1] + r[2] for r in crawl_runs)
        pages_per_s = statistics.median(r[0] / (r[1] + r[2]) for r in crawl_runs)
        print(
            f"crawl+extract: {pages} pages, runs "
            + ", ".join(f"{c:.2f}+{e:.2f} s" for _, c, e in crawl_runs)
            + f" (crawl+extract); median {total_s:.2f} s"
        )

        # 2. embedding throughput over every chunk of the site
        chunks: list[Chunk] = []
        for page, text in zip(result.pages, extracted, strict=True):
            chunks.extend(
                chunk_page(page.url, text, size=settings.chunk_size, overlap=settings.chunk_overlap)
            )
        embeddings, load_s = timed(lambda: load_embeddings(settings.embed_batch_size))
        client = chroma_client(settings.chroma_dir, None)
        scratch_index = HelpIndex(client, "embedbench", embeddings, settings.embed_batch_size)
        scratch_index.embed(chunks[: settings.embed_batch_size])  # warm-up: first-call allocations
        threads = torch.get_num_threads()
        cpu_before = time.process_time()
        _, embed_s = timed(lambda: scratch_index.embed(chunks))
        embed_cpu_s = time.process_time() - cpu_before
        chunks_per_s = len(chunks) / embed_s
        print(
            f"embedding: {len(chunks)} chunks in {embed_s:.1f} s with {threads} torch threads "
            f"(batch {settings.embed_batch_size}; model load {load_s:.1f} s, not counted); "
            f"{embed_cpu_s:.0f} CPU s = {len(chunks) / embed_cpu_s:.1f} chunks per CPU second"
        )

        # 3. first ingest vs re-ingest of the unchanged site
        index = HelpIndex(client, "ingestbench", embeddings, settings.embed_batch_size)
        first, first_s = timed(lambda: ingest_site([start], index, settings, sitemaps=[sitemap]))
        again: list[tuple[IngestReport, float]] = [
            timed(lambda: ingest_site([start], index, settings, sitemaps=[sitemap]))
            for _ in range(args.repeats)
        ]
        again_s = statistics.median(s for _, s in again)
        print(
            f"first ingest: {first.pages} pages, {first.chunks} chunks embedded in {first_s:.1f} s; "
            "re-ingests: "
            + ", ".join(f"{s:.2f} s ({r.unchanged} unchanged, {r.chunks} chunks)" for r, s in again)
        )

        # 3b. the crawl alone: full crawl vs conditional re-crawl with every ETag known
        known = known_states(result)
        recrawls = [
            timed(lambda: crawl([start], config, sitemaps=[sitemap], known=known))
            for _ in range(args.repeats)
        ]
        recrawl_s = statistics.median(s for _, s in recrawls)
        print(
            f"crawl only: full median {crawl_s:.2f} s; with ETags "
            + ", ".join(f"{s:.2f} s ({len(r.unchanged)} 304s, {len(r.pages)} fetched)" for r, s in recrawls)
        )

    shutil.rmtree(scratch, ignore_errors=True)  # the rendered site and the scratch index
    ingest_ratio = first_s / again_s
    crawl_ratio = crawl_s / recrawl_s
    rows = [
        (
            "crawl+extract throughput",
            f"{pages_per_s:.1f} pages/s",
            TARGET_PAGES_PER_S,
            pages_per_s,
            "pages/s",
        ),
        (
            "embedding throughput",
            f"{chunks_per_s:.1f} chunks/s",
            TARGET_CHUNKS_PER_S,
            chunks_per_s,
            "chunks/s",
        ),
        ("first ingest / re-ingest", f"{ingest_ratio:.1f}x", TARGET_RECRAWL_RATIO, ingest_ratio, "x"),
        ("full crawl / ETag re-crawl", f"{crawl_ratio:.1f}x", TARGET_RECRAWL_RATIO, crawl_ratio, "x"),
    ]
    print(f"\nMastodon docs, {pages} pages, {len(chunks)} chunks; medians of {args.repeats} runs")
    print(f"crawl_rate_per_host=1000, crawl_concurrency=4, torch threads {threads}, cores {cores or '?'}")
    load_after = os.getloadavg()
    print(f"load average (1 min) at start {load_before[0]:.2f}, at end {load_after[0]:.2f}, on {cores} cores")
    print(f"{'measure':28} {'value':>16} {'target':>14} result")
    for name, shown, target, value, unit in rows:
        print(
            f"{name:28} {shown:>16} {'>= ' + format(target, 'g') + ' ' + unit:>14} {verdict(value, target)}"
        )
    print(
        f"\ncrawl {crawl_s:.2f} s + extract {extract_s:.2f} s per pass; "
        f"first ingest {first_s:.1f} s vs re-ingest {again_s:.2f} s; "
        f"full crawl {crawl_s:.2f} s vs ETag re-crawl {recrawl_s:.2f} s"
    )
    if args.json:
        numbers = {
            "pages": pages,
            "chunks": len(chunks),
            "repeats": args.repeats,
            "torch_threads": threads,
            "crawl_s_runs": [r[1] for r in crawl_runs],
            "extract_s_runs": [r[2] for r in crawl_runs],
            "crawl_s": crawl_s,
            "extract_s": extract_s,
            "pages_per_s": pages_per_s,
            "embed_s": embed_s,
            "chunks_per_s": chunks_per_s,
            "embed_cpu_s": embed_cpu_s,
            "load_average_start_end": [load_before[0], load_after[0]],
            "model_load_s": load_s,
            "first_ingest_s": first_s,
            "first_ingest_chunks": first.chunks,
            "reingest_s_runs": [s for _, s in again],
            "reingest_s": again_s,
            "reingest_chunks": [r.chunks for r, _ in again],
            "reingest_unchanged": [r.unchanged for r, _ in again],
            "ingest_ratio": ingest_ratio,
            "etag_recrawl_s_runs": [s for _, s in recrawls],
            "etag_recrawl_s": recrawl_s,
            "crawl_ratio": crawl_ratio,
            "targets": {
                "pages_per_s": TARGET_PAGES_PER_S,
                "chunks_per_s": TARGET_CHUNKS_PER_S,
                "ratio": TARGET_RECRAWL_RATIO,
            },
            "pass": {name: verdict(value, target) == "PASS" for name, _, target, value, _ in rows},
        }
        args.json.write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
