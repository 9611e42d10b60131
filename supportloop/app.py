"""Wiring: one object that owns the database, the registry, the index and the chat model.

Heavy parts (the embedder, the chat model) load on first use, so ``status`` and ``--help`` stay fast.
"""

from __future__ import annotations

import logging
from functools import cached_property

from langchain_core.embeddings import Embeddings

from bots.conversation import ConversationService
from core.batching import BatchingGenerator
from core.database import Database, open_database
from core.embedder import load_embeddings
from core.llm import TransformersChatBackend
from core.records import Records
from core.registry import ModelRegistry, ModelVersion
from core.settings import Settings
from rag.answerer import Answerer
from rag.grounding import GroundingChecker
from rag.index import HelpIndex, chroma_client

log = logging.getLogger(__name__)


class SupportLoop:
    """The running application; use as a context manager so the batching worker and database close."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db: Database = open_database(settings.resolved_database_url)
        self.registry = ModelRegistry(self.db, settings.models_dir, settings.model_path)
        self.records = Records(self.db)

    def __enter__(self) -> SupportLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @cached_property
    def embeddings(self) -> Embeddings:
        return load_embeddings(self.settings.embed_batch_size)

    @cached_property
    def index(self) -> HelpIndex:
        s = self.settings
        client = chroma_client(s.chroma_dir, s.chroma_url)
        return HelpIndex(client, s.collection_name, self.embeddings, s.embed_batch_size)

    @cached_property
    def model_version(self) -> ModelVersion:
        return self.registry.current()

    @cached_property
    def generator(self) -> BatchingGenerator:
        s = self.settings
        backend = TransformersChatBackend(self.model_version, s.llm_dtype, s.torch_threads)
        return BatchingGenerator(backend, s.max_batch_size, s.batch_wait_ms)

    @cached_property
    def answerer(self) -> Answerer:
        s = self.settings
        return Answerer(
            self.index,
            lambda conversation, max_new_tokens: self.generator.chat(conversation, max_new_tokens),
            GroundingChecker(self.embeddings),
            top_k=s.top_k,
            min_relevance=s.min_relevance,
            max_citations=s.max_citations,
            max_new_tokens=s.max_new_tokens,
            retrieval=s.retrieval,
            mode=s.answer_mode,
            secrets=[s.user_hash_key.get_secret_value()],
        )

    @cached_property
    def conversations(self) -> ConversationService:
        return ConversationService(
            self.answerer,
            self.records,
            lambda: self.model_version.id,
            self.settings.user_hash_key.get_secret_value(),
        )

    def close(self) -> None:
        if "generator" in self.__dict__:
            self.generator.close()
        self.db.close()
