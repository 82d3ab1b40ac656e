"""The ranker on synthetic profiles: loss shapes, a step that learns, LoRA scope, ONNX parity, engine = torch."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from engine.models.bundle import Bundle
from engine.models.manifest import Manifest, RankerSection
from engine.recommend.candidates import CandidateSet
from engine.recommend.ranker import OUTPUTS, OnnxRanker, io_declaration, ranker_feeds
from engine.recommend.retrieval import unit
from engine.recommend.scorer import HistoryContext
from export.ranker.backbone import tiny_backbone
from export.ranker.examples import QueryExample
from export.ranker.lora import merged, with_lora
from export.ranker.model import HEAD_MODULES, SpectrumRanker
from export.ranker.onnx_export import export_ranker
from export.ranker.refine import helpful_words, initial_aspects
from export.ranker.train import (
    QueryDataset,
    TrainConfig,
    collate,
    joint_loss,
    predict,
    train,
)

pytestmark = pytest.mark.slow  # not in `./run test fast`

DIM = 24
VISUAL_DIM = 8
WORDS = [f"word{i}" for i in range(12)]


def synthetic_example(rng: np.random.Generator, qid: str, w: int = 16, n: int = 10) -> QueryExample:
    """A profile whose photos lean towards a taste vector; the ground truth is the candidate nearest it."""
    taste = unit(rng.normal(size=DIM))
    photos = unit(rng.normal(size=(w, DIM)) + 1.5 * taste)
    aspects = [tuple(rng.choice(WORDS, size=2, replace=False)) for _ in range(w)]
    words = sorted({word for group in aspects for word in group})
    ctx = HistoryContext(
        vectors=photos,
        relevance=np.sort(rng.random(w).astype(np.float32))[::-1],
        caption_vectors=unit(photos + 0.3 * rng.normal(size=(w, DIM))),
        aspects=aspects,
        aspect_words=words,
        aspect_vectors=unit(rng.normal(size=(len(words), DIM))),
        visual_vectors=unit(rng.normal(size=(w, VISUAL_DIM))),
    )
    images, texts = unit(rng.normal(size=(n, DIM))), unit(rng.normal(size=(n, DIM)))
    candidates = CandidateSet.against(images, texts, unit(rng.normal(size=(n, VISUAL_DIM))), photos)
    labels = np.zeros(n, np.float32)
    labels[int(np.argmax(unit(images + texts) @ taste))] = 1.0
    feeds = ranker_feeds(ctx, unit(rng.normal(size=DIM)), candidates)
    return QueryExample(qid, feeds, labels, tuple(f"c{i}" for i in range(n)), tuple(words), taste, ctx, candidates)


@pytest.fixture(scope="module")
def examples() -> list[QueryExample]:
    rng = np.random.default_rng(0)
    return [synthetic_example(rng, f"q{i}", w=int(rng.integers(4, 17))) for i in range(24)]


def tiny_ranker(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    reference = torch.nn.functional.normalize(torch.randn(32, DIM), dim=-1)
    return with_lora(SpectrumRanker(tiny_backbone(2, seed), DIM, VISUAL_DIM, reference))


def _inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in batch.items() if k not in ("labels", "aspect_targets")}


def test_outputs_and_losses_have_the_declared_shapes(examples):
    batch = collate([(ex, np.zeros(len(ex.words), np.float32)) for ex in examples[:4]])
    scores, aspect_logits, cell_weights, support = tiny_ranker()(**_inputs(batch))
    b, w, n, k = 4, batch["photo_mask"].shape[1], batch["candidate_mask"].shape[1], batch["aspect_mask"].shape[1]
    assert scores.shape == (b, n) and aspect_logits.shape == (b, k)
    assert cell_weights.shape == (b, n, w) and support.shape == (b, n, k)
    # evidence is a distribution over the real cells only
    assert torch.allclose(cell_weights.sum(-1), torch.ones(b, n), atol=1e-5)
    assert float((cell_weights.detach() * (1 - batch["photo_mask"][:, None, :])).abs().max()) < 1e-6
    total, pred, asp = joint_loss((scores, aspect_logits), batch, TrainConfig())
    assert total.shape == pred.shape == asp.shape == ()
    assert torch.isclose(total, asp + 2.0 * pred)


def test_one_training_step_lowers_the_loss(examples):
    model = tiny_ranker()
    targets = initial_aspects(examples)
    batch = collate([QueryDataset(examples[:8], targets)[i] for i in range(8)])
    inputs = _inputs(batch)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    before, _, _ = joint_loss(model(**inputs), batch, TrainConfig())
    before.backward()
    optimiser.step()
    after, _, _ = joint_loss(model(**inputs), batch, TrainConfig())
    assert float(after.detach()) < float(before.detach())


def test_lora_trains_only_adapters_and_heads():
    model = tiny_ranker()
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for name in trainable:
        assert "lora_" in name or any(f"{head}.modules_to_save" in name for head in HEAD_MODULES), name
    frozen_backbone = [n for n, p in model.named_parameters() if "backbone" in n and "lora_" not in n]
    assert frozen_backbone and not any(dict(model.named_parameters())[n].requires_grad for n in frozen_backbone)
    assert any("backbone" in n and "lora_A" in n for n in trainable)


def test_training_learns_the_synthetic_taste(examples):
    model = tiny_ranker()
    config = TrainConfig(epochs=8, batch_size=8, learning_rate=3e-3)
    result = train(model, QueryDataset(examples, initial_aspects(examples)), config)
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    ranks = [1 + int((s > s[ex.labels > 0].max()).sum()) for (s, _), ex in zip(predict(model, examples), examples)]
    assert np.mean(np.array(ranks) <= 3) > 0.3  # random would be 0.3 with 10 candidates; the taste is learnable


def test_refinement_keeps_words_that_single_out_the_ground_truth(examples):
    ex = examples[0]
    truth = int(np.argmax(ex.labels))
    items = unit(ex.feeds["candidate_image"] + ex.feeds["candidate_text"])
    kept = helpful_words(ex, frozenset(ex.words))
    for k, word in enumerate(ex.words):  # 10 candidates: the top 10% is the single closest one
        sims = items @ ex.feeds["aspect_vectors"][k]
        assert (word in kept) == (int(np.argmax(sims)) == truth), word
    assert helpful_words(ex, frozenset()) == frozenset()


def test_onnx_parity_and_engine_ranking_equal_torch(examples, tmp_path):
    model = merged(tiny_ranker())
    batch = collate([(ex, np.zeros(len(ex.words), np.float32)) for ex in examples[:3]])
    parity = export_ranker(model, _inputs(batch), tmp_path / "ranker.onnx")
    assert parity.max_abs_diff < 1e-4
    declaration = io_declaration(DIM, VISUAL_DIM)
    bundle = Bundle(tmp_path, Manifest.model_construct(ranker=RankerSection.model_validate({"file": "ranker.onnx", **declaration})))
    ranker = OnnxRanker(bundle, "cpu")
    for ex, (torch_scores, torch_probs) in zip(examples, predict(model, examples)):
        answer = ranker.rank(ex.context, ex.feeds["category"], ex.candidates)
        np.testing.assert_allclose(answer.scored.scores, torch_scores, atol=1e-4)
        assert list(np.argsort(-answer.scored.scores)) == list(np.argsort(-torch_scores))
        np.testing.assert_allclose(answer.aspect_probs, torch_probs, atol=1e-4)
        assert answer.scored.cell_weights.shape == (len(ex.candidate_ids), len(ex.context.vectors))
    assert set(OUTPUTS) == {o.name for o in ort.InferenceSession(tmp_path / "ranker.onnx").get_outputs()}
