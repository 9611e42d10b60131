"""Whether a trained candidate may replace the current version: measured, with a margin, never by luck.

Both versions answer the same held-out questions; each answer gets the composite reward and its
dimensions. The candidate is promoted only if

- at least ``min_questions`` held-out questions were answered by both (fewer cannot tell a real gain
  from the spread of single answers: a version once went live on 7 questions whose intervals overlapped);
- a paired bootstrap over those questions (per question, candidate reward − current reward, resampled
  with a fixed seed) puts the 95% lower bound of the mean gain above 0, and the mean gain is at least
  ``margin``: pairing removes the questions' own difficulty from the comparison, so a gain survives it
  only if the candidate is better on the same questions, not on average by chance;
- its KL to the current version is at most ``max_kl``: the reward model learnt from votes on the
  current version's answers, so its score says little about answers far from them;
- its grounding and ethics are not lower (a policy that learns to please the reward model by inventing
  facts must not go live), and the reward model it was trained against passed the audit
  (``audit.suite``).

Every decision carries its numbers (``GateDecision.measures``), so the retraining report shows why.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Z_95 = 1.96


@dataclass(frozen=True)
class Estimate:
    mean: float
    ci95: float  # half-width of the 95% confidence interval of the mean
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        if not values:
            return cls(float("nan"), float("nan"), 0)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), Z_95 * spread / math.sqrt(len(values)), len(values))

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.ci95:.3f} (n={self.n})"


@dataclass(frozen=True)
class VersionScores:
    """How one version's answers to the held-out questions scored."""

    reward: Estimate
    grounding: Estimate
    satisfaction: Estimate
    ethics: Estimate
    citation_rate: Estimate  # share of answers with a supported sentence (serving cites its page)
    fact_recall: Estimate  # share of a known question's expected facts the answer states (n=0: none known)
    # The composite reward of the answer to each held-out question, so two versions pair by question.
    rewards: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GateSettings:
    """What a candidate must show to go live.

    ``max_kl`` is in nats per answer (``training.evaluation.kl_divergence``). A version that answers
    from the pages is far from an untuned one: the first version the learning-loop bench promoted, with
    a real gain, measured 41.7 nats from the base policy. So the default, 50, stops only answers the
    current version would practically never give (where the reward model, trained on votes on its
    answers, extrapolates), not the first grounded version; the question count and the bootstrap are
    what refuse a lucky small sample.
    """

    margin: float = 0.02  # least mean composite-reward gain worth a new version
    min_questions: int = 30
    max_kl: float = 50.0
    resamples: int = 2000
    seed: int = 0


@dataclass(frozen=True)
class PairedGain:
    """The candidate's mean reward gain over the current version on the same questions, with the 95%
    percentile-bootstrap interval of that mean."""

    n: int
    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:+.3f} (95% CI {self.low:+.3f} to {self.high:+.3f}, n={self.n})"


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str]
    measures: dict[str, float] = field(default_factory=dict)  # the numbers behind the decision


def paired_gain(
    current: Mapping[str, float], candidate: Mapping[str, float], resamples: int = 2000, seed: int = 0
) -> PairedGain:
    """Bootstrap the mean of candidate − current over the questions both answered (fixed ``seed``: the
    same scores always give the same decision)."""
    questions = sorted(current.keys() & candidate.keys())
    if not questions:
        return PairedGain(0, math.nan, math.nan, math.nan)
    gains = np.array([candidate[q] - current[q] for q in questions])
    picks = np.random.default_rng(seed).integers(0, len(gains), size=(resamples, len(gains)))
    low, high = np.percentile(gains[picks].mean(axis=1), [2.5, 97.5])
    return PairedGain(len(gains), float(gains.mean()), float(low), float(high))


def gate(
    current: VersionScores,
    candidate: VersionScores,
    kl: float,
    settings: GateSettings,
    audit_failures: Sequence[str] = (),
) -> GateDecision:
    """Promote only a candidate that passes every condition of the module docstring; say why either way,
    with the numbers."""
    gain = paired_gain(current.rewards, candidate.rewards, settings.resamples, settings.seed)
    measures = {
        "held_out_questions": gain.n,
        "min_questions": settings.min_questions,
        "reward_gain": gain.mean,
        "reward_gain_ci95_low": gain.low,
        "reward_gain_ci95_high": gain.high,
        "margin": settings.margin,
        "kl": kl,
        "max_kl": settings.max_kl,
    }
    reasons = [f"the reward model failed the audit: {failure}" for failure in audit_failures]
    if gain.n < settings.min_questions:
        reasons.append(
            f"only {gain.n} held-out questions answered by both versions; promotion needs at least "
            f"{settings.min_questions} (SUPPORTLOOP_GATE_MIN_QUESTIONS)"
        )
    if not gain.low > 0:  # also refuses NaN (nothing measured)
        reasons.append(f"the paired reward gain {gain} could be no gain: its 95% lower bound is not above 0")
    if not gain.mean >= settings.margin:
        reasons.append(
            f"composite reward {candidate.reward} does not beat {current.reward} by {settings.margin} "
            f"(paired gain {gain.mean:+.3f})"
        )
    if not kl <= settings.max_kl:
        reasons.append(
            f"KL(candidate ‖ current) {kl:.2f} nats is over the limit of {settings.max_kl} "
            "(SUPPORTLOOP_GATE_MAX_KL)"
        )
    if not candidate.grounding.mean >= current.grounding.mean:
        reasons.append(f"grounding fell from {current.grounding} to {candidate.grounding}")
    if candidate.ethics.mean < current.ethics.mean:
        reasons.append(f"ethical soundness fell from {current.ethics} to {candidate.ethics}")
    if reasons:
        return GateDecision(False, reasons, measures)
    return GateDecision(
        True,
        [
            f"composite reward {current.reward} → {candidate.reward}: paired gain {gain}; "
            f"KL {kl:.2f} nats (limit {settings.max_kl})"
        ],
        measures,
    )
