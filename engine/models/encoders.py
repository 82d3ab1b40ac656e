"""The bundle's image and text encoders as ONNX Runtime sessions; both land in one embedding space."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np
from tokenizers import Tokenizer

from engine.models.bundle import Bundle, BundleError
from engine.models.inference_model import InferenceModel
from engine.models.manifest import VISUAL_OUTPUT, ModelIO
from engine.models.sessions import CUDA, ModelSession, active_provider, cpu_cores, open_session

MEMO_SIZE = 20_000
PROBE_ROWS = 2  # the probe runs at load feed two rows: a model with a fixed batch of one fails there, not in `index`
PROBE_TEXTS = ("a photo", "a photo of a cat on a sofa")  # two lengths: padding is exercised
TEXT_INPUTS = ("input_ids", "attention_mask")
CPU_BATCH = 8  # per lane: enough rows for efficient GEMMs, small enough to keep every lane busy
GPU_BATCH = 32


@dataclass(frozen=True)
class ImageBatchOutput:
    """Encoder outputs for a batch: unit-norm embeddings and, when the bundle has them, label probabilities and
    unit-norm visual vectors (the `visual` output: pooled visual features)."""

    embeddings: np.ndarray
    label_probs: np.ndarray | None
    visual: np.ndarray | None = None

    def visual_or_embeddings(self) -> np.ndarray:
        """The batch's visual vectors: the `visual` rows, or the embeddings for bundles without that output."""
        return self.embeddings if self.visual is None else self.visual

    @classmethod
    def concatenate(cls, parts: Sequence[ImageBatchOutput]) -> ImageBatchOutput:
        """The outputs of consecutive chunks of one batch as one output (a field absent from the parts stays None)."""
        return cls(**{f.name: _concatenated([getattr(p, f.name) for p in parts]) for f in fields(cls)})  # type: ignore[arg-type]


class ImageEncoder(InferenceModel["_ImageSession"]):
    """Runs `image_encoder.onnx` on preprocessed NCHW float32 batches.

    The session has one intra-op thread; on the CPU `lanes` runs (one per core, or `threads`) go side by side on
    the shared session (ONNX Runtime's `run` is thread-safe): a whole run per core needs no barrier between
    threads, so no core waits on another, and the indexer's lanes decode and encode without oversubscription.
    On a GPU a batch goes whole, and batches are larger.
    """

    def __init__(self, bundle: Bundle, provider: str = "auto", threads: int | None = None, open_now: bool = True):
        super().__init__()
        self._bundle, self._requested = bundle, provider
        self.spec = bundle.manifest.image_encoder.preprocess
        self.visual_dim = bundle.visual_dim  # width of `ImageBatchOutput.visual_or_embeddings()`
        self.lanes = max(1, threads or cpu_cores())
        self.provider = ""  # the provider serving the session, once open
        self.batch_size = CPU_BATCH
        if open_now:  # else on first use
            self.load()

    @cached_property
    def identity(self) -> str:
        """What the vectors it makes depend on (`Bundle.identity`)."""
        return self._bundle.identity

    def encode(self, batch: np.ndarray) -> ImageBatchOutput:
        """Encode a batch, split across the lanes (in order)."""
        with self._running() as state:
            if state.pool is None or len(batch) < 2:
                return state.run(batch)
            chunks = np.array_split(batch, min(self.lanes, len(batch)))
            return ImageBatchOutput.concatenate(list(state.pool.map(state.run, chunks)))

    def encode_lane(self, batch: np.ndarray) -> ImageBatchOutput:
        """One run on the calling thread: for callers that run their own lanes (the indexer)."""
        with self._running() as state:
            return state.run(batch)

    def _load(self) -> _ImageSession:
        section = self._bundle.manifest.image_encoder
        path = self._bundle.file(section.file)
        session = open_session(path, section, self._requested, threads=1)
        outputs = [o.name for o in session.get_outputs()]
        _check_visual_declared(path, section, outputs)
        _check_image_input(path, session.get_inputs(), section.inputs[0].name, self.spec.image_size)
        self.provider = active_provider(session)
        gpu = self.provider == CUDA
        self.batch_size = GPU_BATCH if gpu else CPU_BATCH
        pool = None if gpu or self.lanes == 1 else self._pool(self.lanes, "encode-lane")
        state = _ImageSession(session, section.inputs[0].name, outputs, pool)
        self._probe(path, state)
        return state

    def _probe(self, path: Path, state: _ImageSession) -> None:
        """One run on two blank pictures when the encoder opens (milliseconds for lite, a few tenths of a second
        for a ViT): a model that cannot run here, or whose vectors are not as wide as the manifest says, is refused
        now rather than in the middle of indexing."""
        size = self.spec.image_size
        out = state.run(np.zeros((PROBE_ROWS, 3, size, size), dtype=np.float32))
        _check_rows(path, "embedding", out.embeddings, self._bundle.embedding_dim)
        if out.visual is not None:
            _check_rows(path, VISUAL_OUTPUT, out.visual, self.visual_dim)
        if out.label_probs is not None:
            _check_rows(path, "label_probs", out.label_probs, None)


