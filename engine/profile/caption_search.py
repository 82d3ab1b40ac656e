"""Greedy and beam search over an optimum-exported merged decoder (`decoder_model_merged.onnx`) with its KV cache.

The decoder takes `input_ids`, `encoder_hidden_states`, `past_key_values.*` and `use_cache_branch`, and returns
`logits` and `present.*`. The first step runs the no-cache branch on empty pasts; later steps feed one token and the
previous `present.*` back as `past_key_values.*`. Cross-attention caches (names with `.encoder.`) are computed once.
Beam search follows Hugging Face `generate` (length penalty on finished hypotheses, its early-stop heuristic), so
token sequences can be compared with it one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from engine.models.bundle import BundleError
from engine.models.manifest import GenerationSettings

PAST_PREFIX = "past_key_values."
PRESENT_PREFIX = "present."
_KNOWN_INPUTS = {"input_ids", "encoder_hidden_states", "use_cache_branch"}
_NEG = np.float32(-1e9)


@dataclass(frozen=True)
class Hypothesis:
    """Generated token ids (without start and eos) and their score: sum of log-probs / length ** length_penalty."""

    tokens: tuple[int, ...]
    score: float


class MergedDecoder:
    """One decoding step of the merged decoder, with its cache names and shapes read from the session."""

    def __init__(self, session: ort.InferenceSession, path: Path):
        inputs = {i.name: i for i in session.get_inputs()}
        unknown = sorted(n for n in inputs if n not in _KNOWN_INPUTS and not n.startswith(PAST_PREFIX))
        if unknown or not _KNOWN_INPUTS <= set(inputs):
            raise BundleError(f"{path}: not an optimum merged decoder (inputs {sorted(inputs)})")
        self.session = session
        self.past_names = [n for n in inputs if n.startswith(PAST_PREFIX)]
        self.present_for = {PRESENT_PREFIX + n[len(PAST_PREFIX) :]: n for n in self.past_names}
        missing = [p for p in self.present_for if p not in {o.name for o in session.get_outputs()}]
        if missing:
            raise BundleError(f"{path}: decoder lacks cache outputs {missing}")
        self._empty_shape = {n: self._head_shape(inputs[n], path) for n in self.past_names}
        self._output_names = ["logits", *self.present_for]

    @staticmethod
    def _head_shape(arg: Any, path: Path) -> tuple[int, int]:
        shape = arg.shape
        if len(shape) != 4 or not isinstance(shape[1], int) or not isinstance(shape[3], int):
            raise BundleError(f"{path}: cache input {arg.name} has no fixed [batch, heads, seq, head_dim] shape")
        return shape[1], shape[3]

    def step(
        self, input_ids: np.ndarray, encoder_hidden_states: np.ndarray, past: dict[str, np.ndarray] | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Log-probabilities of the next token [batch, vocab] and the updated cache."""
        batch = input_ids.shape[0]
        cached = past is not None
        if past is None:
            past = {n: np.zeros((batch, h, 0, d), np.float32) for n, (h, d) in self._empty_shape.items()}
        feeds = {
            "input_ids": input_ids.astype(np.int64),
            "encoder_hidden_states": encoder_hidden_states,
            "use_cache_branch": np.array([cached]),
            **past,
        }
        logits, *presents = self.session.run(self._output_names, feeds)
        new_past = {}
        for name, value in zip(self.present_for.values(), presents):
            new_past[name] = past[name] if cached and ".encoder." in name else value
        return _log_softmax(logits[:, -1, :].astype(np.float32)), new_past

    def greedy(self, encoder_hidden_states: np.ndarray, settings: GenerationSettings) -> list[Hypothesis]:
        """Argmax decoding for the whole batch; finished rows are fed the pad token, as `generate` does."""
        batch = encoder_hidden_states.shape[0]
        ids = np.full((batch, 1), settings.decoder_start_token_id, dtype=np.int64)
        finished = np.zeros(batch, dtype=bool)
        totals = np.zeros(batch, dtype=np.float64)
        tokens: list[list[int]] = [[] for _ in range(batch)]
        past = None
        for _ in range(settings.max_new_tokens):
            log_probs, past = self.step(ids, encoder_hidden_states, past)
            chosen = np.where(finished, settings.pad_token_id, log_probs.argmax(-1))
            for row in np.flatnonzero(~finished):
                totals[row] += log_probs[row, chosen[row]]
                tokens[row].append(int(chosen[row]))
            finished |= chosen == settings.eos_token_id
            if finished.all():
                break
            ids = chosen[:, None]
        return [_hypothesis(t, total, settings) for t, total in zip(tokens, totals)]

    def beam_search(self, encoder_hidden_states: np.ndarray, settings: GenerationSettings) -> list[Hypothesis]:
        """Best hypothesis per image from a `num_beams`-wide beam search."""
        return _BeamSearch(self, encoder_hidden_states, settings).run()


