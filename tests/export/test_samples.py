"""The sample photo folder built from Debian packages, and the `samples` CLI."""

from __future__ import annotations

from collections import Counter

import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from export.data.cli import app
from export.data.samples import MARKER, SampleBuildError, build_sample_photos, publish

pytestmark = pytest.mark.slow  # not in `./run test fast`

IMAGE_SUFFIXES = {".png", ".jpg", ".webp", ".heic"}


def test_a_folder_that_is_not_a_sample_folder_is_left_alone(tmp_path):
    (tmp_path / "mine.jpg").write_bytes(b"my photo")
    with pytest.raises(SampleBuildError, match=f"{tmp_path}: exists and is not an empty folder"):
        build_sample_photos(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.jpg"]


def test_publish_moves_a_complete_build_into_place_or_nothing(tmp_path):
    def failing(stage):
        (stage / "half.txt").write_text("half")
        raise RuntimeError("registry down")

    out = tmp_path / "samples"
    out.mkdir()  # an empty folder is taken over
    with pytest.raises(RuntimeError, match="registry down"):
        publish(out, {"n": 1}, failing)
    assert [p.name for p in tmp_path.iterdir()] == ["samples"] and not any(out.iterdir())

    built = []
    publish(out, {"n": 1}, lambda stage: built.append((stage / "done.txt").write_text("done")))
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "done.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["samples"]  # no staging folder left beside it
    publish(out, {"n": 1}, lambda stage: built.append(1))  # cached: not built again
    assert len(built) == 1


def test_cli_reports_errors_in_one_line(tmp_path):
    (tmp_path / "mine.jpg").write_bytes(b"my photo")
    result = CliRunner().invoke(app, ["photos", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "exists and is not an empty folder" in result.output and "Traceback" not in result.output
    assert CliRunner().invoke(app, ["photos", "--out", str(tmp_path / "new"), "--count", "3"]).exit_code == 2


def test_real_sample_photos(tmp_path):
    out = build_sample_photos(tmp_path / "photos", count=320, seed=0)
    files = [p for p in out.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
    assert len(files) == 320
    formats = Counter(p.suffix for p in files)
    assert formats[".png"] > 250 and formats[".jpg"] >= 13 and formats[".webp"] >= 5 and formats[".heic"] >= 5
    assert {"food", "nature", "misc", "2024 trip"} <= {p.relative_to(out).parts[0] for p in files}

    from pillow_heif import register_heif_opener

    register_heif_opener()
    rotated, widest = 0, 0
    for path in files:
        with Image.open(path) as img:
            widest = max(widest, img.width)
            if img.format == "JPEG" and img.getexif().get(0x0112) == 6:
                rotated += 1
                stored = img.size
                assert ImageOps.exif_transpose(img).size == stored[::-1]
    assert rotated >= 5 and widest >= 5000
    sources = (out / "SOURCES.txt").read_text()
    assert "tuxpaint-stamps-default 2022" in sources and "mate-backgrounds 1." in sources and "GPL-2" in sources
    assert sources.count("\ttuxpaint-stamps-default\t") == 307

    again = build_sample_photos(tmp_path / "photos", count=320, seed=0)
    assert again == out and len([p for p in out.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]) == 320
    assert (build_sample_photos(tmp_path / "same seed") / "SOURCES.txt").read_text() == sources
    with pytest.raises(SampleBuildError, match="already built with"):
        build_sample_photos(tmp_path / "photos", count=300)
