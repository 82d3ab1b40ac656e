"""How well a bridge reads pictures, measured on pictures it never trained on.

- text -> image Recall@k: each thing's name retrieves among all views of one kind (plain pictures, or composed
  photos); a hit when one of the thing's own views is among the first k.
- kind precision@10: each kind phrase ("bird", "asian food") retrieves among the composed photos; the share of
  the first ten that show a thing of that kind. This is the level at which taste lives: different things of one
  kind must come up together.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

KIND_TOP = 10
MIN_KIND_VIEWS = 5  # kinds shown by fewer held-out photos are not scored


@dataclass(frozen=True)
class BridgeScores:
    """Retrieval figures of one bridge on one picture set (fractions in [0, 1])."""

    recall_at_1_plain: float
    recall_at_5_plain: float
    recall_at_1_photo: float
    recall_at_5_photo: float
    kind_precision_at_10: float

    def to_manifest(self) -> dict:
        return {key: round(value, 4) for key, value in asdict(self).items()}


def text_to_image_recall(
    vectors: np.ndarray, things: np.ndarray, name_vectors: np.ndarray, ks: tuple[int, ...] = (1, 5)
) -> dict[int, float]:
    """Recall@k of each thing's name (row `t` of `name_vectors`) over the views (`things[i]` is view i's thing)."""
    present = np.unique(things)
    sims = name_vectors[present] @ vectors.T  # [things, views]
    own = things[None, :] == present[:, None]
    best_own = np.where(own, sims, -np.inf).max(axis=1)
    rank = (np.where(own, -np.inf, sims) > best_own[:, None]).sum(axis=1)  # other things' views ranked above
    return {k: float((rank < k).mean()) for k in ks}


def kind_precision(
    vectors: np.ndarray, view_kinds: list[frozenset[str]], kind_vectors: dict[str, np.ndarray], top: int = KIND_TOP
) -> float:
    """Mean over kinds of the share of a kind phrase's `top` nearest views that are of that kind."""
    scores = []
    for kind, vector in kind_vectors.items():
        members = np.array([kind in kinds for kinds in view_kinds])
        if members.sum() < MIN_KIND_VIEWS:
            continue
        nearest = np.argsort(-(vectors @ vector), kind="stable")[:top]
        scores.append(float(members[nearest].mean()))
    return float(np.mean(scores)) if scores else 0.0


def bridge_scores(
    plain: np.ndarray,
    plain_things: np.ndarray,
    photo: np.ndarray,
    photo_things: np.ndarray,
    photo_kinds: list[frozenset[str]],
    name_vectors: np.ndarray,
    kind_vectors: dict[str, np.ndarray],
) -> BridgeScores:
    """All figures of one bridge: unit vectors of the plain and the composed views, with their things."""
    on_plain = text_to_image_recall(plain, plain_things, name_vectors)
    on_photo = text_to_image_recall(photo, photo_things, name_vectors)
    return BridgeScores(
        recall_at_1_plain=on_plain[1],
        recall_at_5_plain=on_plain[5],
        recall_at_1_photo=on_photo[1],
        recall_at_5_photo=on_photo[5],
        kind_precision_at_10=kind_precision(photo, photo_kinds, kind_vectors),
    )
