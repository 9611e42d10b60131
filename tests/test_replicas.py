"""Bot replicas, as deployed: separate processes sharing one PostgreSQL database and one Chroma server.
Here two app instances stand in for two replicas; whatever one stores, the other sees."""

import time

import pytest

from bots.replies import IncomingMessage, Origin
from core.lease import SCHEDULER_LEASE, Lease
from core.settings import Settings
from rag.ingest import ingest_site
from supportloop.app import SupportLoop

pytestmark = pytest.mark.slow  # embeds the demo site

QUESTION = "How do I get a refund on an annual plan?"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_replicas_share_the_index_answers_votes_and_handled_events(
    tmp_path, database_url, chroma_url, site_url, model_dir
):
    def replica(name: str) -> SupportLoop:
        settings = Settings(
            data_dir=tmp_path / name,
            database_url=database_url,
            chroma_url=chroma_url,
            collection_name="replicas",
            model_path=model_dir,
            crawl_rate_per_host=1000,
        )
        return SupportLoop(settings)

    with replica("a") as first, replica("b") as second:
        ingest_site([site_url + "/"], first.index, first.settings)  # the worker's re-crawl, say
        assert second.index.collection.count() == first.index.collection.count() > 0

        # Slack delivers a mention to one replica, and its retry to the other: answered once.
        mention = IncomingMessage(
            Origin("slack", "U1", "C1", "1700.1"), "1700.1", QUESTION, mentions_bot=True
        )
        assert first.conversations.question_in(mention) == QUESTION
        assert second.conversations.question_in(mention) is None

        reply = first.conversations.ask(QUESTION, mention.origin)
        assert reply.kind == "answer" and reply.sources[0].url.endswith("/billing/refunds.html")
        first.conversations.posted(reply, "slack", "C1", "1700.2")
        # A 👍 on that answer reaches the other replica, which finds the answer and stores the vote.
        assert second.conversations.react(Origin("slack", "U2"), "C1", "1700.2", "+1", added=True) is None
        assert first.records.counts().upvotes == 1
        # The other replica answers the same question from the same index.
        again = second.conversations.ask(QUESTION, Origin("slack", "U3", "C2"))
        assert again.text == reply.text and again.sources == reply.sources
        assert first.records.counts().answers == second.records.counts().answers == 2

        # An admin asks the first replica (a bot) for a job; the second one (the worker) runs it, and the
        # first reports its progress from the database.
        first.runs_jobs = False
        heard: list[str] = []
        waiting = first.admin.start_job("collect", "U1", heard.append)
        assert not waiting.will_run  # no worker holds the scheduler lease yet
        assert Lease(second.db, SCHEDULER_LEASE, ttl_s=30, holder="worker").acquire()
        ticket = first.admin.start_job("collect", "U1", heard.append)
        assert ticket.will_run
        assert second.worker.run_pending() == 2
        deadline = time.monotonic() + 15
        while len(heard) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert heard[0] == f"Job #{waiting.run.id} (collect) started."
        assert heard[-1].startswith(f"Job #{ticket.run.id} (collect) finished: ")
