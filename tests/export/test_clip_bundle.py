"""The `clip` bundle end to end: tiny random open_clip + tiny captioner -> bundle -> the engine's main job."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

open_clip = pytest.importorskip("open_clip")
torch = pytest.importorskip("torch")
pytestmark = pytest.mark.clip

PASS = "correct horse battery staple"


def vl(env, *args):
    result = subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True,
                            env={**os.environ, **env}, stdin=subprocess.DEVNULL, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def clip_bundle(tmp_path_factory):
    """Built through the real command, from a tiny random open_clip checkpoint and a tiny captioner folder."""
    from export.captioner.tiny import build_tiny_captioner
    from export.clip.tiny import TINY, TINY_CONFIG, register_tiny_clip

    root = tmp_path_factory.mktemp("clip")
    captioner = build_tiny_captioner(root / "hf-captioner")
    config = root / "tiny-config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    checkpoint = root / "tiny.pt"
    torch.save(open_clip.create_model(register_tiny_clip()).state_dict(), checkpoint)
    out = root / "bundles" / "clip"
    result = subprocess.run(
        [sys.executable, "-m", "export.cli", "bundle", "clip", "--clip", f"{TINY}:{checkpoint}", "--model-config",
         str(config), "--captioner", str(captioner), "--precision", "int8", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "parity captioner" in result.stdout
    return out


def test_manifest_records_every_part_and_its_parity(clip_bundle):
    from engine.models.bundle import load_bundle, read_manifest

    bundle = load_bundle(clip_bundle)
    manifest = read_manifest(bundle.path)  # as the export wrote it, fields the engine does not read included
    assert (manifest["name"], manifest["precision"], manifest["embedding_dim"]) == ("clip", "int8", 32)
    assert manifest["describer"]["kind"] == "captioner"
    assert set(manifest["parity"]) >= {"image_encoder", "text_encoder", "captioner"}
    assert manifest["parity"]["image_encoder"]["median_cosine"] > 0.98
    assert {"captioner/encoder_model.onnx", "captioner/decoder_model_merged.onnx"} <= set(manifest["files"])
    assert "bundle clip --clip visuallens-tiny-clip" in manifest["built_by"]["command"]


def test_engine_indexes_searches_and_recommends_with_the_clip_bundle(clip_bundle, photo_dir, tmp_path):
    env = {"VISUALLENS_HOME": str(tmp_path / "home"), "VISUALLENS_BUNDLES": str(clip_bundle.parent),
           "VISUALLENS_PASSPHRASE": PASS}
    vl(env, "init", "--no-keyring", "--bundle", "clip")
    report = json.loads(vl(env, "index", photo_dir, "--json"))
    assert report["added"] == 4 and report["failed"] == []
    assert len(json.loads(vl(env, "search", "a cat", "--json"))) == 4

    catalog = tmp_path / "catalog.csv"
    lines = ["id,name,category,description,image"]
    for i, photo in enumerate(sorted(photo_dir.iterdir())):
        shutil.copy(photo, tmp_path / photo.name)
        lines.append(f"i{i},item {i},outing,,{photo.name}")
    catalog.write_text("\n".join(lines) + "\n")
    answer = json.loads(vl(env, "recommend", "--category", "outing", "--catalog", catalog, "-w", "4", "--json"))
    assert answer["scorer"] == "zero-shot scorer" and answer["photos_used"] == 4
    assert [r["rank"] for r in answer["ranking"]] == [1, 2, 3, 4]

    status = json.loads(vl(env, "status", "--json"))
    assert status["bundle"] == "clip" and "captioner" in status["bundle_parity"]

    from engine.api import unlock
    from engine.home import Home

    os.environ.update(env)
    try:
        with unlock(Home.default()) as lens:
            captions = [h.caption for h in lens.search("a cat", k=4)]
    finally:
        for key in env:
            os.environ.pop(key)
    assert all(len(c.split()) <= 30 for c in captions)
