"""A passphrase strength hint from zxcvbn (pattern-aware estimates, not character-class rules)."""

from __future__ import annotations

from dataclasses import dataclass

from zxcvbn import zxcvbn

LABELS = ("very weak", "weak", "fair", "strong", "very strong")


@dataclass(frozen=True)
class Strength:
    score: int  # 0..4
    label: str
    hint: str  # what to do about it, or how long an offline attack would take

    @property
    def acceptable(self) -> bool:
        return self.score >= 2


def passphrase_strength(passphrase: str) -> Strength:
    if not passphrase:
        return Strength(0, LABELS[0], "Choose a passphrase: a few unrelated words are easy to remember and hard to guess.")
    result = zxcvbn(passphrase[:100])  # zxcvbn is slow on very long inputs; 100 characters decide the score
    feedback = result["feedback"]
    advice = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
    crack = result["crack_times_display"]["offline_slow_hashing_1e4_per_second"]
    return Strength(result["score"], LABELS[result["score"]], advice or f"Would take {crack} to guess offline.")