class _BeamSearch:
    """Hugging Face's vectorised beam search (early_stopping=False), in numpy."""

    def __init__(self, decoder: MergedDecoder, encoder_hidden_states: np.ndarray, settings: GenerationSettings):
        self.decoder = decoder
        self.settings = settings
        self.batch = encoder_hidden_states.shape[0]
        self.beams = settings.num_beams
        self.encoder_hidden_states = np.repeat(encoder_hidden_states, self.beams, axis=0)
        self.finished: list[list[tuple[float, tuple[int, ...]]]] = [[] for _ in range(self.batch)]
        self.done = np.zeros(self.batch, dtype=bool)

    def run(self) -> list[Hypothesis]:
        batch, beams, settings = self.batch, self.beams, self.settings
        running_scores = np.zeros((batch, beams), dtype=np.float32)
        running_scores[:, 1:] = _NEG
        running_tokens = np.zeros((batch, beams, 0), dtype=np.int64)
        ids = np.full((batch * beams, 1), settings.decoder_start_token_id, dtype=np.int64)
        past = None
        for step in range(settings.max_new_tokens):
            log_probs, past = self.decoder.step(ids, self.encoder_hidden_states, past)
            vocab = log_probs.shape[-1]
            totals = (log_probs.reshape(batch, beams, vocab) + running_scores[:, :, None]).reshape(batch, -1)
            top = np.argsort(-totals, axis=1, kind="stable")[:, : 2 * beams]
            top_scores = np.take_along_axis(totals, top, axis=1)
            source_beam, token = top // vocab, top % vocab
            candidates = np.concatenate(
                [np.take_along_axis(running_tokens, source_beam[:, :, None], axis=1), token[:, :, None]], axis=2
            )
            hits = (token == settings.eos_token_id) | (step + 1 == settings.max_new_tokens)
            self._collect_finished(top_scores, candidates, hits, step + 1)
            masked = np.where(hits, top_scores + _NEG, top_scores)
            keep = np.argsort(-masked, axis=1, kind="stable")[:, :beams]
            running_scores = np.take_along_axis(masked, keep, axis=1)
            running_tokens = np.take_along_axis(candidates, keep[:, :, None], axis=1)
            origin = (np.take_along_axis(source_beam, keep, axis=1) + np.arange(batch)[:, None] * beams).reshape(-1)
            past = {name: value[origin] for name, value in past.items()}
            ids = running_tokens[:, :, -1].reshape(-1, 1)
            self._update_done(running_scores, step + 1)
            if self.done.all() or hits.all():
                break
        return [self._best(row) for row in range(batch)]

    def _collect_finished(self, scores: np.ndarray, candidates: np.ndarray, hits: np.ndarray, length: int) -> None:
        """Only the top `num_beams` candidates may finish; each row keeps its `num_beams` best finished."""
        penalty = length**self.settings.length_penalty
        for row in np.flatnonzero(~self.done):
            for j in np.flatnonzero(hits[row, : self.beams]):
                self.finished[row].append((float(scores[row, j]) / penalty, tuple(int(t) for t in candidates[row, j])))
            self.finished[row] = sorted(self.finished[row], key=lambda item: -item[0])[: self.beams]

    def _update_done(self, running_scores: np.ndarray, length: int) -> None:
        """A row is done once it has `num_beams` finished hypotheses all at least as good as its best running one."""
        best_running = running_scores[:, 0] / length**self.settings.length_penalty
        for row in np.flatnonzero(~self.done):
            full = len(self.finished[row]) == self.beams
            self.done[row] = full and best_running[row] <= min(score for score, _ in self.finished[row])

    def _best(self, row: int) -> Hypothesis:
        score, tokens = self.finished[row][0]
        eos = self.settings.eos_token_id
        return Hypothesis(tokens=tokens[:-1] if tokens and tokens[-1] == eos else tokens, score=score)


def _hypothesis(tokens: list[int], total: float, settings: GenerationSettings) -> Hypothesis:
    length = len(tokens)
    kept = tokens[:-1] if tokens and tokens[-1] == settings.eos_token_id else tokens
    return Hypothesis(tokens=tuple(kept), score=float(total) / max(length, 1) ** settings.length_penalty)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
