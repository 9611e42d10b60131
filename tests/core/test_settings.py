from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import load_settings


def test_defaults_put_everything_in_one_data_directory():
    settings = load_settings()
    assert settings.data_dir == Path("data")
    assert settings.resolved_database_url == f"sqlite:///{Path('data/db.sqlite').resolve()}"
    assert settings.chroma_dir == Path("data/chroma")
    assert settings.models_dir == Path("data/models")


def test_environment_variables_override_defaults(monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", "/srv/supportloop")
    monkeypatch.setenv("SUPPORTLOOP_TOP_K", "7")
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", "postgresql://u:p@127.0.0.1/db")
    settings = load_settings()
    assert settings.data_dir == Path("/srv/supportloop")
    assert settings.top_k == 7
    assert settings.resolved_database_url == "postgresql://u:p@127.0.0.1/db"


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("SUPPORTLOOP_MAX_NEW_TOKENS=42\n")
    assert load_settings().max_new_tokens == 42


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SUPPORTLOOP_TOP_K", "many", "SUPPORTLOOP_TOP_K='many'"),
        ("SUPPORTLOOP_TOP_K", "0", "greater than or equal to 1"),
        ("SUPPORTLOOP_LLM_DTYPE", "int3", "'auto', 'bfloat16' or 'float32'"),
        ("SUPPORTLOOP_ANSWERABILITY_THRESHOLD", "1.5", "SUPPORTLOOP_ANSWERABILITY_THRESHOLD"),
        ("SUPPORTLOOP_COLLECTION_NAME", "x", "at least 3 characters"),
        ("SUPPORTLOOP_SLACK_ESCALATE", "@support-team", "SUPPORTLOOP_SLACK_ESCALATE='@support-team'"),
        ("SUPPORTLOOP_SLACK_ESCALATE", "U123ABC", "should match pattern"),  # a user is no group
        ("SUPPORTLOOP_DISCORD_ESCALATE_ROLE", "support", "SUPPORTLOOP_DISCORD_ESCALATE_ROLE='support'"),
        ("SUPPORTLOOP_DISCORD_ESCALATE_ROLE", "<@&123>", "should match pattern"),
        ("SUPPORTLOOP_POLICY_ALGORITHM", "dpo", "'dpo': Input should be 'auto', 'ppo', 'kto' or 'sft'"),
        ("SUPPORTLOOP_KTO_BATCH_SIZE", "1", "KTO_BATCH_SIZE='1': Input should be greater than or equal to 2"),
        ("SUPPORTLOOP_KTO_BETA", "0", "SUPPORTLOOP_KTO_BETA='0': Input should be greater than 0"),
        ("SUPPORTLOOP_KTO_LEARNING_RATE", "fast", "SUPPORTLOOP_KTO_LEARNING_RATE='fast'"),
    ],
)
def test_invalid_value_is_one_clear_line_naming_the_variable(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("Invalid setting ")
    assert expected in message
    assert "\n" not in message


def test_the_sft_algorithm_needs_warm_start_epochs(monkeypatch):
    """With sft the warm start is all the tuning there is: refused when the settings are read, not after
    the reward model and its audit."""
    monkeypatch.setenv("SUPPORTLOOP_POLICY_ALGORITHM", "sft")
    monkeypatch.setenv("SUPPORTLOOP_SFT_EPOCHS", "0")
    with pytest.raises(ConfigError, match=r"SUPPORTLOOP_SFT_EPOCHS='0': .*POLICY_ALGORITHM=sft .*at least 1"):
        load_settings()
    monkeypatch.delenv("SUPPORTLOOP_POLICY_ALGORITHM")  # auto, the default: sft on a CPU
    with pytest.raises(ConfigError, match=r"POLICY_ALGORITHM=auto tunes by the warm start alone on a CPU"):
        load_settings()
    monkeypatch.setenv("SUPPORTLOOP_POLICY_ALGORITHM", "kto")  # KTO can start from the current version
    assert load_settings().sft_epochs == 0


@pytest.mark.parametrize(
    "value", ["<!subteam^S0123ABC>", "<!subteam^S0123ABC|@support>", "S0123ABC", "C0123ABC"]
)
def test_a_slack_user_group_or_channel_is_who_a_person_is_asked_from(monkeypatch, value):
    monkeypatch.setenv("SUPPORTLOOP_SLACK_ESCALATE", value)
    monkeypatch.setenv("SUPPORTLOOP_DISCORD_ESCALATE_ROLE", "1234567890123456789")
    settings = load_settings()
    assert (settings.slack_escalate, settings.discord_escalate_role) == (value, "1234567890123456789")


def test_typo_in_dotenv_is_reported(tmp_path):
    (tmp_path / ".env").write_text("SUPPORTLOOP_TOPK=3\n")
    with pytest.raises(ConfigError, match="SUPPORTLOOP_TOPK"):
        load_settings()


def test_secret_values_are_never_shown(monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_USER_HASH_KEY", "hunter2-very-secret")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert settings.user_hash_key.get_secret_value() == "hunter2-very-secret"
