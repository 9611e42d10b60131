"""The harm check's use of the model server: ``harm calibrate``."""

from __future__ import annotations

import json

import typer

from core.errors import SupportLoopError
from core.settings import load_settings
from supportloop.commands.common import fmt, folding_table, out, write_atomically

app = typer.Typer(
    name="harm", help="Let the model server read requests for the harm check.", no_args_is_help=True
)


@app.command()
def calibrate():
    """Fit the harm check's weights for the model server's reading, so it reads each request from then on.

    The harmful-request classifier's training rows (~740 requests, all but the prompt's examples) are read
    by the model at SUPPORTLOOP_LLM_URL (SUPPORTLOOP_LLM_MODEL), which must return `top_logprobs` (vLLM
    does). That takes about 5 minutes on a 2-core CPU server and seconds on a GPU one. The classifier is then
    refitted with the reading as one more feature, and both fits are cross-validated on the same folds at
    the same false-refusal limits.

    The calibration is saved to <data_dir>/harm_reader.json only where the reading raised held-out
    recall; otherwise nothing is written. Bots and jobs use it from their next start, while the server
    answers; when it fails, a request is judged without it. Run it again after changing the model.
    """
    from core.progress import progress
    from rag.harm_reader import calibration_path, reader_for
    from training.harm_classifier import calibrate as fit_with_reader
    from training.harm_classifier import calibration_rows

    settings = load_settings()
    reader = reader_for(settings, timeout_s=settings.llm_timeout_s, retries=2)  # no one is waiting
    try:
        with progress(
            f"Reading requests with {settings.llm_model}", total=int(calibration_rows().sum())
        ) as bar:
            fitted = fit_with_reader(reader, bar.advance)
    finally:
        reader.backend.close()
    with_reader, without = fitted["cross_validated"], fitted["without_reader"]
    table = folding_table("held out (10 folds)", "without the reader", "with it")
    for key in with_reader:
        table.add_row(key.replace("_", " "), fmt(without[key]), fmt(with_reader[key]))
    out.print(table)
    if with_reader["recall"] <= without["recall"]:
        raise SupportLoopError(
            f"{settings.llm_model}'s reading did not raise held-out recall ({fmt(without['recall'])} without "
            f"it, {fmt(with_reader['recall'])} with it): nothing saved, the harm check goes on without it."
        )
    path = calibration_path(settings)
    write_atomically(path, json.dumps(fitted, indent=1) + "\n")
    out.print(f"Saved {path}: bots and jobs read requests with {settings.llm_model} from their next start.")
