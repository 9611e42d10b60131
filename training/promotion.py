"""Whether a trained candidate may replace the current version: measured, with a margin, never by luck.

Both versions answer the same held-out questions; each answer gets the composite reward and its
dimensions. The candidate is promoted only if its mean composite reward beats the current version's by
at least ``margin``, its grounding and ethics are not lower (a policy that learns to please the reward
model by inventing facts must not go live), and the reward model it was trained against passed the
audit (``audit.suite``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str]


def gate(
    current: VersionScores, candidate: VersionScores, margin: float, audit_failures: Sequence[str] = ()
) -> GateDecision:
    """Promote only a candidate that is better by ``margin``, no less grounded or ethical, and whose
    reward model passed the audit (``audit_failures`` empty); say why either way."""
    reasons = [f"the reward model failed the audit: {failure}" for failure in audit_failures]
    gain = candidate.reward.mean - current.reward.mean
    if not gain >= margin:  # also refuses NaN (nothing measured)
        reasons.append(f"composite reward {candidate.reward} does not beat {current.reward} by {margin}")
    if not candidate.grounding.mean >= current.grounding.mean:
        reasons.append(f"grounding fell from {current.grounding} to {candidate.grounding}")
    if candidate.ethics.mean < current.ethics.mean:
        reasons.append(f"ethical soundness fell from {current.ethics} to {candidate.ethics}")
    if reasons:
        return GateDecision(False, reasons)
    return GateDecision(True, [f"composite reward {current.reward} → {candidate.reward} (+{gain:.3f})"])
