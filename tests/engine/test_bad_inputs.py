"""A generated corpus of bad and odd inputs: each bad file is reported once with a clear reason and skipped, every
odd but valid photo is indexed, the run goes on, and the count of indexed photos is exact."""

from __future__ import annotations

import io
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from skimage import data

from engine.api import initialise, unlock
from engine.home import Home
from engine.profile.store import ProfileStore
from tests.engine.fault_tools import REPO, cli_command, unprivileged

PASS = "correct horse battery staple"
BOMB = r"decompression bomb|pixel limit"
STRIP = r"too long and thin for a photo"
BROKEN = r"corrupt or truncated image|not a recognised image format"
UNKNOWN = r"^not a recognised image format$"
NON_UTF8 = b"caf\xe9 \xff.jpg"  # Latin-1 bytes: not valid UTF-8


def _sample(name: str, side: int = 256) -> Image.Image:
    image = Image.fromarray(getattr(data, name)())
    return image.resize((side, max(1, side * image.height // image.width)))


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """A JPEG with an extra APP1 (EXIF) segment right after SOI."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _png_bomb(side: int) -> bytes:
    """A real, valid 1-bit PNG of side x side pixels (all black): a few KB that decode to side² bytes or more."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    packer, row = zlib.compressobj(9), b"\0" * (1 + (side + 7) // 8)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def _strip_png(width: int, height: int) -> bytes:
    """A valid PNG a few hundred bytes long that is one pixel thick: encoders would scale its short side up."""
    return _encoded(Image.new("RGB", (width, height), (200, 40, 40)), "PNG", optimize=True)


def _jpeg_bomb() -> bytes:
    """A small JPEG whose frame header claims 65000 x 65000 pixels."""
    jpeg = bytearray(_encoded(_sample("coins", 64).convert("RGB"), "JPEG"))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(jpeg)


def _webp_bomb() -> bytes:
    """A lossless WebP whose VP8L header claims 16384 x 16384 pixels."""
    webp = bytearray(_encoded(_sample("moon", 64).convert("RGB"), "WEBP", lossless=True))
    at = webp.index(b"VP8L") + 9
    bits = struct.unpack("<I", webp[at : at + 4])[0] & ~((1 << 28) - 1)
    webp[at : at + 4] = struct.pack("<I", bits | 16383 | 16383 << 14)
    return bytes(webp)


HUGE_JPEG = """
import sys
from PIL import Image
from skimage import data
Image.fromarray(data.coffee()).resize((12000, 9000), Image.Resampling.NEAREST).save(sys.argv[1], quality=60)
"""


def build_corpus(root: Path, photo_dir: Path, permissions: bool) -> tuple[set[str], dict[str, str]]:
    """Write the corpus under `root`; returns the paths that must be indexed and {bad path: expected reason}."""
    good: dict[str, bytes] = {}
    bad: dict[str, tuple[bytes, str]] = {}
    for photo in sorted(photo_dir.iterdir()):
        good[photo.name] = photo.read_bytes()
    chelsea, coffee, rocket, camera = (_sample(n) for n in ("chelsea", "coffee", "rocket", "camera"))
    jpeg = _encoded(coffee, "JPEG")
    png = _encoded(rocket, "PNG")
    heic = _encoded(chelsea, "HEIF")
    good["modes/cmyk.jpg"] = _encoded(chelsea.convert("CMYK"), "JPEG")
    good["modes/gray.jpg"] = _encoded(camera, "JPEG")
    good["modes/gray16.png"] = _encoded(Image.fromarray(data.camera().astype("uint16") * 257), "PNG")
    good["modes/palette.png"] = _encoded(coffee.convert("P", palette=Image.Palette.ADAPTIVE), "PNG")
    good["modes/palette-transparent.gif"] = _encoded(rocket.convert("P"), "GIF", transparency=0)
    alpha = rocket.convert("RGBA")
    alpha.putalpha(Image.linear_gradient("L").resize(alpha.size))
    good["modes/alpha.png"] = _encoded(alpha, "PNG")
    good["modes/gray-alpha.png"] = _encoded(alpha.convert("LA"), "PNG")
    frames = [chelsea, ImageOps.mirror(chelsea), chelsea.rotate(10)]
    good["animated.gif"] = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    good["animated.webp"] = _encoded(frames[1], "WEBP", save_all=True, append_images=frames[2:], duration=100)
    good["photo.heic"] = heic
    good["exif/garbage.jpg"] = _with_app1(jpeg, b"Exif\x00\x00" + b"\x13\x37" * 40)
    bad_offset, truncated_ifd = b"II*\x00\x00\xff\xff\xff", b"MM\x00*\x00\x00\x00\x08\x00\x05\x01\x12"
    good["exif/bad-ifd-offset.jpg"] = _with_app1(_encoded(chelsea, "JPEG"), b"Exif\x00\x00" + bad_offset)
    good["exif/truncated-ifd.jpg"] = _with_app1(_encoded(rocket, "JPEG"), b"Exif\x00\x00" + truncated_ifd)
    exif = Image.Exif()
    exif[0x0112] = 9  # orientation out of range
    good["exif/orientation-9.jpg"] = _encoded(camera.rotate(5), "JPEG", exif=exif.tobytes())
    good["a" * 251 + ".jpg"] = _encoded(coffee.rotate(3), "JPEG")  # a 255-byte name
    good["é" * 125 + "x.jpg"] = _encoded(coffee.rotate(6), "JPEG")  # 255 bytes of UTF-8
    good["panorama-12-to-1.jpg"] = _encoded(coffee.resize((1200, 100)), "JPEG")

    bad["empty.jpg"] = (b"", "^empty file$")
    bad["empty.heic"] = (b"", "^empty file$")
    bad["truncated.jpg"] = (jpeg[: len(jpeg) // 3], BROKEN)
    bad["truncated.png"] = (png[: len(png) // 2], BROKEN)
    bad["truncated.heic"] = (heic[: len(heic) * 2 // 3], BROKEN)
    noise = np.random.default_rng(6).integers(0, 256, 8192, dtype=np.uint8).tobytes()  # fixed: no lucky magic
    for suffix in ("jpg", "png", "webp", "heic", "gif", "tiff"):
        bad[f"noise.{suffix}"] = (noise, UNKNOWN)
    bad["notes.jpg"] = (b"shopping list: eggs, milk\n" * 20, UNKNOWN)
    bad["bombs/bomb.png"] = (_png_bomb(15000), BOMB)
    bad["bombs/bomb.jpg"] = (_jpeg_bomb(), BOMB)
    bad["bombs/bomb.webp"] = (_webp_bomb(), BOMB)
    bad["strips/1x2000.png"] = (_strip_png(1, 2000), STRIP)
    bad["strips/3000x2.png"] = (_strip_png(3000, 2), STRIP)
    if permissions:
        bad["unreadable.jpg"] = (jpeg, "^permission denied: cannot read file$")
        bad["locked"] = (b"", "^permission denied: cannot list folder$")

    for name, content in good.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    subprocess.run([sys.executable, "-c", HUGE_JPEG, str(root / "huge-12000x9000.jpg")], check=True)
    for name, (content, _) in bad.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if name == "locked":
            (root / "locked").mkdir()
            (root / "locked/hidden-by-permissions.jpg").write_bytes(jpeg)
            (root / "locked").chmod(0o000)
        else:
            (root / name).write_bytes(content)
    if permissions:
        (root / "unreadable.jpg").chmod(0o000)
    (root / "loop.jpg").symlink_to(root / "loop.jpg")
    (root / "dangling.jpg").symlink_to(root / "missing.jpg")
    (root / "loops").mkdir()
    (root / "loops/back-to-top").symlink_to(root, target_is_directory=True)  # a folder loop: scanned once
    os.mkfifo(root / "fifo.jpg")
    with open(os.path.join(os.fsencode(root), NON_UTF8), "wb") as file:
        file.write(jpeg)

    expected_bad = {str(root / name): reason for name, (_, reason) in bad.items()}
    expected_bad[str(root / "loop.jpg")] = "^symlink loop$"
    expected_bad[str(root / "dangling.jpg")] = "^broken symlink$"
    expected_bad[str(root / "fifo.jpg")] = "^not a regular file$"
    expected_bad[shown(os.fsdecode(os.path.join(os.fsencode(root), NON_UTF8)))] = "not valid UTF-8"
    return {str(root / name) for name in good} | {str(root / "huge-12000x9000.jpg")}, expected_bad


def shown(path: str) -> str:
    """A path as the CLI prints it: undecodable name bytes become U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@pytest.fixture()
def profile(home) -> Home:
    initialise(Home.default(), passphrase=PASS, use_keyring=False)
    return Home.default()


def _index(command_prefix: list[str], folder: Path) -> dict:
    done = subprocess.run([*command_prefix, *cli_command("index", str(folder), "--json")], check=False, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _assert_failed(report: dict, expected: dict[str, str]) -> None:
    reported = [(item["path"], item["reason"]) for item in report["failed"]]
    assert len(reported) == len({path for path, _ in reported}), "a bad input was reported twice"
    assert {path for path, _ in reported} == set(expected)
    for path, reason in reported:
        assert re.search(expected[path], reason), (path, reason)
        assert "\n" not in reason and len(reason) < 200


@pytest.mark.slow  # three CLI processes over the whole corpus; the fast tier has test_library_profile's bad files
def test_bad_inputs_are_reported_once_and_skipped_and_the_count_is_exact(profile, photo_dir, tmp_path):
    prefix = unprivileged([])
    permissions = prefix is not None
    if not permissions:
        print("\nrunning as root without setpriv: permission cases left out (root ignores permission bits)")
    library = tmp_path / "library"
    library.mkdir()
    good, bad = build_corpus(library, photo_dir, permissions)
    try:
        first = _index(prefix or [], library)
        _assert_failed(first, bad)
        assert (first["added"], first["decoded"]) == (len(good), len(good))

        second = _index(prefix or [], library)
        assert second["failed"] == [] and (second["added"], second["unchanged"]) == (0, len(good))

        (library / "empty.jpg").write_bytes((photo_dir / "coffee.jpg").read_bytes())  # changed: retried
        Image.open(photo_dir / "chelsea.png").convert("RGB").save(library / "truncated.jpg")
        (library / "noise.png").unlink()
        repaired = {str(library / "empty.jpg"), str(library / "truncated.jpg")}
        if permissions:
            (library / "unreadable.jpg").chmod(0o644)  # chmod keeps the mtime: still retried
            repaired.add(str(library / "unreadable.jpg"))
        third = _index(prefix or [], library)
        assert third["failed"] == [] and third["added"] == len(repaired)
    finally:
        if permissions:
            (library / "locked").chmod(0o755)

    with unlock(profile) as lens:
        assert set(lens.photo_paths()) == good | repaired
        left = {failure.path for failure in lens.store.failures()}
        assert len(left) == len(bad) - len(repaired) - 1  # the deleted noise.png is forgotten too
        assert lens.status()["failed"] == len(left)
    print(f"\nbad inputs: {len(bad)} reported once and skipped; odd but valid photos indexed: {len(good)}")


BOMB_CHILD = """
import sys
from engine.imaging.decode import ImageDecodeError, open_oriented
for path in sys.argv[1:]:
    try:
        open_oriented(path, 224)
        print("decoded", path)
    except ImageDecodeError as error:
        print("refused", error)
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print("peak", peak.split()[1])
"""


def _peak_rss_kib(paths: list[Path]) -> tuple[int, list[str]]:
    """Decode `paths` in a fresh process; returns its peak resident set (KiB, VmHWM) and its verdicts.

    Measured by the child itself: wait4's ru_maxrss would include the forked copy of this (big) test process."""
    output = subprocess.run([sys.executable, "-c", BOMB_CHILD, *map(str, paths)], cwd=REPO, capture_output=True,
                            text=True, check=True).stdout.splitlines()
    return int(output[-1].split()[1]), [line.split()[0] for line in output[:-1]]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory is read from /proc (Linux)")
def test_decompression_bombs_are_refused_without_allocating(tmp_path):
    bombs = {"bomb.png": _png_bomb(15000), "bomb.jpg": _jpeg_bomb(), "bomb.webp": _webp_bomb()}
    for name, content in bombs.items():
        (tmp_path / name).write_bytes(content)
    _sample("coffee", 1024).save(tmp_path / "normal.jpg")

    baseline, verdicts = _peak_rss_kib([tmp_path / "normal.jpg"])
    assert verdicts == ["decoded"]
    peak, verdicts = _peak_rss_kib([tmp_path / name for name in bombs])

    assert verdicts == ["refused"] * 3
    assert peak < baseline + 32 * 1024, (peak, baseline)  # decoding the smallest bomb would take 225 MB or more
    print(f"\nbombs refused; peak RSS {peak / 1024:.0f} MiB vs {baseline / 1024:.0f} MiB decoding one normal photo")


ADDRESS_SPACE_LIMIT = 6 * 2**30  # ample for indexing (about 2 GB of address space); a 1 x 100000 strip asked for 26 GB


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


@pytest.mark.slow  # CLI processes under an address-space limit; the fast tier refuses strips in test_serve_pictures
def test_a_few_hundred_bytes_of_one_pixel_strip_are_refused_under_a_memory_limit(profile, photo_dir, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(photo_dir / "coffee.jpg", library)
    strips = {"1x100000.png": _strip_png(1, 100_000), "100000x1.png": _strip_png(100_000, 1)}
    for name, content in strips.items():
        (library / name).write_bytes(content)
    assert all(len(content) < 1000 for content in strips.values())

    done = subprocess.run(cli_command("index", str(library), "--json"), cwd=REPO, capture_output=True, text=True,
                          timeout=300, preexec_fn=_limit_address_space)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    _assert_failed(report, {str(library / name): STRIP for name in strips})
    assert report["added"] == 1
    with unlock(profile) as lens:
        assert lens.photo_paths() == [str(library / "coffee.jpg")]
        assert {f.path for f in lens.store.failures()} == {str(library / name) for name in strips}

    catalog = tmp_path / "catalog.csv"  # a catalog picture that is such a strip: the item is ranked on its name
    shutil.copy(library / "1x100000.png", tmp_path / "strip.png")
    catalog.write_text("id,name,category,description,image\ns,striped awning,shops,,strip.png\n"
                       "c,coffee shop,shops,,\n")
    done = subprocess.run(cli_command("recommend", "--category", "shops", "--catalog", str(catalog), "--json"), cwd=REPO,
                          capture_output=True, text=True, timeout=300, preexec_fn=_limit_address_space)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert {item["id"] for item in json.loads(done.stdout)["ranking"]} == {"s", "c"}


def test_a_photo_that_runs_out_of_memory_is_a_recorded_failure_and_the_run_goes_on(profile, photo_dir, monkeypatch):
    from engine.profile import indexer

    preprocess = indexer.to_tensor

    def out_of_memory_on_the_rocket(img, spec):
        if img.info[indexer.SOURCE_SIZE] == Image.open(photo_dir / "rocket.jpg").size:
            raise MemoryError
        return preprocess(img, spec)

    monkeypatch.setattr(indexer, "to_tensor", out_of_memory_on_the_rocket)
    with unlock(profile) as lens:
        report = lens.index([photo_dir])
        assert report.failed == [(str(photo_dir / "rocket.jpg"), "too large to decode in the memory available")]
        assert report.added == 3 and str(photo_dir / "rocket.jpg") in {f.path for f in lens.store.failures()}


def test_files_that_vanish_between_listing_and_reading_are_reported_once(profile, photo_dir, tmp_path, monkeypatch):
    from engine.profile import indexer

    library = tmp_path / "library"
    shutil.copytree(photo_dir, library)
    for i in range(3):
        Image.open(photo_dir / "coffee.jpg").rotate(90 * (i + 1)).save(library / f"gone-{i}.jpg")
    listed = indexer.scan_folders
    opened = indexer.open_oriented

    def scan_then_delete(*args, **kwargs):  # listed, then gone before it is hashed
        result = listed(*args, **kwargs)
        (library / "gone-0.jpg").unlink()
        return result

    def delete_then_open(path, *args, **kwargs):  # hashed, then gone before it is decoded
        if Path(path).name in ("gone-1.jpg", "gone-2.jpg"):
            Path(path).unlink()
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(indexer, "scan_folders", scan_then_delete)
    monkeypatch.setattr(indexer, "open_oriented", delete_then_open)
    with unlock(profile) as lens:
        report = lens.index([library])
        reasons = dict(report.failed)
        assert sorted(Path(p).name for p in reasons) == ["gone-0.jpg", "gone-1.jpg", "gone-2.jpg"]
        assert all(re.search("vanished", reason) for reason in reasons.values()), reasons
        assert (report.added, lens.store.count()) == (4, 4)
        monkeypatch.setattr(indexer, "scan_folders", listed)
        again = lens.index([library])
        assert (again.failed, again.unchanged, lens.store.count(), lens.store.failures()) == ([], 4, 4, [])
        Image.open(photo_dir / "coffee.jpg").rotate(90).save(library / "gone-0.jpg")  # back again: indexed
        assert lens.index([library]).added == 1


def test_an_empty_library_folder_keeps_its_photos_and_says_so_once(profile, photo_dir, tmp_path):
    mount = tmp_path / "mnt" / "photos"
    shutil.copytree(photo_dir, mount)
    with unlock(profile) as lens:
        assert lens.index([mount]).added == 4
        moved_away = tmp_path / "unmounted"
        mount.rename(moved_away)
        mount.mkdir()  # what an unmounted drive leaves: an empty mount point

        report = lens.index([mount])
        assert report.removed == 0 and lens.store.count() == 4
        notice = "empty or unmounted: kept 4 photos; use `visuallens forget` to remove them"
        assert report.failed == [(str(mount), notice)]
        assert lens.index([mount]).failed == [] and lens.store.count() == 4  # said once

        mount.rmdir()
        moved_away.rename(mount)  # mounted again
        back = lens.index([mount])
        assert (back.unchanged, back.removed, back.failed, lens.store.failures()) == (4, 0, [], [])

        for photo in sorted(mount.iterdir())[:3]:  # some photos left: a normal deletion
            photo.unlink()
        assert lens.index([mount]).removed == 3 and lens.store.count() == 1
        assert lens.forget(mount) == 1


def test_an_older_store_is_migrated_and_keeps_its_failures(tmp_path):
    from engine.profile import store as store_module
    from tests.engine.fault_tools import raw_connection

    key, path = os.urandom(32), tmp_path / "profile.db"
    connection = raw_connection(path, key)
    for statement in store_module.MIGRATIONS[0]:
        connection.execute(statement)
    connection.execute("PRAGMA user_version = 1")
    connection.execute("INSERT INTO failures VALUES ('/p/bad.jpg', '/p', 10, 20, 'truncated', 0)")
    connection.close()

    with ProfileStore.open(path, key) as store:
        [failure] = store.failures()
        assert (failure.path, failure.reason) == ("/p/bad.jpg", "truncated")
        assert [f.path for f in store.failures(kind="decode")] == ["/p/bad.jpg"]
        assert store.integrity_ok()
