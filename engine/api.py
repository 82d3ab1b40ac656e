"""The one facade the CLI and the desktop app use: set up, unlock, index, search, recommend, forget, wipe."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TypeVar, cast

import numpy as np

from engine.catalog.items import CatalogError, CatalogItem
from engine.catalog.loaders import load_catalog
from engine.home import Home, Settings
from engine.library.scan import check_named, check_photo_location, is_excluded, is_within, normalise
from engine.models.bundle import Bundle, BundleError, load_bundle
from engine.models.encoders import ImageEncoder, TextEncoder
from engine.models.inference_model import InferenceModel
from engine.profile.describers import load_describer
from engine.profile.indexer import Indexer, IndexProgress, IndexReport
from engine.profile.keys import KeyManager
from engine.profile.records import Failure, Judgement
from engine.profile.store import EVERY_CATEGORY, ProfileStore, StoreBusyError, StoreWriteError
from engine.recommend.candidates import CandidateEmbedder, ItemEmbedder
from engine.recommend.photo_library import PhotoLibrary
from engine.recommend.ranker import OnnxRanker, ranker_summary
from engine.recommend.recommender import TRAINED, ZERO_SHOT, Recommendation, Recommender, Steering
from engine.recommend.taste import Taste, read_taste

PASSPHRASE_ENV = "VISUALLENS_PASSPHRASE"
VERIFIED_BUNDLE_FILES = "verified_bundle_files"  # meta key: {bundle path: {file: FileCheck}} of the active bundle
Model = TypeVar("Model", ImageEncoder, TextEncoder, OnnxRanker)


class NotInitialisedError(Exception):
    """The data directory has no profile yet (`visuallens init`)."""


class BundleMismatchError(Exception):
    """Every stored vector was made by another model bundle: the photos must be re-encoded (`visuallens index`)."""


@dataclass(frozen=True)
class SearchHit:
    path: str
    score: float
    caption: str
    aspects: tuple[str, ...]


def initialise(home: Home, passphrase: str | None, use_keyring: bool, bundle: str = "lite") -> None:
    """Create the wrapped store key and an empty encrypted store that `bundle` will serve."""
    keys = KeyManager(home.root)
    home.ensure()
    key = keys.create(passphrase=passphrase, use_keyring=use_keyring)
    ProfileStore.open(home.store_path, key, keys=keys).close()
    settings = home.load_settings()
    settings.bundle = bundle
    home.save_settings(settings)


def unlock(home: Home, passphrase: str | None = None) -> VisualLens:
    """Open the store with the keyring (silently) or the passphrase (argument or `VISUALLENS_PASSPHRASE`)."""
    keys = KeyManager(home.root)
    if not keys.exists():
        raise NotInitialisedError(f"{home.root}: no VisualLens profile here yet; run `visuallens init`")
    passphrase = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
    key = keys.unlock(passphrase)
    return VisualLens(home, ProfileStore.open(home.store_path, key, keys=keys), home.load_settings())


def is_initialised(home: Home) -> bool:
    """Whether `home` holds a profile (its key file)."""
    return KeyManager(home.root).exists()


def protections(home: Home) -> list[str]:
    """How the profile's key is protected: "keyring", "passphrase" (either or both); empty without a profile."""
    keys = KeyManager(home.root)
    return keys.protections() if keys.exists() else []


def wipe(home: Home) -> None:
    """Delete the encrypted store, its key file and keyring entry: everything VisualLens knows about photos."""
    KeyManager(home.root).destroy()
    ProfileStore.destroy_files(home.store_path)


