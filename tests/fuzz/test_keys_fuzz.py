"""keys.json mutated from a real one: unlocking gives the real store key or a `KeyStoreError` (the CLI exits 4),
listing the protections never fails otherwise, `destroy` always removes the file, and the profile opens again once
the real file is back."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.profile.keys import DEFAULT_KDF, KeyManager, KeyStoreError
from tests.fuzz.harness import PASS, Profile, assert_clean, assert_profile_intact, fuzz_settings, run_cli
from tests.fuzz.strategies import mutated_json_bytes

pytestmark = pytest.mark.fuzz

FAST_KDF = dataclasses.replace(DEFAULT_KDF, time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> tuple[dict, bytes]:
    """A real key file (a fast KDF) and its store key, plus a keyring protection as `visuallens init` writes one
    where a keyring works (the tests' keyring never does, so it cannot unwrap)."""
    home = tmp_path_factory.mktemp("keys")
    key = KeyManager(home, kdf_params=FAST_KDF).create(PASS, use_keyring=False)
    document = json.loads((home / "keys.json").read_text())
    document["wrappings"].insert(0, {"kind": "keyring", "account": "store-0123456789abcdef",
                                     "nonce": base64.b64encode(os.urandom(12)).decode(),
                                     "ciphertext": base64.b64encode(os.urandom(48)).decode()})
    return document, key


@fuzz_settings(examples=250)
@given(data=st.data())
def test_mutated_key_files_give_the_real_key_or_refuse(key_file: tuple[dict, bytes], data: st.DataObject):
    document, key = key_file
    content = data.draw(mutated_json_bytes(document), label="keys.json")
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "keys.json").write_bytes(content)
        keys = KeyManager(Path(home))
        for passphrase in (PASS, None):  # None: through the keyring
            try:
                assert keys.unlock(passphrase) == key
            except KeyStoreError:
                pass
        try:
            assert all(isinstance(kind, str) for kind in keys.protections())
        except KeyStoreError:
            pass
        keys.destroy()
        assert not keys.path.exists()


@fuzz_settings(examples=6, subprocess_per_example=True)
@given(data=st.data())
def test_the_cli_unlocks_or_exits_4(scratch_profile: Profile, data: st.DataObject):
    path = scratch_profile.home / "keys.json"
    real = path.read_bytes()
    path.write_bytes(data.draw(mutated_json_bytes(json.loads(real)), label="keys.json"))
    try:
        result = run_cli(scratch_profile.env, "status", "--json")
    finally:
        path.write_bytes(real)
    assert_clean(result, {0, 4})
    if result.returncode == 0:
        assert json.loads(result.stdout)["photos"] >= len(scratch_profile.baseline)
    else:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_the_profile_opens_with_its_real_key_file(scratch_profile: Profile):
    assert_profile_intact(scratch_profile)
