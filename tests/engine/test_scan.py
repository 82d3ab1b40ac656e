import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine.library.fingerprint import content_hash, plan_changes
from engine.library.scan import FolderNotFoundError, ScanProblem, scan_folders


def make(path: Path, content: bytes = b"photo bytes") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def found(folder: Path, **kwargs) -> list[str]:
    return [os.path.relpath(entry.path, folder) for entry in scan_folders([folder], **kwargs).files]


def test_nested_folders_and_supported_suffixes_case_insensitive(tmp_path):
    for name in ["a.jpg", "b/c.JPEG", "b/d/e.png", "b/d/f.HeIc", "b/g.webp", "notes.txt", "b/raw.cr2", "b/clip.mp4"]:
        make(tmp_path / name)
    result = scan_folders([tmp_path])
    assert [os.path.relpath(entry.path, tmp_path) for entry in result.files] == [
        "a.jpg",
        "b/c.JPEG",
        "b/d/e.png",
        "b/d/f.HeIc",
        "b/g.webp",
    ]
    assert result.problems == []
    entry = result.files[2]
    info = os.stat(tmp_path / "b/d/e.png")
    assert (entry.size, entry.mtime_ns) == (info.st_size, info.st_mtime_ns)
    assert entry.folder == str(tmp_path) and os.path.isabs(entry.path)


def test_paths_are_absolute_and_normalised(tmp_path, monkeypatch):
    make(tmp_path / "sub/x.jpg")
    monkeypatch.chdir(tmp_path)
    [entry] = scan_folders(["./sub/../sub/"]).files
    assert entry.path == str(tmp_path / "sub/x.jpg")
    assert entry.folder == str(tmp_path / "sub")


def test_hidden_temporary_and_thumbnail_files_are_skipped(tmp_path):
    names = [
        "keep.jpg",
        ".hidden.jpg",
        "._keep.jpg",  # macOS AppleDouble
        ".thumbnails/t.jpg",
        "x.jpg.part",
        "y.jpg.crdownload",
        "z.jpg.tmp",
        "w.jpg~",
        "@eaDir/keep.jpg/SYNOPHOTO_THUMB_M.jpg",  # Synology thumbnails
    ]
    for name in names:
        make(tmp_path / name)
    assert found(tmp_path) == ["keep.jpg"]


def test_symlink_loops_end_and_linked_folders_are_scanned_once(tmp_path):
    photos, elsewhere = tmp_path / "photos", tmp_path / "photos/elsewhere"
    make(photos / "a/1.jpg")
    make(elsewhere / "2.jpg")
    (photos / "a/loop").symlink_to(photos, target_is_directory=True)
    (photos / "a/self").symlink_to(photos / "a", target_is_directory=True)
    (photos / "linked").symlink_to(elsewhere, target_is_directory=True)
    (photos / "linked_again").symlink_to(elsewhere, target_is_directory=True)
    files = found(photos)
    assert "a/1.jpg" in files and len(files) == 2
    assert files[1] in ("elsewhere/2.jpg", "linked/2.jpg", "linked_again/2.jpg")


def test_broken_symlink_and_empty_file_are_reported(tmp_path):
    make(tmp_path / "ok.jpg")
    make(tmp_path / "empty.jpg", b"")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    result = scan_folders([tmp_path])
    assert [Path(entry.path).name for entry in result.files] == ["ok.jpg"]
    assert result.problems == [
        ScanProblem(str(tmp_path / "empty.jpg"), "empty file"),
        ScanProblem(str(tmp_path / "gone.jpg"), "broken symlink"),
    ]


def test_non_utf8_file_name_is_reported_not_crashed_on(tmp_path):
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9-\xff.jpg")  # Latin-1 bytes, invalid UTF-8
    with open(raw, "wb") as file:
        file.write(b"photo bytes")
    make(tmp_path / "ok.jpg")
    result = scan_folders([tmp_path])
    assert [os.path.basename(e.path) for e in result.files] == ["ok.jpg"]
    [problem] = result.problems
    assert os.fsencode(problem.path) == raw and "not valid UTF-8" in problem.reason


def test_excluded_folders_are_skipped(tmp_path):
    for name in ["keep/a.jpg", "private/b.jpg", "private/deeper/c.jpg", "private2/d.jpg"]:
        make(tmp_path / name)
    assert found(tmp_path, excluded=[tmp_path / "private"]) == ["keep/a.jpg", "private2/d.jpg"]


