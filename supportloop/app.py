"""Wiring: one object that owns the database, the registry, the index and the chat model.

Heavy parts (the embedder, the chat model) load on first use, so ``status`` and ``--help`` stay fast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bots.conversation import ConversationService
from bots.rate_limit import RateLimit
from core.database import Database, open_database
from core.errors import ModelError
from core.jobs import JobQueue, JobWorker
from core.records import Records
from core.registry import ModelRegistry, ModelVersion
from core.run_watcher import RunWatcher
from core.settings import Settings
from rag.answerer import Answerer, assemble
from supportloop.job_kinds import audit_job, fast_path_job, reindex_job, retrain_job, score_answers
from supportloop.operations import AdminService

if TYPE_CHECKING:  # torch, Chroma and the embedder load with the part that needs them, not on import
    from audit.scoring import RewardScorer
    from core.batching import BatchingGenerator
    from core.embedder import LazyEmbeddings
    from core.llm import Conversation
    from rag.harm import Reading
    from rag.index import HelpIndex
    from supportloop.leader import Leader

log = logging.getLogger(__name__)
MODEL_CHECK_S = 5.0  # how often a running bot looks for a model switched by another process


class SupportLoop:
    """The running application; use as a context manager so the batching worker and database close."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.platforms: list[str] = []  # chat platforms being served, for status
        # Set by `serve`: whether this process may run jobs (not a bot replica), and whether it does now.
        self.runs_jobs = True
        self.leader: Leader | None = None
        self._model_checked = time.monotonic()
        self._reward_models: dict[int, RewardScorer | None] = {}  # by model version, loaded on first use
        self._reward_lock = threading.Lock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db: Database = open_database(settings.resolved_database_url)
        self.registry = ModelRegistry(self.db, settings.models_dir, settings.model_path)
        self.records = Records(self.db)
        self.harm_reading, self.harm_reader_state = self._harm_reading()

    def _harm_reading(self) -> tuple[Reading | None, str]:
        """The model server's reader for the harm check where it is calibrated for the server's model
        (``rag.harm_reader``), set for the audit's judgements too, and a line saying so for ``status``.
        A calibration for another model is not used: answers go on with the packaged weights."""
        if not self.settings.llm_url:
            return None, "off (no model server)"
        from rag.harm import use_reader
        from rag.harm_reader import configured_reading

        try:
            reading = configured_reading(self.settings)
        except ModelError as exc:
            log.warning("%s Until then harmful requests are judged without the model server.", exc)
            return None, f"off: {exc}"
        if reading is None:
            return None, "off (not calibrated: `supportloop harm calibrate`)"
        use_reader(reading)
        return reading, f"on ({self.settings.llm_model})"

    def __enter__(self) -> SupportLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @cached_property
    def embeddings(self) -> LazyEmbeddings:
        from core.embedder import LazyEmbeddings

        return LazyEmbeddings(self.settings.embed_batch_size)

    @cached_property
    def index(self) -> HelpIndex:
        from rag.index import HelpIndex, chroma_client

        s = self.settings
        client = chroma_client(s.chroma_dir, s.chroma_url)
        return HelpIndex(client, s.collection_name, self.embeddings, s.embed_batch_size)

    @cached_property
    def model_version(self) -> ModelVersion:
        return self.registry.current()

    def served_model(self) -> ModelVersion:
        """The version to serve, noticing within seconds a rollback or promotion made by another process."""
        now = time.monotonic()
        if now - self._model_checked >= MODEL_CHECK_S and self.settings.model_path is None:
            self._model_checked = now
            if "model_version" in self.__dict__ and self.registry.current_id() != self.model_version.id:
                self.use_model(self.registry.current())
        return self.model_version

    @cached_property
    def generator(self) -> BatchingGenerator:
        from core.batching import BatchingGenerator
        from core.llm import ChatBackend, TransformersChatBackend
        from core.openai_compat import OpenAICompatibleBackend

        s = self.settings
        backend: ChatBackend
        if s.llm_url:
            key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
            backend = OpenAICompatibleBackend(
                s.llm_url,
                s.llm_model,
                key,
                temperature=s.temperature,
                timeout_s=s.llm_timeout_s,
                stream=s.llm_stream,
                max_parallel=s.max_batch_size,
            )
        else:
            backend = TransformersChatBackend(self.model_version, s.llm_dtype, s.torch_threads, s.temperature)
        return BatchingGenerator(backend, s.max_batch_size, s.batch_wait_ms)

    @cached_property
    def answerer(self) -> Answerer:
        from rag.harm import HarmClassifier

        s = self.settings
        return assemble(
            self.index,
            self.embeddings,
            lambda conversation, max_new_tokens: self._generate(conversation, max_new_tokens),
            rerank_candidates=s.rerank_candidates,
            retrieval=s.retrieval,
            answerability_threshold=s.answerability_threshold,
            top_k=s.top_k,
            max_citations=s.max_citations,
            max_new_tokens=s.max_new_tokens,
            mode=s.answer_mode,
            secrets=[s.user_hash_key.get_secret_value()],
            prefer=self._prefer,
            explore=s.explore_share,
            harm=HarmClassifier(self.embeddings, reading=self.harm_reading),
        )

    def _prefer(self, question: str, answers: Sequence[str]) -> Sequence[float] | None:
        """The served version's reward model's P(👍) for each answer; None for a version without one
        (the base version), so a rollback to it serves the heuristic's answers again."""
        reward_model = self.reward_model(self.served_model().id)
        return None if reward_model is None else reward_model.probability([question] * len(answers), answers)

    def reward_model(self, version_id: int) -> RewardScorer | None:
        """The reward model trained with ``version_id`` (``<data_dir>/reward_models/<id>``), loaded once;
        None when it has none, or when its folder is damaged (logged once: answers go on without it)."""
        with self._reward_lock:
            if version_id not in self._reward_models:
                folder = self.settings.data_dir / "reward_models" / str(version_id)
                # Only a version with a reward model pays for importing torch (~1.5 s of `ask`).
                self._reward_models[version_id] = self._load_reward_model(folder) if folder.is_dir() else None
            return self._reward_models[version_id]

    @staticmethod
    def _load_reward_model(folder: Path) -> RewardScorer | None:
        from core.errors import ModelError
        from training.reward_model import METADATA, load_reward_model

        if (folder / METADATA).exists():
            try:
                return load_reward_model(folder)
            except ModelError as exc:
                log.warning("%s Answers are chosen without it.", exc)
        return None

    @cached_property
    def jobs(self) -> JobQueue:
        return JobQueue(self.db, self.settings.job_stale_s)

    @cached_property
    def run_watcher(self) -> RunWatcher:
        """Reports on jobs that a worker in another process runs (for a bot replica's admins)."""
        return RunWatcher(self.jobs)

    def jobs_run_here(self) -> bool:
        """Whether this process's worker runs the deployment's jobs now (else a worker elsewhere does)."""
        return self.runs_jobs and (self.leader is None or self.leader.leading)

    @cached_property
    def worker(self) -> JobWorker:
        """Runs queued jobs; started by ``serve`` (and by tests), not by one-shot commands."""
        from supportloop.scheduler import FAST_PATH, collect_job

        jobs = {
            "reindex": reindex_job(self),
            "collect": collect_job(self.db, self.settings, lambda: score_answers(self)),
            "retrain": retrain_job(self),
            FAST_PATH: fast_path_job(self),
            "audit": audit_job(self),
        }
        return JobWorker(self.jobs, jobs)

    @cached_property
    def admin(self) -> AdminService:
        """What the CLI, ``/supportloop`` and the web console all go through."""
        return AdminService(self)

    @cached_property
    def conversations(self) -> ConversationService:
        s = self.settings
        return ConversationService(
            self.answerer,
            self.records,
            lambda: self.served_model().id,
            s.user_hash_key.get_secret_value(),
            admin=self.admin,
            rate_limit=RateLimit(s.user_rate_limit),
            expecting=(lambda: self.generator.expecting()) if s.answer_mode == "generate" else nullcontext,
            workers=max(16, 2 * s.max_batch_size),
            escalate_on=[
                platform
                for platform, target in (("slack", s.slack_escalate), ("discord", s.discord_escalate_role))
                if target
            ],
        )

    def _generate(self, conversation: Conversation, max_new_tokens: int) -> str:
        self.served_model()
        return self.generator.chat(conversation, max_new_tokens)

    def use_model(self, version: ModelVersion) -> None:
        """Serve ``version`` from the next answer on (after a rollback or promotion)."""
        old = self.__dict__.pop("generator", None)
        self.__dict__["model_version"] = version
        if old is not None:
            old.close()  # answers it is generating finish first
        log.info("now serving %s", version.label)

    def close(self) -> None:
        if "worker" in self.__dict__:
            self.worker.stop()
        if "run_watcher" in self.__dict__:
            self.run_watcher.close()
        if "conversations" in self.__dict__:
            self.conversations.close()
        if "generator" in self.__dict__:
            self.generator.close()
        if self.harm_reading:
            from rag.harm import use_reader

            use_reader(None)
            self.harm_reading[0].backend.close()
        self.db.close()
