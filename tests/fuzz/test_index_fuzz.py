"""Folders of hostile image files, under hostile names, indexed by `visuallens index` under the memory limit: it
exits 0 without a traceback, every photo file is either indexed or reported once, valid pictures of ordinary
proportions are indexed, and the profile keeps every photo it held."""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from engine.imaging.decode import open_oriented
from engine.imaging.preprocess import PreprocessSpec, to_tensor
from tests.fuzz.harness import Profile, assert_clean, assert_profile_intact, fuzz_settings, run_cli
from tests.fuzz.strategies import (
    FuzzFile,
    FuzzImage,
    dir_names,
    fuzz_files,
    is_candidate,
    shown,
    thin_image,
    valid_images,
)

pytestmark = pytest.mark.fuzz

SPEC = PreprocessSpec(image_size=224, resize_size=256, mean=(0.5,) * 3, std=(0.5,) * 3)  # the lite bundle's
SUMMARY = re.compile(r"(\d+) photos scanned: (\d+) added, .*? (\d+) skipped")


@dataclass(frozen=True)
class Batch:
    """Files in a library folder `outer/top` and its subfolder `sub` (`in_sub`): `top` is what gets indexed."""

    outer: str
    top: str
    sub: str
    files: tuple[tuple[bool, FuzzFile], ...]


batches = st.builds(
    Batch, dir_names(), dir_names(), dir_names(),
    st.lists(st.tuples(st.booleans(), fuzz_files()), min_size=1, max_size=20,
             unique_by=lambda placed: (placed[0], str(placed[1].name).encode("utf-8", "surrogateescape"))).map(tuple),
)
# A form of the folder argument: plain, trailing slash, through "." or "..".
ARGUMENTS = ("{top}", "{top}/", "{top}/.", "{top}/{sub}/..")
KNOWN_FINDING_1 = Batch("thin", "strips", "sub", ((False, FuzzFile("tall.png", thin_image(1, 100_000))),
                                                 (True, FuzzFile("wide.png", thin_image(100_000, 1)))))


@fuzz_settings(examples=12, subprocess_per_example=True)
@given(batch=batches, argument=st.sampled_from(ARGUMENTS), as_json=st.booleans())
@example(batch=KNOWN_FINDING_1, argument="{top}", as_json=True)
def test_hostile_folders_are_indexed_or_reported_once(fuzz_profile: Profile, tmp_path_factory, batch: Batch,
                                                      argument: str, as_json: bool):
    assume(all(in_sub or os.fsencode(file.name) != batch.sub.encode() for in_sub, file in batch.files))
    top = tmp_path_factory.mktemp("batch").resolve() / batch.outer / batch.top
    (top / batch.sub).mkdir(parents=True)
    candidates, photos = set(), set()
    for in_sub, file in batch.files:
        path = file.write(top / batch.sub if in_sub else top)
        if is_candidate(file.name) and not (in_sub and batch.sub.startswith(".")):
            candidates.add(path)
            if file.image.photo and path == shown(path):  # names that are not UTF-8 are refused by design
                photos.add(path)

    result = run_cli(fuzz_profile.env, "index", argument.format(top=top, sub=batch.sub), *["--json"] * as_json)
    assert_clean(result, {0}, batch)
    held = assert_profile_intact(fuzz_profile)
    indexed = {path for path in held if path.startswith(f"{top}/")}
    assert photos <= indexed, f"valid pictures not indexed: {sorted(photos - indexed)}\n{batch}"
    assert indexed <= candidates, sorted(indexed - candidates)
    if as_json:
        report = json.loads(result.stdout)
        failed = [failure["path"] for failure in report["failed"]]
        assert len(failed) == len(set(failed)), "a file was reported twice"
        assert set(failed).isdisjoint(indexed) and set(failed) | indexed == {shown(p) for p in candidates}, batch
        assert report["added"] == len(indexed)
        assert all("\n" not in failure["reason"] for failure in report["failed"])
    else:
        scanned, added, skipped = map(int, SUMMARY.search(" ".join(result.stdout.split())).groups())
        listed = {path for path in candidates if path == shown(path) and os.path.getsize(path)}  # else a scan problem
        assert (scanned, added, skipped) == (len(listed), len(indexed), len(candidates) - len(indexed)), batch
        assert_clean(run_cli(fuzz_profile.env, "status"), {0})  # its table shows the library folders


@fuzz_settings(examples=60)
@given(image=valid_images())
def test_valid_pictures_become_the_encoder_input(image: FuzzImage):
    """In process (many more pictures than the CLI runs see): a valid picture of ordinary proportions decodes to
    a finite tensor of the encoder's input shape."""
    assume(image.photo)
    tensor = to_tensor(open_oriented(io.BytesIO(image.data), SPEC.resize_size), SPEC)
    assert tensor.shape == (3, 224, 224) and np.isfinite(tensor).all()
