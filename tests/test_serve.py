"""``supportloop serve`` as a process: both platforms from settings, one failing alone, SIGTERM exits 0,
and of several worker processes exactly one runs the jobs."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fakes.discord_api import FakeDiscord
from fakes.slack_api import FakeSlack
from helpers import cli_env, run_cli

pytestmark = pytest.mark.slow  # needs the prepared index

QUESTION = "How do I get a refund on an annual plan?"


@contextmanager
def serving(env: dict[str, str], log: Path, *args: str) -> Iterator[None]:
    """``supportloop serve`` until it says it is serving; on leaving, SIGTERM, and it must exit 0."""
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "supportloop"), "serve", *args],
            env=cli_env({"SUPPORTLOOP_OPS_PORT": "0", **env}),
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: "Serving on" in log.read_text(), 90, "no 'Serving on' line", log)
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(30)
    output = log.read_text()
    assert code == 0, output
    assert "Stopping" in output and "Traceback" not in output


def health(log: Path) -> dict:
    """``/healthz`` of the process whose output is ``log`` (it prints where it serves it)."""
    url = re.search(r"Health and metrics: (http://\S+/healthz)", log.read_text())[1]
    return httpx.get(url, timeout=10).json()


def wait_for(predicate, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout} s; serve printed:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeDiscord]]:
    with FakeSlack() as slack, FakeDiscord() as discord_fake:
        discord_fake.add_user("2002", "asker")
        yield slack, discord_fake


def discord_env(fake: FakeDiscord) -> dict[str, str]:
    return {
        "SUPPORTLOOP_DISCORD_TOKEN": fake.token,
        "SUPPORTLOOP_DISCORD_API_URL": fake.api_url,
        "SUPPORTLOOP_DISCORD_GATEWAY_URL": fake.gateway_url,
    }


def slack_answer(fake: FakeSlack) -> str:
    """The bot's last answer as Slack got it: a placeholder updated in place or, when quick, a new
    message (an answer carries blocks; the placeholder does not)."""
    sent = fake.calls_to("chat.update") + [c for c in fake.calls_to("chat.postMessage") if c.get("blocks")]
    return str(sent[-1]) if sent else ""


def discord_answered(fake: FakeDiscord, thread_id: str) -> bool:
    return any(
        m["author"]["id"] == fake.bot_user_id and m["components"] for m in fake.channel_messages(thread_id)
    )


def test_serve_runs_slack_and_discord_and_stops_on_sigterm(fresh_dir, fakes, tmp_path):
    slack, discord_fake = fakes
    env = {
        "SUPPORTLOOP_SLACK_BOT_TOKEN": slack.bot_token,
        "SUPPORTLOOP_SLACK_APP_TOKEN": slack.app_token,
        "SUPPORTLOOP_SLACK_API_URL": slack.api_url,
        **discord_env(discord_fake),
    }
    log = tmp_path / "serve.log"
    with serving(env, log):
        assert "Slack (Socket Mode)" in log.read_text() and "Discord" in log.read_text()

        event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> " + QUESTION, "channel": "C1"}
        event |= {"ts": "1600000000.000001", "event_ts": "1600000000.000001"}
        slack.send_envelope("events_api", {"type": "event_callback", "event": event, "team_id": "T1"})
        wait_for(lambda: slack_answer(slack), 30, "no Slack answer", log)
        assert "refund" in slack_answer(slack).lower()

        asked = discord_fake.user_message("2002", QUESTION, mention_bot=True)
        wait_for(lambda: discord_answered(discord_fake, asked["id"]), 30, "no Discord answer", log)

        report = health(log)
        assert report["status"] == "ok" and report["role"] == "all"
        assert report["platforms"] == ["Slack (Socket Mode)", "Discord (as SupportLoop)"]
        assert report["scheduler"] == "running here"


def test_one_platform_failing_does_not_stop_the_other_and_a_bot_runs_no_jobs(fresh_dir, fakes, tmp_path):
    slack, discord_fake = fakes
    env = {
        "SUPPORTLOOP_SLACK_BOT_TOKEN": "xoxb-revoked",
        "SUPPORTLOOP_SLACK_APP_TOKEN": slack.app_token,
        "SUPPORTLOOP_SLACK_API_URL": slack.api_url,
        **discord_env(discord_fake),
    }
    log = tmp_path / "serve.log"
    with serving(env, log, "--role", "bot"):
        output = log.read_text()
        assert "Slack (Socket Mode) did not start: Slack rejected SUPPORTLOOP_SLACK_BOT_TOKEN" in output
        asked = discord_fake.user_message("2002", QUESTION, mention_bot=True)
        wait_for(lambda: discord_answered(discord_fake, asked["id"]), 30, "no Discord answer", log)
        report = health(log)
        assert (report["role"], report["status"]) == ("bot", "ok") and "scheduler" not in report
    assert (
        "holds the scheduler lease" not in (fresh_dir / "supportloop.log").read_text()
    )  # a bot runs no jobs


def start_worker(log: Path, database_url: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "supportloop"), "serve", "--role", "worker"],
        env=cli_env(
            {
                "SUPPORTLOOP_DATABASE_URL": database_url,
                "SUPPORTLOOP_LEASE_TTL_S": "2",
                "SUPPORTLOOP_OPS_PORT": "0",
            }
        ),
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    wait_for(lambda: "Running jobs" in log.read_text(), 60, "no 'Running jobs' line", log)
    return process


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # as deployed: one shared database
def test_of_two_workers_one_runs_the_jobs_and_the_other_takes_over_when_it_dies(
    fresh_dir, database_url, tmp_path
):
    from core.database import open_database
    from core.jobs import SUCCEEDED, JobQueue
    from core.lease import Lease

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(first_log, database_url)
    db = open_database(database_url)
    lease, jobs = Lease(db, "scheduler", ttl_s=2, holder="test"), JobQueue(db)

    def holder_pid() -> int | None:
        holder = lease.holder_now()
        return int(holder.split(":")[1]) if holder else None

    def finishes(kind: str) -> None:
        run = jobs.enqueue(kind)
        wait_for(lambda: jobs.get(run.id).status == SUCCEEDED, 30, f"{kind} did not succeed", first_log)

    second = start_worker(second_log, database_url)
    try:
        wait_for(lambda: holder_pid() == first.pid, 30, "the first worker never took the lease", first_log)
        time.sleep(2)  # the second worker has tried for the lease several times meanwhile
        assert holder_pid() == first.pid
        assert health(first_log)["scheduler"] == "running here"
        assert health(second_log)["scheduler"] == "standby (another worker runs it)"
        assert health(second_log)["status"] == "ok"  # a worker needs no chat platform
        finishes("collect")

        first.kill()  # no clean shutdown: the lease must expire before the second worker takes over
        first.wait(10)
        wait_for(lambda: holder_pid() == second.pid, 15, "the second worker never took over", second_log)
        finishes("collect")
        assert health(second_log)["scheduler"] == "running here"
        port = re.search(r"127.0.0.1:(\d+)/healthz", second_log.read_text())[1]
        checked = run_cli("health", env={"SUPPORTLOOP_OPS_PORT": port})  # the containers' health check
        assert checked.returncode == 0 and checked.stdout.strip() == "ok", checked
    finally:
        first.kill()
        second.send_signal(signal.SIGTERM)
        code = second.wait(30)
    assert code == 0, second_log.read_text()
    leaders = [
        int(line.split()[2])
        for line in (fresh_dir / "supportloop.log").read_text().splitlines()
        if "holds the scheduler lease" in line
    ]
    assert leaders == [first.pid, second.pid]
    assert lease.holder_now() is None  # the second worker handed the lease back when it stopped
    db.close()
