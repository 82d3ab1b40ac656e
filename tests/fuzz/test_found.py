"""What the fuzz suite found, each as its smallest reproducer (so it stays found once fixed)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest

from engine.api import initialise, unlock
from engine.catalog.items import CatalogError
from engine.catalog.loaders import load_catalog
from engine.home import Home
from engine.models.bundle import MANIFEST, BundleError, load_bundle
from engine.profile.keys import KeyManager, KeyStoreError
from engine.serve.server import LocalServer
from tests.fuzz.harness import PASS, assert_clean, run_cli
from tests.fuzz.test_bundle_fuzz import link_or_copy
from tests.fuzz.test_keys_fuzz import FAST_KDF

pytestmark = pytest.mark.fuzz


# -- the CLI prints paths and names as console markup (engine/cli/) -----------------------------------------------
@pytest.fixture()
def cli_profile(home) -> dict[str, str]:
    env = dict(os.environ)
    assert_clean(run_cli(env, "init", "--no-keyring"), {0})
    return env


def test_console_markup_in_photo_paths_does_not_crash_the_cli(cli_profile, photo_dir, tmp_path):
    """A folder `q[` holding a folder `b]` makes the path `q[/b]`: a closing markup tag with nothing open."""
    library = tmp_path / "q[" / "b]"
    library.mkdir(parents=True)
    shutil.copy(photo_dir / "coffee.jpg", library)
    (library / "broken.jpg").write_text("not a picture")
    indexed = run_cli(cli_profile, "index", library)
    assert_clean(indexed, {0})
    assert f"{library}/broken.jpg" in indexed.stderr  # shown as it is, not read as markup
    for args in (["status"], ["search", "coffee"]):
        assert_clean(run_cli(cli_profile, *args), {0})


def test_console_markup_in_catalog_names_does_not_crash_recommend(cli_profile, photo_dir, tmp_path):
    assert_clean(run_cli(cli_profile, "index", photo_dir), {0})
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("id,name,category\nc1,[/b] cafe,outing\nc2,[bold]tea[/i],outing\n")
    result = run_cli(cli_profile, "recommend", "--catalog", catalog, "--category", "outing")
    assert_clean(result, {0})
    assert "[/b] cafe" in result.stdout


# -- the API: a NUL byte in image_path (engine/serve/service.py) ----------------------------------------------
def test_an_image_path_with_a_nul_byte_is_refused_like_any_other(home, photo_dir, tmp_path):
    initialise(Home.default(), PASS, use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.store.add_folder(str(photo_dir))  # library folders are compared with the path
        with LocalServer(lens, port=0, config=tmp_path / "config") as server:
            answers = [httpx.post(server.url + "/recommend", headers={"Authorization": f"Bearer {server.token}"},
                                  json={"category": "x", "candidates": [{"id": "a", "name": "x", "image_path": path}]})
                       for path in ("/tmp/a\x00b.jpg", "/nonexistent/b.jpg")]
    assert [a.status_code for a in answers] == [422, 422], answers[0].text
    assert answers[0].json() == answers[1].json()


# -- catalogs (fixed in engine/catalog/) -----------------------------------------------------------------------
@pytest.mark.parametrize("image", ["x" * 300, "a\x00b.png", "\ud800.png"])
def test_image_paths_the_file_system_refuses_are_catalog_errors(tmp_path, image):
    """Were OSError (name too long: a traceback from the CLI), ValueError and UnicodeEncodeError."""
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps([{"id": "a", "name": "A", "category": "c", "image": image}]))
    with pytest.raises(CatalogError, match=r"catalog\.json: item 1 \('a'\): unusable image path"):
        load_catalog(path)


@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, '[{"id": ' + "1" * 5000 + "}]"])
def test_json_the_parser_gives_up_on_is_a_catalog_error(tmp_path, content):
    """Were RecursionError (a traceback from the CLI) and a ValueError not naming the file."""
    path = tmp_path / "catalog.json"
    path.write_text(content)
    with pytest.raises(CatalogError, match=r"catalog\.json: invalid JSON"):
        load_catalog(path)


def test_carriage_returns_inside_csv_cells_are_kept(tmp_path):
    """The file was read with universal newlines: a quoted "\\r" became "\\n"."""
    path = tmp_path / "catalog.csv"
    path.write_bytes(b'id,name,category,description\r\na,A,c,"one\rtwo"\r\n')
    assert load_catalog(path).items[0].description == "one\rtwo"


def test_category_names_with_newlines_stay_on_one_line(tmp_path):
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps([{"id": "a", "name": "A", "category": "x\ny"}]))
    with pytest.raises(CatalogError) as refused:
        load_catalog(path).in_category("w")
    assert "\n" not in str(refused.value) and "x\\ny" in str(refused.value)


# -- key files (fixed in engine/profile/keys.py) ---------------------------------------------------------------
@pytest.fixture()
def key_file(tmp_path) -> tuple[KeyManager, dict]:
    keys = KeyManager(tmp_path, kdf_params=FAST_KDF)
    keys.create(PASS, use_keyring=False)
    return keys, json.loads(keys.path.read_text())


def _kdf(**change):
    return lambda document: document["wrappings"][0]["kdf"].update(change)


def _wrapping(**change):
    return lambda document: document["wrappings"][0].update(change)


@pytest.mark.parametrize("damage", [
    _kdf(memory_cost=2**40),  # was OverflowError
    _kdf(memory_cost=2**32 - 1),  # was argon2 HashingError (memory allocation error)
    _kdf(time_cost=10**9),  # was hours of Argon2 before any answer
    _kdf(time_cost="3"),  # was TypeError
    _kdf(parallelism=0),  # was HashingError
    _wrapping(kdf="argon2"),  # was TypeError
    _wrapping(salt="not base64!"),  # was binascii.Error: the CLI said "bad input" (exit 6), not "locked" (4)
    _wrapping(salt="AAAA"),  # was HashingError: salt too short
    _wrapping(nonce=""),  # was ValueError
    lambda document: document.update(wrappings=["x"]),  # was TypeError
], ids=["memory 2^40", "memory 4 GiB", "time 10^9", "time text", "no lanes", "kdf text", "salt text", "short salt",
        "no nonce", "wrappings text"])
def test_a_damaged_key_file_is_a_key_store_error(key_file, damage):
    keys, document = key_file
    damage(document)
    keys.path.write_text(json.dumps(document))
    with pytest.raises(KeyStoreError, match="key file"):
        keys.unlock(PASS)


@pytest.mark.parametrize("content", [b"[" * 100_000 + b"]" * 100_000, b'{"version": 1, "wrappings": ["x"]}',
                                     b'{"version": 1}'])
def test_a_damaged_key_file_is_named_and_still_destroyed(key_file, content):
    """Were RecursionError, TypeError and KeyError: `visuallens wipe` could not delete a damaged key file."""
    keys, _ = key_file
    keys.path.write_bytes(content)
    with pytest.raises(KeyStoreError, match="key file"):
        keys.protections()
    keys.destroy()
    assert not keys.path.exists()


def test_wipe_deletes_a_profile_whose_key_file_is_damaged(cli_profile):
    keys = Path(cli_profile["VISUALLENS_HOME"]) / "keys.json"
    keys.write_text('{"version": 1, "wrappings": ["x"]}')
    assert_clean(run_cli(cli_profile, "status"), {4})
    assert_clean(run_cli(cli_profile, "wipe", "--yes"), {0})
    assert not keys.exists()


# -- bundle manifests (fixed in engine/models/bundle.py) -------------------------------------------------------
@pytest.fixture()
def bundle_copy(lite_bundle, tmp_path) -> Path:
    """The lite bundle as hard links (a bundle's files cannot be symlinks), with a manifest of its own."""
    folder = tmp_path / "lite"
    shutil.copytree(lite_bundle, folder, copy_function=link_or_copy, ignore=shutil.ignore_patterns(MANIFEST))
    (folder / MANIFEST).write_text((lite_bundle / MANIFEST).read_text())
    return folder


def _manifest(**change):
    return lambda manifest: manifest.update(change)


@pytest.mark.parametrize("damage", [
    _manifest(files=["image_encoder.onnx"]),  # was AttributeError
    _manifest(embedding_dim=None),  # was TypeError
    _manifest(image_encoder="image_encoder.onnx"),  # was TypeError
    lambda manifest: manifest["files"].update({"x" * 300: {"sha256": "0" * 64}}),  # was OSError (name too long)
    lambda manifest: manifest["files"].update({"../lite/manifest.json": {"sha256": "0" * 64}}),  # verified outside
    lambda manifest: manifest["image_encoder"].update(outputs=[{"name": "embedding", "shape": []}]),  # IndexError
    lambda manifest: manifest["ranker"].update(summary=7),  # GET /status answered 500
    lambda manifest: manifest["text_encoder"].update(pad_id="x"),  # `search` exited 6, "bad input"
    lambda manifest: manifest["image_encoder"].pop("preprocess"),  # KeyError: `status` ended in a traceback
    lambda manifest: manifest["image_encoder"]["preprocess"].update(mean="abc"),  # `status` exited 6, "bad input"
], ids=["files list", "dim null", "section text", "long name", "outside", "empty shape", "summary int", "pad_id text",
        "no preprocess", "mean text"])
def test_a_manifest_of_the_wrong_shape_is_a_bundle_error(bundle_copy, damage):
    manifest = json.loads((bundle_copy / MANIFEST).read_text())
    damage(manifest)
    (bundle_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"manifest\.json: |x{300}: cannot be read"):
        load_bundle(bundle_copy, verify_checksums=False)


def test_a_deeply_nested_manifest_is_a_bundle_error(bundle_copy):
    """Was RecursionError: `visuallens status` ended in a traceback instead of naming the bundle."""
    (bundle_copy / MANIFEST).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BundleError, match="unreadable manifest"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize("change", [{"interpolation": "cubic"}, {"image_size": 0}, {"mean": [0.5, 0.5]},
                                    {"std": [0, 0, 0]}], ids=["interpolation", "size 0", "two means", "std 0"])
def test_preprocessing_the_encoder_cannot_run_is_a_bundle_error(bundle_copy, change):
    """`PreprocessSpec.from_manifest` (engine/imaging/preprocess.py) takes these, and `load_bundle` checks the
    manifest with it; `to_tensor` then raises KeyError ('cubic'), makes 0x0 tensors, raises ValueError (NumPy
    broadcast) or makes infinite values, in every indexing lane."""
    manifest = json.loads((bundle_copy / MANIFEST).read_text())
    manifest["image_encoder"]["preprocess"].update(change)
    (bundle_copy / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="preprocess"):
        load_bundle(bundle_copy, verify_checksums=False)
