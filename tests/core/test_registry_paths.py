"""A data directory moved, or restored from a copy made without symlinks, still serves its versions."""

import json
import logging
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from core.database import open_database
from core.registry import ModelRegistry, link_current
from core.tables import ModelVersionRecord


def model_folder(path: Path, weights: bytes) -> Path:
    """A folder of the shape the registry accepts (config, weights, tokenizer); nothing here loads it."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (path / "model.safetensors").write_bytes(weights)
    (path / "tokenizer.json").write_text("{}")
    return path


def two_versions(data_dir: Path) -> ModelRegistry:
    """Versions 0 (recorded with an absolute path, as earlier releases did) and 1, which is current."""
    registry = ModelRegistry(open_database(f"sqlite:///{data_dir / 'db.sqlite'}"), data_dir / "models")
    base = model_folder(data_dir / "models" / "0", b"base weights")
    with registry.db.session() as session:
        session.add(ModelVersionRecord(id=0, path=str(base.resolve()), is_current=True, audit_status="base"))
        session.commit()
    registry.register(1, model_folder(data_dir / "models" / "1", b"tuned weights"), parent_id=0, metrics={})
    registry.activate(1)
    return registry


def reopen(data_dir: Path) -> ModelRegistry:
    return ModelRegistry(open_database(f"sqlite:///{data_dir / 'db.sqlite'}"), data_dir / "models")


def test_a_moved_data_directory_serves_and_rolls_back_its_versions(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    two_versions(old).db.close()
    shutil.move(old, new)
    registry = reopen(new)
    with registry.db.session() as session:
        recorded = session.scalars(select(ModelVersionRecord.path).order_by(ModelVersionRecord.id)).all()
    assert recorded == [str((old / "models" / "0").resolve()), "models/1"]
    assert registry.current().path == (new / "models" / "1").resolve()
    assert registry.activate(0).path == (new / "models" / "0").resolve()  # the old absolute row follows
    assert os.readlink(new / "models" / "current") == "0"
    registry.db.close()


def test_a_copy_made_without_links_is_repaired_and_rollback_works(tmp_path):
    original, restored = tmp_path / "original", tmp_path / "restored"
    two_versions(original).db.close()
    shutil.copytree(original, restored, symlinks=False)
    current = restored / "models" / "current"
    assert current.is_dir() and not current.is_symlink()  # a copy of version 1's folder
    registry = reopen(restored)
    assert registry.activate(0).path == (restored / "models" / "0").resolve()  # a rollback
    assert os.readlink(current) == "0"
    assert sorted(p.name for p in (restored / "models").iterdir()) == ["0", "1", "current"]  # no leftovers
    registry.db.close()


def test_a_current_folder_that_is_no_copy_is_kept_aside_and_the_link_restored(tmp_path, caplog):
    original, restored = tmp_path / "original", tmp_path / "restored"
    two_versions(original).db.close()
    shutil.copytree(original, restored, symlinks=False)
    (restored / "models" / "current" / "notes.txt").write_text("someone's work")
    registry = reopen(restored)
    with caplog.at_level(logging.WARNING, logger="core.registry"):
        assert registry.current().path == (restored / "models" / "1").resolve()
    assert os.readlink(restored / "models" / "current") == "1"
    [aside] = (restored / "models").glob("current.copied-*")
    assert (aside / "notes.txt").read_text() == "someone's work"
    assert f"moved it to {aside}" in caplog.text
    registry.db.close()


def test_a_link_that_cannot_replace_current_leaves_no_staging_link(tmp_path):
    models = tmp_path / "models"
    model_folder(models / "1", b"weights")
    (models / "current").mkdir()
    with pytest.raises(IsADirectoryError):
        link_current(models, 1)
    assert sorted(p.name for p in models.iterdir()) == ["1", "current"]
