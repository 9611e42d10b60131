"""The README documents every setting, and CI runs exactly the README's test command."""

from pathlib import Path

from core.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_setting_with_its_default():
    for name, field in Settings.model_fields.items():
        rows = (line for line in README.splitlines() if line.startswith("| "))  # the settings table
        row = next((line for line in rows if f"`{ENV_PREFIX}{name.upper()}`" in line), None)
        assert row is not None, f"{ENV_PREFIX}{name.upper()} is missing from the README"
        if field.default is not None and "key" not in name:
            assert f"`{field.default}`" in row, f"{name}: README default differs from {field.default!r}"


def test_ci_runs_the_readme_test_command():
    assert "make test" in README
    lines = [line.strip() for line in (ROOT / ".ci/run").read_text().splitlines()]
    assert "make test" in lines
