"""The model base: opened once under a lock, unloaded only when idle and not in use, reopened on the next call."""

from __future__ import annotations

import threading

import numpy as np

from engine.models.inference_model import InferenceModel


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Counting(InferenceModel[int]):
    """A model whose "session" is the number of times it was opened."""

    def __init__(self, clock: Clock):
        super().__init__(clock)
        self.opened = 0
        self.load()

    def _load(self) -> int:
        self.opened += 1
        self._pool(2, "counting-lane")
        return self.opened

    def predict(self, started: threading.Event | None = None, release: threading.Event | None = None) -> int:
        with self._running() as session:
            if started and release:
                started.set()
                release.wait(5)
            return session


def test_a_model_opens_once_even_when_threads_race_to_use_it():
    model = Counting(Clock())
    threads = [threading.Thread(target=model.predict) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert model.opened == 1 and model.loaded


def test_an_idle_model_unloads_and_the_next_call_reopens_it():
    clock = Clock()
    model = Counting(clock)
    pool = model._pools[0]
    clock.now = 299
    assert not model.unload_if_idle(300) and model.loaded
    clock.now = 300
    assert model.unload_if_idle(300) and not model.loaded
    assert pool._shutdown  # its lane threads are released with it
    assert model.predict() == 2  # opened again on use
    assert not model.unload_if_idle(300)  # just used


def test_a_model_in_use_is_never_unloaded():
    clock = Clock()
    model = Counting(clock)
    started, release = threading.Event(), threading.Event()
    worker = threading.Thread(target=model.predict, args=(started, release))
    worker.start()
    started.wait(5)
    clock.now = 10_000
    assert not model.unload_if_idle(300) and model.loaded
    release.set()
    worker.join()
    assert model.unload_if_idle(0)


def test_close_releases_and_a_later_call_reopens():
    model = Counting(Clock())
    model.close()
    assert not model.loaded and model.predict() == 2


def test_a_real_encoder_gives_the_same_vectors_after_an_idle_unload(lite_bundle):
    from engine.models.bundle import load_bundle
    from engine.models.encoders import ImageEncoder, TextEncoder

    bundle = load_bundle(lite_bundle)
    images, texts = ImageEncoder(bundle, "cpu", threads=2), TextEncoder(bundle, "cpu", threads=2)
    batch = np.random.default_rng(0).random((3, 3, 224, 224), dtype=np.float32)
    before_image, before_text = images.encode(batch).embeddings, texts.encode(["a cat", "ramen"])
    assert images.unload_if_idle(0) and texts.unload_if_idle(0)
    np.testing.assert_allclose(images.encode(batch).embeddings, before_image, atol=1e-6)
    np.testing.assert_allclose(texts.encode(["a cat", "ramen"]), before_text, atol=1e-6)
    images.close()
    texts.close()


def test_the_profile_releases_its_idle_models(home):
    """`VisualLens.release_idle_models` (the desktop calls it every minute) lets unused models go."""
    from engine.api import initialise, unlock
    from engine.home import Home

    initialise(Home.default(), "correct horse battery staple", use_keyring=False)
    with unlock(Home.default()) as lens:
        lens.text_encoder.encode_one("a bowl of ramen")
        assert lens.release_idle_models(3600) == []
        assert lens.release_idle_models(0) == ["TextEncoder"]
        assert lens.text_encoder.encode_one("a bowl of noodles").shape == (lens.bundle.embedding_dim,)
