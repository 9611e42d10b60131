"""Promoted versions go to the Hugging Face Hub as one commit of their folder; failures say why.

The Hub is unreachable here, so ``HfApi`` is replaced by a recorder (the only stand-in in these tests).
"""

from typing import ClassVar

import huggingface_hub
import pytest

from core.errors import SupportLoopError
from core.registry import ModelVersion
from training.hub import push_version


class RecordingHub:
    calls: ClassVar[list[tuple[str, ...]]] = []
    fail: ClassVar[bool] = False

    def __init__(self, token: str) -> None:
        self.token = token

    def create_repo(self, repo: str, private: bool, exist_ok: bool) -> None:
        self.calls.append(("create", repo, self.token, str(private), str(exist_ok)))

    def upload_folder(self, repo_id: str, folder_path: object, commit_message: str) -> str:
        if self.fail:
            raise OSError("401 Client Error: Unauthorized")
        self.calls.append(("upload", repo_id, str(folder_path), commit_message))
        return f"https://huggingface.co/{repo_id}/commit/abc123"


@pytest.fixture
def hub(monkeypatch):
    RecordingHub.calls, RecordingHub.fail = [], False
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    return RecordingHub


def test_a_version_folder_is_uploaded_to_a_private_repo(hub, tmp_path):
    url = push_version(ModelVersion(3, tmp_path), "acme/support-bot", "hf_secret")
    assert url.endswith("/commit/abc123")
    assert hub.calls == [
        ("create", "acme/support-bot", "hf_secret", "True", "True"),
        ("upload", "acme/support-bot", str(tmp_path), "SupportLoop model version 3"),
    ]


def test_a_failed_upload_is_a_clear_error(hub, tmp_path):
    hub.fail = True
    with pytest.raises(SupportLoopError, match="Pushing version 3 to the Hub repo acme/bot failed: 401"):
        push_version(ModelVersion(3, tmp_path), "acme/bot", "hf_secret")
