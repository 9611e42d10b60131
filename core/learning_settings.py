"""The settings of learning from votes: the composite reward, retraining, policy tuning, the gate, audits.

They are a group of their own because only the training side reads them (``supportloop.job_kinds``
turns them into ``training.pipeline.RetrainSettings``); ``core.settings.Settings`` inherits them, so
each is still an environment variable ``SUPPORTLOOP_<FIELD>``, validated, listed and documented like
every other setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings


class LearningSettings(BaseSettings):
    """How SupportLoop learns from votes (a part of ``core.settings.Settings``)."""

    reward_weight_satisfaction: float = Field(
        0.4, ge=0, le=1, description="Weight of user satisfaction (the reward model) in the composite reward."
    )
    reward_weight_grounding: float = Field(
        0.4, ge=0, le=1, description="Weight of factual grounding in the passages in the composite reward."
    )
    reward_weight_ethics: float = Field(
        0.2, ge=0, le=1, description="Weight of ethical soundness in the composite reward."
    )
    retrain_feedback: Literal["real", "simulated", "all"] = Field(
        "real", description="Which votes retraining learns from: real, simulated (trials), or all."
    )
    retrain_min_votes: int = Field(50, ge=2, description="Fewest votes a retraining run needs.")
    reward_objective: Literal["features", "pointwise", "pairwise"] = Field(
        "features",
        description=(
            "How the reward model learns: a logistic regression over each answer's form, relevance and "
            "embedding (features: seconds), or a fine-tuned encoder from each answer's votes (pointwise) "
            "or from answer pairs (pairwise)."
        ),
    )
    policy_algorithm: Literal["auto", "ppo", "kto", "sft"] = Field(
        # kto is clearly above sft and ppo on the same 600 votes, but on a 2-core CPU it takes 32 min
        # and 8.5 GiB, sft 11 min and 5.8 GiB (docs/learning-loop.md)
        "auto",
        description="How retraining tunes the warm-started policy: ppo (against the composite reward), kto "
        "(from the liked and disliked answers themselves), sft (the warm start alone), or auto (kto on "
        "a GPU, sft on a CPU, where KTO takes half an hour).",
    )
    sft_epochs: int = Field(
        2,
        ge=0,
        le=100,
        description="Epochs of the warm start on liked answers before PPO or KTO (0: they start from the "
        "current version).",
    )
    ppo_updates: int = Field(20, ge=1, le=10_000, description="PPO updates in one retraining run.")
    ppo_batch_size: int = Field(8, ge=1, le=512, description="Prompts per PPO update.")
    ppo_response_length: int = Field(
        64, ge=4, le=1024, description="Longest answer generated during PPO, in tokens."
    )
    kto_beta: float = Field(
        0.1, gt=0, le=10, description="KTO's β: higher keeps the tuned policy nearer the warm-started one."
    )
    kto_learning_rate: float = Field(1e-5, gt=0, le=1, description="Learning rate of KTO.")
    kto_epochs: int = Field(
        # as good as 2 on the same 600 votes, in 20 min of KTO on 2 cores instead of about 35
        # (docs/learning-loop.md)
        1,
        ge=1,
        le=100,
        description="Passes of KTO over the voted answers.",
    )
    kto_batch_size: int = Field(
        4,
        ge=2,
        le=512,
        description="Voted answers per KTO step (at least 2: KTO estimates its KL in a batch).",
    )
    kto_lora: bool = Field(
        False,
        description="Tune KTO through LoRA adapters (rank 8, query and value projections), merged when "
        "saved: less memory and faster steps (raise the learning rate with it).",
    )
    promotion_margin: float = Field(
        0.02,
        ge=-1,
        le=1,
        description="How much higher a candidate's mean composite reward must be to go live.",
    )
    gate_min_questions: int = Field(
        30,
        ge=1,
        description="Fewest held-out questions both versions must answer before a candidate can go live "
        "(retraining holds out at least this many when the votes cover twice as many questions).",
    )
    gate_max_kl: float = Field(
        50.0,
        gt=0,
        description="Largest KL(candidate ‖ current) on held-out answers, in nats per answer, a candidate "
        "may go live with: the reward model knows only answers near the current version's.",
    )
    audit_fairness_threshold: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Largest demographic-parity, equalized-odds or mean-score difference between groups "
        "a reward model may show and pass the audit.",
    )
    audit_max_win_rate: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Largest share of cases an adversarial hack (padding, flattery, …) may win against "
        "the honest answer in the audit.",
    )
    audit_cases: int = Field(
        0,
        ge=0,
        description="How many of the audit's support cases to use (0: all 24; fewer for quick trials).",
    )
    audit_shap: bool = Field(
        True, description="Explain the reward model with SHAP in audits (the slow part)."
    )

    @field_validator("sft_epochs")
    @classmethod
    def _warm_start_for_sft(cls, value: int, info: ValidationInfo) -> int:
        """With ``sft`` (and ``auto``, which is sft on a CPU) the warm start is the whole tuning: without
        epochs every retrain would fail late, after the reward model and its audit, so say so when the
        settings are read."""
        algorithm = info.data.get("policy_algorithm")
        if value == 0 and algorithm in ("sft", "auto"):
            raise ValueError(
                f"SUPPORTLOOP_POLICY_ALGORITHM={algorithm} tunes by the warm start alone"
                + (" on a CPU" if algorithm == "auto" else "")
                + ", which needs at least 1 epoch (kto or ppo can start from the current version)"
            )
        return value
