"""Build the benchmark's `clip` bundle: open_clip ViT-B-32 with random weights (the FLOPs of the real one), fp32.

Runs in the clip export environment (open_clip needs torchvision; see the README):
    .venv-clip/bin/python -m benchmarks.perf.clip_bundle --out DIR
The captioner is the tiny random ViT + GPT-2 the tests use: no captioner weights can be downloaded here, and
the benchmark measures the retrieval encoder (a real captioner would add its own cost to indexing).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

MODEL = "ViT-B-32"


def build(out: Path, precision: str = "fp32") -> Path:
    from export.captioner.tiny import build_tiny_captioner
    from export.clip_bundle import build_clip_bundle

    with tempfile.TemporaryDirectory(prefix="visuallens-bench-captioner-") as tmp:
        captioner = build_tiny_captioner(Path(tmp) / "captioner")
        return build_clip_bundle(Path(out), MODEL, str(captioner), precision, name="clip", force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--precision", default="fp32", choices=("fp32", "int8"))
    args = parser.parse_args()
    print(build(args.out, args.precision))


if __name__ == "__main__":
    main()