def test_every_folder_is_attributed_to_its_top_folder(tmp_path):
    make(tmp_path / "one/a.jpg")
    make(tmp_path / "two/b.jpg")
    result = scan_folders([tmp_path / "two", tmp_path / "one"])
    assert [(Path(e.path).name, Path(e.folder).name) for e in result.files] == [("a.jpg", "one"), ("b.jpg", "two")]


def test_missing_or_non_folder_top_folder_raises(tmp_path):
    with pytest.raises(FolderNotFoundError, match=f"photo folder {tmp_path / 'nope'} does not exist"):
        scan_folders([tmp_path / "nope"])
    make(tmp_path / "file.jpg")
    with pytest.raises(FolderNotFoundError, match="is not a folder"):
        scan_folders([tmp_path / "file.jpg"])


SCAN_SCRIPT = """
import json, sys
from engine.library.scan import scan_folders
result = scan_folders([sys.argv[1]])
print(json.dumps({"files": [f.path for f in result.files], "problems": [[p.path, p.reason] for p in result.problems]}))
"""


def unprivileged(command: list[str]) -> list[str]:
    """Root ignores permission bits (CAP_DAC_OVERRIDE): run `command` with those capabilities dropped."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and util-linux setpriv is missing: cannot make permission bits apply")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, "--bounding-set", caps, "--inh-caps", caps, *command]


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permission bits")
def test_unreadable_folder_and_file_are_reported_and_the_scan_goes_on(tmp_path):
    make(tmp_path / "ok.jpg")
    make(tmp_path / "secret.jpg").chmod(0o000)
    make(tmp_path / "locked/inside.jpg")
    (tmp_path / "locked").chmod(0o000)
    try:
        command = unprivileged([sys.executable, "-c", SCAN_SCRIPT, str(tmp_path)])
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        (tmp_path / "locked").chmod(0o755)
    result = json.loads(output)
    assert result["files"] == [str(tmp_path / "ok.jpg")]
    assert result["problems"] == [
        [str(tmp_path / "locked"), "permission denied: cannot list folder"],
        [str(tmp_path / "secret.jpg"), "permission denied: cannot read file"],
    ]


def test_plan_changes_sees_new_touched_modified_and_deleted_files(tmp_path):
    photos = tmp_path / "photos"
    for name in ["same.jpg", "touched.jpg", "modified.jpg", "deleted.jpg"]:
        make(photos / name)
    before = scan_folders([photos]).files
    known = {entry.path: (entry.size, entry.mtime_ns) for entry in before}
    known["/elsewhere/not-scanned.jpg"] = (5, 5)

    info = os.stat(photos / "touched.jpg")
    os.utime(photos / "touched.jpg", ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    make(photos / "modified.jpg", b"different and longer bytes")
    (photos / "deleted.jpg").unlink()
    make(photos / "new.jpg")

    plan = plan_changes(scan_folders([photos]).files, known, [photos])
    assert [Path(e.path).name for e in plan.new] == ["new.jpg"]
    assert [Path(e.path).name for e in plan.changed] == ["modified.jpg", "touched.jpg"]
    assert [Path(e.path).name for e in plan.unchanged] == ["same.jpg"]
    assert plan.deleted == [str(photos / "deleted.jpg")]


def test_plan_changes_never_deletes_what_a_scan_problem_hid(tmp_path):
    known = {str(tmp_path / "locked/a.jpg"): (1, 1), str(tmp_path / "b.jpg"): (1, 1), str(tmp_path / "c.jpg"): (1, 1)}
    problems = [ScanProblem(str(tmp_path / "locked"), "permission denied"), ScanProblem(str(tmp_path / "b.jpg"), "x")]
    plan = plan_changes([], known, [tmp_path], problems)
    assert plan.deleted == [str(tmp_path / "c.jpg")]


def test_content_hash_is_stable_streamed_and_follows_content(tmp_path):
    big = os.urandom(3 * (1 << 20) + 123)  # spans several 1 MiB chunks
    first = make(tmp_path / "first.jpg", big)
    renamed = make(tmp_path / "renamed.jpg", big)
    assert content_hash(first) == content_hash(renamed) == hashlib.blake2b(big, digest_size=16).hexdigest()
    assert len(content_hash(first)) == 32
    make(first, big[:-1] + bytes([big[-1] ^ 1]))
    assert content_hash(first) != content_hash(renamed)
