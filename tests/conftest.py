"""Shared fixtures: the real `lite` bundle (built once per run), real sample photos, an isolated data dir."""

from __future__ import annotations

import ast
import importlib.util
import itertools
import json
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

# The open_clip environment (`./run test`'s second step) has no Qt: the desktop tests belong to the main one.
collect_ignore = [] if importlib.util.find_spec("PySide6") else ["desktop"]

# Never touch the developer's real keyring or data dir from tests.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # as engine/__init__.py does; a test module may import onnxruntime first
os.environ.pop("VISUALLENS_HOME", None)
os.environ.pop("VISUALLENS_PASSPHRASE", None)

BUNDLE_ENV = "VISUALLENS_TEST_BUNDLE"
BUILT_BUNDLE = pytest.StashKey[Path]()

SKIMAGE_PHOTOS = {  # real photographs shipped with scikit-image
    "chelsea.png": "chelsea",  # a tabby cat
    "coffee.jpg": "coffee",  # a cup of coffee
    "rocket.jpg": "rocket",  # a rocket on the launch pad
    "astronaut.png": "astronaut",  # an astronaut portrait
}


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    """The app promises no network at run time: any non-loopback connection attempt fails the test."""
    original = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if self.family == socket.AF_UNIX or str(host) in ("127.0.0.1", "::1", "localhost"):
            return original(self, address)
        raise AssertionError(f"network access attempted during tests: {address!r}")

    socket.socket.connect = guarded
    yield
    socket.socket.connect = original


def _module_marks(path: Path) -> set[str]:
    """The markers a test module's `pytestmark = pytest.mark.NAME` (or a list of them) puts on all its tests."""
    marks: set[str] = set()
    for node in ast.parse(path.read_bytes(), str(path)).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, (ast.List, ast.Tuple)) else [node.value]
            for value in values:
                value = value.func if isinstance(value, ast.Call) else value
                if (isinstance(value, ast.Attribute) and isinstance(value.value, ast.Attribute)
                        and value.value.attr == "mark" and isinstance(value.value.value, ast.Name)):
                    marks.add(value.attr)
    return marks


def _deselects_every_test(expression: str, marks: set[str]) -> bool:
    """Whether `-m expression` is false for a test with `marks`, whatever other markers the test has."""
    if not marks or "=" in expression:  # keyword arguments of markers: leave it to pytest
        return False
    others = sorted(set(re.findall(r"[\w:+\-.\[\]\\/]+", expression)) - {"and", "or", "not"} - marks)
    if len(others) > 8:
        return False
    from _pytest.mark.expression import Expression

    compiled = Expression.compile(expression)
    for values in itertools.product((False, True), repeat=len(others)):
        given = dict(zip(others, values))
        if compiled.evaluate(lambda name, /, **kwargs: name in marks or given.get(name, False)):
            return False
    return True


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Not even import a test module whose `pytestmark` makes `-m` deselect all its tests (`./run test fast` and the
    slow, clip and fuzz modules): importing the export and fuzz modules loads torch, NLTK and Hypothesis, a quarter
    of a minute of the fast tier. Other runs, and modules with tests of their own marks, are collected as usual."""
    expression = config.option.markexpr
    if not expression or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return True if _deselects_every_test(expression, _module_marks(collection_path)) else None


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the real `lite` bundle once, before the first test that needs it, outside the per-test timeouts: the
    build trains its ranker and takes minutes. `VISUALLENS_TEST_BUNDLE` may point at a prebuilt one instead."""
    if session.config.option.collectonly or os.environ.get(BUNDLE_ENV) or not any("lite_bundle" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    from export.lite.build import build_lite_bundle

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"building the lite bundle with its trained ranker for the tests (~15 min; {BUNDLE_ENV} skips it)")
    folder = Path(tempfile.mkdtemp(prefix="visuallens-test-bundle-"))
    session.config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    session.config.stash[BUILT_BUNDLE] = build_lite_bundle(folder / "lite")


@pytest.fixture(scope="session")
def lite_bundle(request: pytest.FixtureRequest) -> Path:
    """The real offline bundle, with its trained ranker."""
    prebuilt = os.environ.get(BUNDLE_ENV)
    return Path(prebuilt) if prebuilt else request.config.stash[BUILT_BUNDLE]


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """A folder of real photographs (scikit-image samples) in PNG and JPEG."""
    from PIL import Image
    from skimage import data

    root = tmp_path_factory.mktemp("photos")
    for name, attr in SKIMAGE_PHOTOS.items():
        Image.fromarray(getattr(data, attr)()).convert("RGB").save(root / name)
    return root


@pytest.fixture()
def home(tmp_path, lite_bundle, monkeypatch, request) -> Path:
    """An isolated VisualLens data dir with the lite bundle installed and a passphrase for unlocking.

    Profiles made in this process derive their key file's key with test_keys' fast Argon2id parameters (the key file
    records them, so later unlocks, in subprocesses too, are fast): the real ones take a few tenths of a second on
    every initialise and unlock, about a fifth of the fast tier. The tests of the real parameters ask for `real_kdf`;
    profiles made by `visuallens init` in a subprocess of its own get them too."""
    from engine.profile import keys
    from tests.engine.test_keys import FAST_KDF

    root = tmp_path / "home"
    bundles = tmp_path / "bundles"
    bundles.mkdir()
    (bundles / "lite").symlink_to(lite_bundle, target_is_directory=True)
    monkeypatch.setenv("VISUALLENS_HOME", str(root))
    monkeypatch.setenv("VISUALLENS_BUNDLES", str(bundles))
    monkeypatch.setenv("VISUALLENS_PASSPHRASE", "correct horse battery staple")
    if "real_kdf" not in request.fixturenames:
        monkeypatch.setattr(keys, "DEFAULT_KDF", FAST_KDF)
    return root


@pytest.fixture()
def real_kdf() -> None:
    """Asked for by a test, `home` leaves the Argon2id parameters a real profile gets in place."""


@pytest.fixture()
def catalog(tmp_path, photo_dir) -> Path:
    """A three-item CSV catalog ("outing": cat cafe, coffee roastery, rocket launch viewing) with photo images."""
    path = tmp_path / "catalog.csv"
    rows = ["id,name,category,description,image"]
    for item_id, name, image in [("c1", "cat cafe", "chelsea.png"), ("c2", "coffee roastery", "coffee.jpg"),
                                 ("c3", "rocket launch viewing", "rocket.jpg")]:
        shutil.copy(photo_dir / image, tmp_path / image)
        rows.append(f"{item_id},{name},outing,,{image}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture()
def sample_set(tmp_path, photo_dir, catalog, monkeypatch) -> Path:
    """A sample set where `VISUALLENS_SAMPLES` points: Ada photographs cats and coffee, Bo rockets and astronauts;
    the `catalog` fixture is the question both are asked."""
    root = tmp_path / "samples"
    for folder, names in {"ada": ("chelsea.png", "coffee.jpg"), "bo": ("rocket.jpg", "astronaut.png")}.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(photo_dir / name, root / folder / name)
    shutil.copy(catalog, root / "catalog.csv")
    for image in ("chelsea.png", "coffee.jpg", "rocket.jpg"):
        shutil.copy(catalog.parent / image, root / image)
    people = [{"name": "Ada", "taste": "cats and coffee", "folder": "ada"},
              {"name": "Bo", "taste": "rockets and astronauts", "folder": "bo"}]
    (root / "people.json").write_text(json.dumps({"catalog": "catalog.csv", "questions": ["outing"],
                                                  "people": people}), encoding="utf-8")
    monkeypatch.setenv("VISUALLENS_SAMPLES", str(root))
    return root
