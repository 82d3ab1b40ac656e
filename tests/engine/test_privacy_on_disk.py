"""Nothing about photos is written unencrypted: captions, aspect words, paths and vectors live only in SQLCipher."""

import os
import shutil
import tempfile

from engine.api import initialise, unlock
from engine.home import Home


def _files_under(*roots):
    for root in roots:
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = os.path.join(dirpath, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    yield path


def test_no_plaintext_photo_data_in_any_file_the_app_wrote(home, photo_dir, tmp_path, monkeypatch):
    library = tmp_path / "VerySecretHolidayFolder"
    shutil.copytree(photo_dir, library)
    private_tmp = tmp_path / "tmp"  # this process's own temp dir: other processes' files in /tmp are not ours
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    initialise(Home.default(), passphrase="correct horse battery staple", use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.index([library])
        hits = lens.search("a cat", k=4)
        _, _, matrix = lens.store.load_matrix()
        secrets = {h.caption.encode() for h in hits} | {w.encode() for h in hits for w in h.aspects if len(w) > 4}
        secrets.add(b"VerySecretHolidayFolder")
        secrets |= {row.tobytes()[:32] for row in matrix}  # raw float32 vector bytes
        written = list(_files_under(home))
        written += list(_files_under(private_tmp))
        assert any(p.endswith("profile.db") for p in written)
        for path in written:
            blob = open(path, "rb").read()
            leaked = [s[:40] for s in secrets if s in blob]
            assert not leaked, f"{path} holds plaintext photo data: {leaked}"
