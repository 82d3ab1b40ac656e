"""Which model bundles are installed and which execution provider ONNX Runtime would use, in words."""

from __future__ import annotations

import onnxruntime as ort

from engine.home import Home
from engine.models.bundle import BundleError, load_bundle

PROVIDER_CHOICES = {"auto": "Automatic (GPU when available)", "cuda": "GPU (CUDA)", "cpu": "CPU"}


def installed_bundles(home: Home) -> list[str]:
    """Names of the bundle folders under the bundles dir (each with a manifest)."""
    root = home.bundles_dir
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").exists()) if root.is_dir() else []


def bundle_summary(home: Home, name: str) -> str:
    """One line about a bundle: version, encoders and whether it has a trained ranker; or why it is unusable."""
    try:
        bundle = load_bundle(home.bundle_path(name), verify_checksums=False)
    except BundleError as exc:
        return f"not usable: {exc}"
    ranker = "trained ranker" if bundle.manifest.ranker is not None else "zero-shot ranking"
    return f"{bundle.name} {bundle.version}, {bundle.embedding_dim}-d, {ranker}"


def provider_summary(choice: str = "auto") -> str:
    """Where inference will run for a provider choice on this machine."""
    gpu = "CUDAExecutionProvider" in ort.get_available_providers()
    if choice == "cpu" or not gpu:
        suffix = "" if choice == "cpu" else " (no CUDA GPU found)"
        return f"CPU{suffix}, ONNX Runtime {ort.__version__}"
    return f"GPU (CUDA), ONNX Runtime {ort.__version__}"
