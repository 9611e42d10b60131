"""One settings object for the whole product.

Every field can be set by an environment variable named ``SUPPORTLOOP_<FIELD>`` (or a line in ``.env``).
Secrets are ``SecretStr`` so they never show up in logs or reprs. The README's configuration table is
generated from the ``description`` of each field (``supportloop settings``), so document a field here once
(or, for how SupportLoop learns from votes, in ``core.learning_settings``, which ``Settings`` inherits).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, get_origin

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from core.errors import ConfigError
from core.learning_settings import LearningSettings
from core.masking import mask

ENV_PREFIX = "SUPPORTLOOP_"


class Settings(LearningSettings):
    """All of SupportLoop's configuration (the learning settings come from ``LearningSettings``)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(
        Path("data"),
        description="Directory holding the database, the Chroma index, model versions and reports.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database; default: SQLite at <data_dir>/db.sqlite.",
    )
    model_path: Path | None = Field(
        None,
        description="Serve this Hugging Face model folder instead of the registry's current version.",
    )
    llm_dtype: Literal["auto", "bfloat16", "float32"] = Field(
        "auto",
        description="Precision of the local chat model; auto picks bfloat16 where the CPU/GPU has it.",
    )
    max_new_tokens: int = Field(64, ge=1, le=2048, description="Longest generated answer, in tokens.")
    temperature: float = Field(
        0.0,
        ge=0.0,
        le=2.0,
        description="Sampling temperature of the chat model; 0 answers greedily (the same question gets "
        "the same answer). `supportloop simulate` samples so its users see varied answers.",
    )
    answer_mode: Literal["generate", "extractive"] = Field(
        "extractive",
        description="generate: the chat model (the model server's, with SUPPORTLOOP_LLM_URL) answers, "
        "checked for grounding (extractive if it fails); extractive: always quote the best passage "
        "sentences, without the chat model. Extractive is the default with a model server too: it "
        "recalled more facts than every model that runs here (bench/answer_modes.py measures yours).",
    )
    llm_url: str | None = Field(
        None,
        pattern=r"^https?://\S+$",
        description="Base URL of an OpenAI-compatible model server (vLLM, TGI, Ollama), e.g. "
        "http://127.0.0.1:8000/v1; default: the local model answers. Once `supportloop harm calibrate` "
        "has run against it, its model also reads each request for the harm check.",
    )
    llm_model: str = Field(
        "supportloop",
        min_length=1,
        description="Model name sent to the model server (vLLM: --served-model-name).",
    )
    llm_api_key: SecretStr | None = Field(None, description="API key of the model server, if it wants one.")
    llm_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="Longest wait for the model server's next reply chunk, in seconds."
    )
    llm_stream: bool = Field(
        True, description="Stream replies from the model server (a stalled server is noticed sooner)."
    )
    max_batch_size: int = Field(
        8, ge=1, le=256, description="Most concurrent questions generated together in one batch."
    )
    batch_wait_ms: int = Field(
        15, ge=0, le=5000, description="How long a request waits for others to join its batch."
    )
    torch_threads: int | None = Field(
        None, ge=1, le=512, description="CPU threads for the chat model; default: PyTorch's choice."
    )
    collection_name: str = Field(
        "helpcenter",
        min_length=3,
        max_length=63,
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]+[a-zA-Z0-9]$",
        description="Name of the Chroma collection holding the help-center chunks.",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Chunks embedded per batch.")
    chunk_size: int = Field(
        500,
        ge=100,
        le=8000,
        description="Largest chunk, in characters (numbered steps may fill twice this before being split).",
    )
    chunk_overlap: int = Field(80, ge=0, le=2000, description="Characters shared by neighbouring chunks.")
    top_k: int = Field(4, ge=1, le=20, description="Passages retrieved for each question.")
    retrieval: Literal["hybrid", "dense", "bm25"] = Field(
        "hybrid", description="How passages are found: MiniLM vectors and BM25 fused (hybrid), or one alone."
    )
    rerank_candidates: int = Field(
        16,
        ge=1,
        le=100,
        description="Hybrid-search candidates the cross-encoder reads again per question (more: slower).",
    )
    answerability_threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Probability that the pages answer a question below which it is declined; "
        "default: the threshold calibrated on the dev questions.",
    )
    max_citations: int = Field(3, ge=1, le=10, description="Most source pages cited under an answer.")
    crawl_max_pages: int = Field(500, ge=1, le=100_000, description="Most pages one crawl fetches.")
    crawl_max_depth: int = Field(10, ge=0, le=100, description="Most links followed away from a seed page.")
    crawl_concurrency: int = Field(4, ge=1, le=64, description="Pages fetched at the same time.")
    crawl_rate_per_host: float = Field(
        5.0,
        gt=0,
        le=1000,
        description="Most requests per second to one host (robots.txt Crawl-delay can lower it).",
    )
    crawl_retries: int = Field(
        2, ge=0, le=10, description="Retries, with backoff, after a 5xx, 429 or timeout."
    )
    crawl_max_redirects: int = Field(5, ge=0, le=20, description="Most redirects followed for one page.")
    crawl_timeout_s: float = Field(10.0, gt=0, le=300, description="Timeout of one page fetch, in seconds.")
    crawl_max_page_bytes: int = Field(5_000_000, ge=1000, description="Pages larger than this are skipped.")
    crawl_hosts: Annotated[list[str], NoDecode] = Field(
        [], description="Comma-separated extra hosts to crawl besides those of the start URLs and sitemaps."
    )
    crawl_path_prefixes: Annotated[list[str], NoDecode] = Field(
        [], description="Comma-separated URL path prefixes to stay under (e.g. /docs/,/help/); default: all."
    )
    crawl_use_sitemaps: bool = Field(
        True, description="Also crawl the pages listed in the sitemaps that robots.txt declares."
    )
    chroma_url: str | None = Field(
        None,
        pattern=r"^https?://[^/\s]+/?$",
        description="Chroma server URL, e.g. http://127.0.0.1:8000; default: embedded, in <data_dir>/chroma.",
    )
    user_agent: str = Field("SupportLoopBot/0.1", min_length=1, description="User agent of the crawler.")
    user_hash_key: SecretStr = Field(
        SecretStr("supportloop"),
        description="Secret key for hashing user ids before they are stored; set your own in production.",
    )
    user_rate_limit: int = Field(
        20, ge=0, le=10_000, description="Most questions one chat user may ask per minute (0: no limit)."
    )
    slack_bot_token: SecretStr | None = Field(
        None, description="Slack bot token (xoxb-…); with it, `supportloop serve` runs the Slack bot."
    )
    slack_app_token: SecretStr | None = Field(
        None,
        description="Slack app-level token (xapp-…) for Socket Mode; without it Slack sends HTTP events.",
    )
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack signing secret; HTTP mode checks every request's signature with it."
    )
    slack_host: str = Field(
        "127.0.0.1", min_length=1, description="Address the Slack HTTP endpoint (/slack/events) listens on."
    )
    slack_port: int = Field(
        3000, ge=0, le=65535, description="Port of the Slack HTTP endpoint (0: any free)."
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        pattern=r"^https?://\S+/$",
        description="Slack Web API base URL, ending in / (GovSlack: https://slack-gov.com/api/).",
    )
    slack_admins: Annotated[list[str], NoDecode] = Field(
        [], description="Comma-separated Slack user ids allowed admin commands, besides workspace admins."
    )
    discord_token: SecretStr | None = Field(
        None, description="Discord bot token; with it, `supportloop serve` runs the Discord bot."
    )
    discord_api_url: str = Field(
        "https://discord.com/api/v10",
        pattern=r"^https?://\S+[^/]$",
        description="Discord REST API base URL (a Discord-compatible server such as Spacebar: its own).",
    )
    discord_gateway_url: str = Field(
        "wss://gateway.discord.gg/",
        pattern=r"^wss?://\S+$",
        description="Discord gateway websocket URL (a Discord-compatible server: its own).",
    )
    discord_admin_role: str | None = Field(
        None, description="Name or id of a Discord role allowed admin commands, besides administrators."
    )
    slack_escalate: str | None = Field(
        None,
        pattern=r"^(?:<!subteam\^S[A-Z0-9]{2,}(?:\|[^>]*)?>|S[A-Z0-9]{2,}|[CG][A-Z0-9]{2,})$",
        description='Who "Ask a person" calls on Slack: a user group (<!subteam^S123…> or its id '
        "S123…), mentioned in the user's thread, or a channel id (C…), where the request is posted; "
        "unset: declines and 👎 offer no person.",
    )
    discord_escalate_role: str | None = Field(
        None,
        pattern=r"^[0-9]{1,20}$",
        description='Id (digits) of the Discord role that "Ask a person" mentions in the user\'s thread '
        "(Server Settings → Roles → Copy Role ID); unset: declines and 👎 offer no person.",
    )
    hub_repo: str | None = Field(
        None,
        pattern=r"^[\w.-]+/[\w.-]+$",
        description="Hugging Face Hub repository (owner/name) each promoted version is pushed to; "
        "needs SUPPORTLOOP_HUB_TOKEN.",
    )
    hub_token: SecretStr | None = Field(
        None, description="Hugging Face access token with write access to SUPPORTLOOP_HUB_REPO."
    )
    ops_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address `supportloop serve` answers /healthz and /metrics on (0.0.0.0 in containers).",
    )
    ops_port: int = Field(8081, ge=0, le=65535, description="Port of /healthz and /metrics (0: any free).")
    admin_token: SecretStr | None = Field(
        None,
        description="Token that logs in to the web console; the console is off while it is unset.",
    )
    console_host: str = Field(
        "127.0.0.1", min_length=1, description="Address the web console listens on (0.0.0.0 in containers)."
    )
    console_port: int = Field(8088, ge=0, le=65535, description="Port of the web console (0: any free).")
    lease_ttl_s: float = Field(
        30.0,
        ge=1,
        le=3600,
        description="Seconds after a worker process dies before another one takes over the scheduler "
        "and jobs.",
    )
    job_stale_s: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="Seconds without a heartbeat after which a running job's process is taken for dead "
        "and the job marked failed (heartbeats come six times as often).",
    )
    collect_minutes: int = Field(
        15, ge=1, le=1440, description="How often the scheduler counts new votes (minutes)."
    )
    retrain_min_new_votes: int = Field(
        50, ge=1, description="New votes since the last retrain after which a retrain is queued."
    )
    fast_path_min_new_votes: int = Field(
        20,
        ge=0,
        description="New votes after which the reward model alone is retrained and, through the gate, "
        "chooses the served answers within minutes (0: off).",
    )
    explore_share: float = Field(
        0.15,
        ge=0.0,
        le=0.5,
        description="Share of chat answers served as one of the composer's other alternatives, the one "
        "explored least so far (mode explored), so votes teach the reward model which answers users "
        "prefer; command-line answers never are (0: off).",
    )
    retrain_cron: str = Field(
        "30 2 * * *", description="When the nightly retrain runs (crontab syntax, UTC)."
    )
    audit_cron: str = Field("0 4 * * 0", description="When the current version is re-audited (crontab, UTC).")
    reindex_cron: str = Field("0 3 * * *", description="When the help pages are re-crawled (crontab, UTC).")
    demo_port: int = Field(
        8765, ge=0, le=65535, description="Port of the bundled demo help site on 127.0.0.1 (0: any free)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Level of the log file <data_dir>/supportloop.log."
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="text: readable lines in the log file, warnings on stderr; json: one JSON object per "
        "line, in the file and on stderr at the log level (for container log collectors).",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _lists(cls, value: object, info: ValidationInfo) -> object:
        """Every list setting is read the same way: comma-separated, or a JSON list (see ``parse_list``)."""
        field = cls.model_fields[info.field_name or ""]
        if isinstance(value, str) and get_origin(field.annotation) is list:
            return parse_list(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """Refuse a URL SQLAlchemy cannot use now, rather than when the database is first opened."""
        if value is None:
            return value
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            make_url(value).get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise ValueError(
                f"not a database URL SQLAlchemy can use ({exc}); "
                "e.g. postgresql+psycopg://user:password@host/db or sqlite:////path/db.sqlite"
            ) from exc
        return value

    @field_validator("retrain_cron", "audit_cron", "reindex_cron")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"not a crontab schedule (minute hour day month weekday): {exc}") from exc
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one, or SQLite inside the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'db.sqlite').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "supportloop.log"


