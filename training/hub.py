"""Publishing a promoted version to the Hugging Face Hub, when a repository and token are configured.

A version is already a ``save_pretrained`` folder (model and tokenizer), so publishing uploads that
folder as one commit (what ``push_to_hub`` does after saving) to a private repository created on first
use. The Hub is optional: a failed upload is reported and changes nothing locally.
"""

from __future__ import annotations

import logging

from core.errors import SupportLoopError
from core.registry import ModelVersion

log = logging.getLogger(__name__)


def push_version(version: ModelVersion, repo: str, token: str) -> str:
    """Upload ``version``'s folder to ``repo``; return the commit URL, or raise a clear error."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    try:
        api.create_repo(repo, private=True, exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo,
            folder_path=version.path,
            commit_message=f"SupportLoop model version {version.id}",
        )
    except Exception as exc:  # HTTP, auth and offline errors come in many types
        raise SupportLoopError(f"Pushing version {version.id} to the Hub repo {repo} failed: {exc}") from exc
    log.info("pushed version %s to %s", version.id, repo)
    return str(commit)