class VisualLens:
    """An unlocked profile: the encrypted store, the model bundle and the in-memory photo library."""

    def __init__(self, home: Home, store: ProfileStore, settings: Settings):
        self.home = home
        self.store = store
        self.settings = settings
        self._photos: PhotoLibrary | None = None
        self._photos_version = -1
        self._models: dict[str, InferenceModel] = {}
        self._models_lock = threading.Lock()

    def close(self) -> None:
        self.close_models()
        self.store.close()

    def __enter__(self) -> VisualLens:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model bundle ---------------------------------------------------------------------------------
    @cached_property
    def bundle(self) -> Bundle:
        path = self.home.bundle_path(self.settings.bundle)
        if not path.exists():
            raise BundleError(
                f"{path}: model bundle {self.settings.bundle!r} is not installed "
                f"(build it with `visuallens-export bundle lite --out {path}`)"
            )
        known = json.loads(self.store.get_meta(VERIFIED_BUNDLE_FILES) or "{}")
        bundle = load_bundle(path, verified=known.get(str(path), {}))
        checked = json.loads(json.dumps(bundle.verified))  # as stored: tuples become lists
        if checked != known.get(str(path)):
            try:
                self.store.set_meta(VERIFIED_BUNDLE_FILES, json.dumps({str(path): checked}))
            except (StoreBusyError, StoreWriteError):  # a saving for the next start-up, never a reason to fail
                pass
        return bundle

    @property
    def image_encoder(self) -> ImageEncoder:
        return self._model(ImageEncoder, open_now=True)

    @property
    def text_encoder(self) -> TextEncoder:
        return self._model(TextEncoder, open_now=True)

    @cached_property
    def recommender(self) -> Recommender:
        """The recommender, over models that open when a question first needs them: a catalog asked before needs
        neither encoder (its items' vectors are stored), a question with no free text no text encoder."""
        ranker = self._model(OnnxRanker) if OnnxRanker.available(self.bundle) else None
        text_encoder = self._model(TextEncoder)
        embedder = CandidateEmbedder(self._model(ImageEncoder), text_encoder, self.store)
        return Recommender(embedder, text_encoder, ranker, evidence_similarity=self.bundle.manifest.image_encoder.evidence_similarity)

    def _model(self, kind: type[Model], open_now: bool = False) -> Model:
        """The bundle's model of `kind`, made once (under a lock, whichever thread asks first); its sessions open
        now with `open_now`, else on first use."""
        with self._models_lock:
            if kind.__name__ not in self._models:
                self._models[kind.__name__] = kind(self.bundle, self.settings.provider, self.settings.threads, False)
            model = cast(Model, self._models[kind.__name__])
        if open_now:
            model.load()
        return model

    def release_idle_models(self, idle_seconds: float) -> list[str]:
        """Let the models no call used for `idle_seconds` release their sessions and threads (a long-running app
        gives the memory back; the next call opens them again); the names of those released."""
        with self._models_lock:
            models = dict(self._models)
        return [name for name, model in models.items() if model.unload_if_idle(idle_seconds)]

    def close_models(self) -> None:
        """Release every opened model's sessions and threads."""
        with self._models_lock:
            models = list(self._models.values())
        for model in models:
            model.close()

    def warm_up(self) -> None:
        """Open the models and load the photo library now, so the first query answers fast (and failures show
        early)."""
        self.recommender
        with self._models_lock:
            models = list(self._models.values())
        for model in models:
            model.load()
        self.photo_library()

    # -- indexing -------------------------------------------------------------------------------------
    def index(
        self,
        paths: Sequence[str | Path],
        progress: Callable[[IndexProgress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> IndexReport:
        """Index folders or photos the user named (:meth:`include`) and bring their profiles up to date
        (incremental, resumable); photos that another model bundle encoded are re-encoded with the active one.
        The report's `lifted` lists the forgotten paths this indexes again."""
        lifted = self.include(paths)
        report = self.refresh(paths, progress, should_stop)
        report.lifted = lifted
        return report

    def include(self, paths: Sequence[str | Path]) -> list[str]:
        """Take folders or photos the user named to index; returns the forgotten paths this lifts.

        A forgotten path comes back only when it is named itself (its exclusion is lifted) or a folder inside it is
        (that folder is indexed, the rest stays out); naming a parent lifts nothing. Named folders join the library;
        a named photo must lie in a library folder and not inside a forgotten one. An empty path and one on a
        pseudo-filesystem (/proc, /sys, /dev) are refused. Nothing changes on an error.
        """
        library, excluded = self.store.folders(), self.store.exclusions()
        lift, folders = [], []
        for given in paths:
            check_named(given)
            forms = _forms(given)
            check_photo_location(forms[-1])  # as given, and where its links lead
            path = forms[0]
            if os.path.isdir(path):
                folders.append(path)
            elif not os.path.exists(path):
                raise FileNotFoundError(f"{path}: not found")
            elif not _holders(forms, library):
                raise ValueError(f"{path} is in no library folder: index the folder that holds it")
            elif any(is_excluded(form, [e for e in excluded if e not in forms], library) for form in forms):
                raise ValueError(f"{path} is in a folder you asked VisualLens to forget: index "
                                 f"{os.path.dirname(path)} to bring back the photos of that folder")
            lift += forms
        return self.store.include(lift, folders)

    def refresh(
        self,
        paths: Sequence[str | Path] | None = None,
        progress: Callable[[IndexProgress], None] | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> IndexReport:
        """Bring every library folder, or the one that holds each of `paths`, up to date, as the watcher and
        `visuallens index` without a path do: a path in no library folder (one forgotten meanwhile, say) and folders
        not available now are left as they are, and nothing forgotten comes back."""
        library = self.store.folders()
        if paths is not None:  # the deepest library folder holding each path
            held = [_holders(_forms(path), library) for path in paths]
            library = list(dict.fromkeys(max(folders, key=len) for folders in held if folders))
        folders = [folder for folder in library if os.path.isdir(folder)]
        if not folders:
            return IndexReport()
        describer = load_describer(self.bundle, self.settings.provider, threads=1)  # one per indexer lane
        try:
            indexer = Indexer(self.store, self.image_encoder, describer, self.text_encoder)
            report = indexer.run(folders, progress=progress, should_stop=should_stop)
        finally:
            describer.close()
        self._photos = None
        return report

    # -- queries --------------------------------------------------------------------------------------
    def search(self, text: str, k: int = 20) -> list[SearchHit]:
        """Photos that best match a text query, best first."""
        library = self.photo_library()
        rows, sims = library.top_w(self.text_encoder.encode_one(text), k)
        paths = [library.paths[r] for r in rows]
        profiles = {p.path: p for p in self.store.profiles(paths)}
        return [
            SearchHit(path=path, score=float(s), caption=profiles[path].caption, aspects=profiles[path].aspects)
            for path, s in zip(paths, sims)
        ]

    def recommend(self, category: str, catalog: str | Path, query: str | None = None, w: int = 64) -> Recommendation:
        """Rank the catalog's items in `category` for this user, with evidence from their photos."""
        return self.recommend_items(category, load_catalog(catalog).in_category(category), query, w)

    def recommend_items(
        self,
        category: str,
        items: Sequence[CatalogItem],
        query: str | None = None,
        w: int = 64,
        embedder: ItemEmbedder | None = None,
    ) -> Recommendation:
        """Rank items given in memory; `embedder` may supply their vectors (default: from the items' image files)."""
        base = self.recommender
        recommender = base if embedder is None else base.with_embedder(embedder)
        return recommender.recommend(category, items, items, self.photo_library(), self.store, query=query, w=w,
                                     steering=self.steering(category))

    def steering(self, category: str) -> Steering:
        """The user's judgements and corrections that apply to `category`, for the in-memory library."""
        corrections = self.store.corrections(category)
        excluded = None
        if corrections.excluded_photos:
            kept_out = np.fromiter(corrections.excluded_photos, np.int64)
            excluded = np.flatnonzero(np.isin(self.photo_library().ids, kept_out))
        return Steering(self.store.judgements(category), corrections.removed_words, corrections.pinned_words, excluded)

    # -- feedback -------------------------------------------------------------------------------------
    def judge(self, category: str, catalog: str | Path, item_id: str, liked: bool) -> CatalogItem:
        """Record the user's "like" (`liked`) or "not for me" of an item of the catalog's `category` (replacing an
        earlier judgement of it): later rankings of the category move the items like it. Returns the item."""
        item = next((i for i in load_catalog(catalog).in_category(category) if i.id == item_id), None)
        if item is None:
            raise CatalogError(f"{catalog}: no item {item_id!r} in category {category!r}")
        self.store.judge(item, liked)
        return item

    def unjudge(self, category: str, item_id: str) -> bool:
        """Withdraw the judgement of an item of `category`; False if there was none."""
        return self.store.unjudge(category, item_id)

    def judgements(self, category: str | None = None) -> list[Judgement]:
        """The user's judgements of catalog items (of one category, if given), oldest first."""
        return self.store.judgements(category)

    # -- your taste and its corrections ---------------------------------------------------------------
    def taste(self, category: str, catalog: str | Path, w: int = 64) -> Taste:
        """What the profile holds for the catalog's `category`: its aspect words with their weights and photos, and
        the photos that would fill the evidence grid, with the user's corrections marked."""
        items = load_catalog(catalog).in_category(category)
        vectors = self.recommender.embedder.vectors(items)
        return read_taste(category, vectors, self.photo_library(), self.store, self.steering(category), w)

    def correct_word(self, category: str, word: str, pinned: bool) -> None:
        """Pin an aspect word of a category ("more of this": items like it rank higher) or remove it ("not me":
        recommendations ignore it); `category` '' for every category."""
        if not word.strip():
            raise ValueError("name the aspect word to correct")
        self.store.correct_word(category, word.strip(), pinned)

    def uncorrect_word(self, category: str, word: str) -> bool:
        """Undo `correct_word`; False if the word had no correction there."""
        return self.store.uncorrect_word(category, word.strip())

    def exclude_photo(self, path: str | Path, category: str = EVERY_CATEGORY) -> str:
        """Keep a photo of the library out of `category`'s recommendations (of all of them by default); returns
        the path as the library holds it."""
        check_named(path)
        for form in _forms(path):
            if self.store.exclude_photo(form, category):
                return form
        raise ValueError(f"{path}: not a photo of your library")

    def include_photo(self, path: str | Path, category: str = EVERY_CATEGORY) -> bool:
        """Undo `exclude_photo`; False if the photo was not excluded there."""
        check_named(path)
        return any(self.store.include_photo(form, category) for form in _forms(path))

    def corrections(self) -> list[tuple[str, str, str]]:
        """Every correction as (category, kind, word or photo path); category '' is every category, kind is
        "removed", "pinned" or "excluded"."""
        return self.store.all_corrections()

    # -- privacy --------------------------------------------------------------------------------------
    def forget(self, path: str | Path) -> int:
        """Remove a photo, or every photo under a folder, from the store now and keep it out: index runs, the
        watcher and a parent folder named to `index` skip it until the user names it to :meth:`index` again
        (a library folder forgotten leaves the library). Returns how many photos were removed. An empty path is
        refused: it would mean the current folder."""
        check_named(path)
        removed = self.store.forget(_forms(path))
        self._photos = None
        return removed

    def folders(self) -> list[str]:
        """The library folders: every folder indexed by name (present on disk or not)."""
        return self.store.folders()

    def exclusions(self) -> list[str]:
        """The forgotten photos and folders that index runs and the watcher skip."""
        return self.store.exclusions()

    def failures(self) -> list[Failure]:
        """Every photo that could not be read (path, reason), as the last index runs recorded them."""
        return self.store.failures()

    def photo_count(self) -> int:
        """How many photos the profile holds."""
        return self.store.count()

    def photo_paths(self) -> list[str]:
        """Every photo in the profile, sorted by path (read from the store, current even while indexing)."""
        return sorted(self.store.paths())

    def with_settings(self, settings: Settings) -> VisualLens:
        """The same unlocked store served with other settings (bundle, provider, threads); saves them."""
        self.home.save_settings(settings)
        self.close_models()
        return VisualLens(self.home, self.store, settings)

    def check_integrity(self) -> None:
        """Raise StoreDamagedError unless every page of the store authenticates, whatever its size (unlock checks
        small stores only). Reads the whole store, about 0.25 s per 10,000 photos: for commands the user runs
        (`status`, `index`), not for the desktop's or the watcher's own refreshes."""
        self.store.check_integrity()

    def status(self) -> dict:
        """What the profile holds and where, without revealing any photo content; `reencode_pending` counts the
        photos another model bundle encoded, left out of queries until `index` re-encodes them."""
        info = {
            "home": str(self.home.root),
            "store": str(self.home.store_path),
            "store_bytes": self.home.disk_usage(),
            "photos": self.photo_count(),
            "failed": len(self.failures()),
            "folders": self.folders(),
            "excluded": self.exclusions(),
            "bundle": self.settings.bundle,
            "provider": self.settings.provider,
        }
        try:
            info["bundle_version"] = self.bundle.version
            info["reencode_pending"] = self.store.count_stale(self.bundle.identity)
            info["bundle_parity"] = self.bundle.manifest.parity
            info["execution_provider"] = self.image_encoder.provider
            info["scorer"] = TRAINED if OnnxRanker.available(self.bundle) else ZERO_SHOT
            info["ranker"] = ranker_summary(self.bundle)
        except BundleError as exc:
            info["bundle_error"] = str(exc)
        return info

    def photo_library(self) -> PhotoLibrary:
        """The in-memory library of the photos the active bundle encoded (vectors of another model are not
        comparable), reloaded when its photos changed, here or in another process (a judgement or a catalog's
        vectors written elsewhere leave it, and what it remembers, as it is)."""
        version = self.store.photos_version()
        if self._photos is None or version != self._photos_version:
            identity = self.bundle.identity
            matrix = self.store.load_library(encoded_with=identity)
            if not matrix.paths and (stale := self.store.count_stale(identity)):
                raise BundleMismatchError(
                    f"the {stale} photos of this profile were encoded with another model bundle than the active one "
                    f"({identity}): run `visuallens index`"
                )
            self._photos, self._photos_version = PhotoLibrary(matrix.ids, matrix.paths, matrix.vectors), version
        return self._photos


def _holders(forms: list[str], library: list[str]) -> list[str]:
    """The library folders that hold a path (any of its `forms`)."""
    return [folder for folder in library if any(is_within(form, folder) for form in forms)]


def _forms(path: str | Path) -> list[str]:
    """`path` resolved (links followed), then as given if that differs: the store holds photos by the path the
    scan reached them by, so forgetting and lifting take both."""
    given = Path(path).expanduser()
    return list(dict.fromkeys([str(given.resolve()), normalise(given)]))