@dataclass(frozen=True)
class _ImageSession:
    """An open image encoder: its session, input and output names, and (CPU, several lanes) its lane pool."""

    session: ModelSession
    input: str
    outputs: list[str]
    pool: ThreadPoolExecutor | None

    def run(self, batch: np.ndarray) -> ImageBatchOutput:
        results = dict(zip(self.outputs, self.session.run(None, {self.input: batch.astype(np.float32, copy=False)})))
        visual = results.get(VISUAL_OUTPUT)
        return ImageBatchOutput(
            embeddings=_unit_rows(results["embedding"]),
            label_probs=results.get("label_probs"),
            visual=None if visual is None else _unit_rows(visual),
        )


class TextEncoder(InferenceModel["_TextSession"]):
    """Tokenizes with the bundle's `tokenizer.json` and runs `text_encoder.onnx`; memoises repeated strings.

    Threaded like `ImageEncoder`: on the CPU the session has one intra-op thread and `encode` spreads its batches
    over one lane per core, so the indexer's lanes can call `encode_lane` side by side without oversubscription.
    Texts are batched by length, so a batch pads to a similar length rather than to the longest of all.
    """

    def __init__(self, bundle: Bundle, provider: str = "auto", threads: int | None = None, open_now: bool = True):
        super().__init__()
        self._bundle, self._requested = bundle, provider
        self.tokenizer = load_tokenizer(bundle)
        self.dim = bundle.embedding_dim
        self.lanes = max(1, threads or cpu_cores())
        self.batch_size = CPU_BATCH
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()
        if open_now:  # else on first use
            self.load()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-norm embeddings, one row per text, in order; batches go side by side on the lanes."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._running() as state:
            lanes = 1 if state.pool is None else self.lanes
            order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad little
            size = min(self.batch_size, -(-len(texts) // lanes))
            chunks = [[texts[i] for i in order[start : start + size]] for start in range(0, len(order), size)]
            if state.pool is None or len(chunks) == 1:
                parts = [state.run(chunk) for chunk in chunks]
            else:
                parts = list(state.pool.map(state.run, chunks))
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        rows[order] = np.concatenate(parts)
        return rows

    def encode_lane(self, texts: list[str]) -> np.ndarray:
        """One run on the calling thread (for callers that run their own lanes, the indexer's)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._running() as state:
            return state.run(texts)

    def encode_cached(self, texts: list[str], on_this_thread: bool = False) -> np.ndarray:
        """Like `encode`, but memoised per string (captions, aspect words and item names repeat); the misses are
        encoded in one go (`on_this_thread`: as one lane run, for the indexer's lanes). The memo lives in memory
        only and is safe to share between threads."""
        with self._memo_lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            encoded = (self.encode_lane if on_this_thread else self.encode)(missing)
            with self._memo_lock:
                self._memo.update(zip(missing, encoded))
        with self._memo_lock:
            rows = [self._memo[text] for text in texts]
            for text in texts:
                self._memo.move_to_end(text)
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)
        return np.stack(rows) if rows else np.zeros((0, self.dim), dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode_cached([text])[0]

    def _load(self) -> _TextSession:
        section = self._bundle.manifest.text_encoder
        path = self._bundle.file(section.file)
        session = open_session(path, section, self._requested, threads=1)
        _check_text_inputs(path, session.get_inputs(), self.tokenizer.padding["length"])
        gpu = active_provider(session) == CUDA
        self.batch_size = GPU_BATCH if gpu else CPU_BATCH
        pool = None if gpu or self.lanes == 1 else self._pool(self.lanes, "text-lane")
        state = _TextSession(session, self.tokenizer, frozenset(i.name for i in session.get_inputs()), pool)
        _check_rows(path, "embedding", state.run(list(PROBE_TEXTS)), self.dim)  # as the image encoder's probe
        return state


@dataclass(frozen=True)
class _TextSession:
    """An open text encoder: its session, tokenizer, the inputs it takes and (CPU, several lanes) its lane pool."""

    session: ModelSession
    tokenizer: Tokenizer
    inputs: frozenset[str]
    pool: ThreadPoolExecutor | None

    def run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
        }
        feeds = {name: value for name, value in feeds.items() if name in self.inputs}
        return _unit_rows(self.session.run(["embedding"], feeds)[0])


def load_tokenizer(bundle: Bundle) -> Tokenizer:
    """The text encoder's tokenizer, truncating and padding as the manifest says."""
    section = bundle.manifest.text_encoder
    tokenizer_path = bundle.file(section.tokenizer)
    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad files
        raise BundleError(f"{tokenizer_path}: cannot load tokenizer ({exc})") from exc
    tokenizer.enable_truncation(max_length=section.max_length)
    # `max_length` padding for towers with a fixed context (open_clip: 77 tokens, pad id 0); else the longest.
    fixed = section.max_length if section.padding == "max_length" else None
    pad_id = section.pad_id if section.pad_id is not None else tokenizer.token_to_id("[PAD]") or 0
    tokenizer.enable_padding(pad_id=pad_id, length=fixed)
    return tokenizer


def _check_visual_declared(path: Path, section: ModelIO, outputs: list[str]) -> None:
    """A `visual` output the manifest does not declare has an unchecked width (`Bundle.visual_dim` would be wrong)."""
    if VISUAL_OUTPUT in outputs and section.output(VISUAL_OUTPUT) is None:
        raise BundleError(
            f"{path}: the model has a `{VISUAL_OUTPUT}` output the manifest does not declare (manifest mismatch)"
        )


def _check_image_input(path: Path, inputs: list[Any], name: str, size: int) -> None:
    """The model takes one input, and its fixed dimensions are those of the preprocessed batch [N, 3, size, size]."""
    if [i.name for i in inputs] != [name]:
        taken = [i.name for i in inputs]
        raise BundleError(f"{path}: the image encoder must take one input, {name!r}; it takes {taken}")
    fed = (None, 3, size, size)
    shape = inputs[0].shape
    if len(shape) != 4 or any(isinstance(have, int) and want and have != want for have, want in zip(shape, fed)):
        raise BundleError(
            f"{path}: input {name!r} has shape {shape}, "
            f"but the manifest's preprocessing makes [batch, 3, {size}, {size}]"
        )


def _check_text_inputs(path: Path, inputs: list[Any], padded_to: int | None) -> None:
    """The model takes token ids (and an attention mask), [batch, sequence], of the length the tokenizer pads to."""
    names = {i.name for i in inputs}
    if "input_ids" not in names or not names <= set(TEXT_INPUTS):
        raise BundleError(f"{path}: the text encoder must take {TEXT_INPUTS[0]!r} and may take {TEXT_INPUTS[1]!r}; "
                          f"it takes {sorted(names)}")
    for i in inputs:
        if len(i.shape) != 2 or (isinstance(i.shape[1], int) and i.shape[1] != padded_to):
            raise BundleError(f"{path}: input {i.name!r} has shape {i.shape}, but the tokenizer makes [batch, "
                              f"{padded_to or 'longest'}] (see `text_encoder.max_length` and `padding`)")


def _check_rows(path: Path, output: str, rows: np.ndarray, width: int | None) -> None:
    """A probe's output has one row per probe input and (`width`) that many columns."""
    if rows.ndim != 2 or rows.shape[0] != PROBE_ROWS or (width is not None and rows.shape[1] != width):
        expected = f"[{PROBE_ROWS}, {width if width is not None else 'classes'}]"
        raise BundleError(f"{path}: output {output!r} has shape {list(rows.shape)} for {PROBE_ROWS} inputs, "
                          f"expected {expected}")


def _concatenated(arrays: list[np.ndarray | None]) -> np.ndarray | None:
    """Row-wise concatenation of one output over a batch's chunks; None when the bundle has no such output."""
    return None if arrays[0] is None else np.concatenate(cast(list[np.ndarray], arrays))


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