def is_secret(name: str) -> bool:
    """Settings whose values are never printed: keys, tokens, secrets."""
    return name.endswith(("key", "token", "secret"))


def secret_values(settings: Settings) -> list[str]:
    """The secret settings' values, for ``mask`` to hide wherever they turn up (a public default is no
    secret: the default hash key is the word "supportloop")."""
    values = (
        getattr(settings, name)
        for name, field in Settings.model_fields.items()
        if is_secret(name) and getattr(settings, name) != field.default
    )
    return [value.get_secret_value() for value in values if isinstance(value, SecretStr)]


def parse_list(text: str) -> list[str]:
    """A list setting's value: ``a, b`` or the JSON list ``["a", "b"]``.

    Brackets or quotes anywhere else mean a list that went wrong (``["x"`` is not the id ``["x"``), so
    they are refused rather than taken literally.
    """
    problem = 'not a list: write comma-separated values (a,b) or a JSON list (["a", "b"])'
    if text.strip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(problem) from None
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ValueError(problem)
        return [item.strip() for item in items if item.strip()]
    items = [part.strip() for part in text.split(",") if part.strip()]
    if any(char in item for item in items for char in "[]\"'"):
        raise ValueError(problem)
    return items


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into a one-line ``ConfigError``."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        raise ConfigError(f"Invalid setting: {exc}") from exc


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        value = err.get("input")
        shown = "" if isinstance(value, dict) or is_secret(field) else f"={mask(repr(value))}"
        name = field.upper() if field.upper().startswith(ENV_PREFIX) else ENV_PREFIX + field.upper()
        problems.append(f"{name}{shown}: {err['msg']}")
    return "Invalid setting " + "; ".join(problems)
