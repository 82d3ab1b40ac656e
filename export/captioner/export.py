"""Export an image-to-text model (Hugging Face id or folder) for the engine with optimum's ONNX exporter.

optimum writes encoder, decoder, decoder-with-past and merged decoder (task `image-to-text-with-past`); the
bundle keeps the encoder and the merged decoder (fp32, or int8 by dynamic quantisation), `tokenizer.json`, and
describes preprocessing, generation settings, graph inputs/outputs and parity in its manifest section.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path

import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from optimum.exporters.onnx import main_export
from rich.progress import Progress
from transformers import AutoConfig, GenerationConfig, PretrainedConfig

from export.bundle_io import step
from export.captioner.parity import ReferenceModels, check_caption_parity, load_torch_model
from export.captioner.preprocessing import load_image_processor, preprocess_manifest
from export.captioner.vocabulary import VOCABULARY_FILE, write_vocabulary
from export.quantize import INT8_OP_TYPES

TASK = "image-to-text-with-past"
FOLDER = "captioner"
ENCODER = "encoder_model.onnx"
DECODER = "decoder_model_merged.onnx"
TOKENIZER = "tokenizer.json"
PRECISIONS = ("fp32", "int8")
SUPPORTED_MODEL_TYPES = ("vision-encoder-decoder",)
_DTYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(bool)": "bool", "tensor(float16)": "float16"}


class CaptionerExportError(RuntimeError):
    """The model cannot be exported for the engine; the message names the model or file."""


def export_captioner(source: str, out_dir: Path, precision: str = "fp32", progress: Progress | None = None) -> dict:
    """Export `source` into `out_dir/captioner/` and write `out_dir/aspect_vocabulary.txt`; return the manifest
    section (`describer`, kind `captioner`). Raises `CaptionerExportError` or a parity error on failure."""
    if precision not in PRECISIONS:
        raise CaptionerExportError(f"{source}: precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    _check_model_type(source)
    progress = progress or Progress(disable=True)
    out_dir = Path(out_dir)
    target = out_dir / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="captioner-export-") as work:
        onnx_folder = Path(work)
        with step(progress, f"export {source} to ONNX (optimum)"):
            _optimum_export(source, onnx_folder)
        with step(progress, f"keep encoder + merged decoder ({precision})"):
            for name in (ENCODER, DECODER):
                _finish_graph(onnx_folder / name, target / name, precision)
            if not (onnx_folder / TOKENIZER).is_file():
                raise CaptionerExportError(f"{source}: the model has no fast tokenizer (tokenizer.json)")
            shutil.copyfile(onnx_folder / TOKENIZER, target / TOKENIZER)
            processor = load_image_processor(onnx_folder)
            config = AutoConfig.from_pretrained(onnx_folder)
        with step(progress, "aspect vocabulary (WordNet)"):
            write_vocabulary(out_dir)
        section = {
            "kind": "captioner",
            "encoder": f"{FOLDER}/{ENCODER}",
            "decoder": f"{FOLDER}/{DECODER}",
            "tokenizer": f"{FOLDER}/{TOKENIZER}",
            "preprocess": preprocess_manifest(processor, onnx_folder),
            "generation": _generation(onnx_folder, config, source),
            "aspect_vocabulary": VOCABULARY_FILE,
            "source": _source(config, source),
            "precision": precision,
            "io": {"encoder": _declare_io(target / ENCODER), "decoder": _declare_io(target / DECODER)},
        }
        with step(progress, "parity on sample photos"):
            reference = ReferenceModels(load_torch_model(source), processor, onnx_folder)
            section["parity"] = check_caption_parity(out_dir, section, reference, quantized=precision != "fp32")
    return section


def _check_model_type(source: str) -> None:
    """Only vision-encoder-decoder models: optimum exports BLIP/GIT not at all, and Pix2Struct with other inputs."""
    try:
        model_type = AutoConfig.from_pretrained(source).model_type
    except (OSError, ValueError) as exc:
        raise CaptionerExportError(f"{source}: no readable model config ({exc})") from exc
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise CaptionerExportError(
            f"{source}: model type {model_type!r} is not supported (expected {', '.join(SUPPORTED_MODEL_TYPES)})"
        )


def _optimum_export(source: str, folder: Path) -> None:
    """optimum's exporter; its own validation is skipped because parity on real photos follows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            main_export(source, folder, task=TASK, do_validation=False)
        except (KeyError, ValueError, OSError) as exc:
            raise CaptionerExportError(f"{source}: optimum cannot export it as {TASK} ({exc})") from exc
    for name in (ENCODER, DECODER):
        if not (folder / name).is_file():
            raise CaptionerExportError(f"{source}: optimum's export produced no {name}")


def _finish_graph(src: Path, dst: Path, precision: str) -> None:
    """Copy (fp32) or quantise to int8 with `export.quantize`'s dynamic settings, plus the merged decoder's
    If-branch subgraphs, which hold all its MatMuls (`quantize_int8` leaves subgraphs in fp32)."""
    if precision == "fp32":
        shutil.copyfile(src, dst)
        return
    quantize_dynamic(
        src,
        dst,
        weight_type=QuantType.QInt8,
        per_channel=True,
        reduce_range=True,
        op_types_to_quantize=INT8_OP_TYPES,
        extra_options={"EnableSubgraph": True},
    )


def _generation(folder: Path, config: PretrainedConfig, source: str) -> dict:
    """Special token ids and search settings; `max_length` counts the decoder start token."""
    generation = GenerationConfig.from_model_config(config)
    if (folder / "generation_config.json").is_file():
        generation = GenerationConfig.from_pretrained(folder)
    start = generation.decoder_start_token_id
    if start is None:
        start = config.decoder_start_token_id
    eos = generation.eos_token_id
    if isinstance(eos, list):
        if len(eos) != 1:
            raise CaptionerExportError(f"{source}: several eos tokens {eos} are not supported")
        eos = eos[0]
    if start is None or eos is None:
        raise CaptionerExportError(f"{source}: the model declares no decoder_start_token_id or eos_token_id")
    max_new = generation.max_new_tokens or generation.max_length - 1
    return {
        "decoder_start_token_id": int(start),
        "bos_token_id": generation.bos_token_id,
        "eos_token_id": int(eos),
        "pad_token_id": int(generation.pad_token_id if generation.pad_token_id is not None else eos),
        "max_new_tokens": int(max_new),
        "num_beams": int(generation.num_beams or 1),
        "length_penalty": float(generation.length_penalty),
    }


def _source(config: PretrainedConfig, source: str) -> dict:
    return {
        "model": source,
        "model_type": config.model_type,
        "encoder": getattr(getattr(config, "encoder", None), "model_type", None),
        "decoder": getattr(getattr(config, "decoder", None), "model_type", None),
        "exporter": f"optimum-onnx {version('optimum-onnx')} main_export, task {TASK}",
    }


def _declare_io(path: Path) -> dict:
    """Names, shapes (symbolic axes as strings) and dtypes of a graph, as ONNX Runtime reports them."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def declare(args) -> list[dict]:
        return [{"name": a.name, "shape": list(a.shape), "dtype": _DTYPES.get(a.type, a.type)} for a in args]

    return {"inputs": declare(session.get_inputs()), "outputs": declare(session.get_outputs())}
