"""The benchmark's one table (terminal and Markdown), its JSON record and its plots."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TARGET_SPEEDUP = 5.0
TARGET_CEILING = 0.5
TARGET_P95_MS = 200.0
TARGET_PHOTOS = 100_000
TARGET_CANDIDATES = 50
TARGET_FIRST_PAINT_S = 1.0
LARGE_PHOTOS = 1_000_000  # the million-photo targets
LARGE_P95_MS = 100.0
LARGE_SEARCH_P95_MS = 50.0
LARGE_BYTES_PER_PHOTO = 1024
LARGE_STARTUP_S = 2.0
CLI_S = 1.0
SECTIONS = ("reindex", "queries", "desktop")  # the parts of a run that succeed or fail whole (indexing: per bundle)


@dataclass(frozen=True)
class Row:
    area: str
    measure: str
    result: str
    compared: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def p50(values: list[float]) -> float:
    return statistics.median(values)


def indexing_figures(entry: dict) -> dict:
    """Ratios of one bundle's indexing run: speed-up over the naive script, fraction of the compute ceiling."""
    ours, naive, rate = entry["ours"], entry["naive"], entry["matmul"]
    best_wall = max(rate["numpy"]["wall_gflops"], rate["onnxruntime"]["wall_gflops"])
    best_cpu = max(rate["numpy"]["cpu_gflops"], rate["onnxruntime"]["cpu_gflops"])
    gflops = entry["gflops_per_image"]
    ceiling = best_wall / gflops
    return {
        "speedup": ours["images_per_s"] / naive["images_per_s"],
        "ceiling_images_per_s": ceiling,
        "matmul_wall_gflops": best_wall,
        "matmul_cpu_gflops": best_cpu,
        "fraction_wall": ours["images_per_s"] / ceiling,
        "fraction_cpu": ours["images"] * gflops / ours["cpu_seconds"] / best_cpu,
    }


def build_rows(results: dict, previous: dict | None = None) -> list[Row]:
    """The table's rows; with `previous` (an earlier run's results), each row that run had shows its result."""
    rows: list[Row] = [Row(part.capitalize(), "failed", results[part]["failed"]) for part in SECTIONS
                       if "failed" in results.get(part, {})]
    for name, entry in results.get("indexing", {}).items():
        rows += _indexing_rows(name, entry)
    if "reindex" in results and "failed" not in results["reindex"]:
        r = results["reindex"]
        rows.append(Row(
            "Re-index", f"{r['photos']:,} unchanged photos", f"{r['seconds']:.2f} s",
            f"{r['decoded']} decoded, {r['hashed']} hashed", f"{r['unchanged']:,} unchanged",
            "decodes 0", _yes(r["decoded"] == 0),
        ))
    if "queries" in results and "failed" not in results["queries"]:
        rows += _query_rows(results["queries"])
    if "desktop" in results and "failed" not in results["desktop"]:
        rows += _desktop_rows(results["desktop"])
    if previous is not None:
        before = {(r.area, r.measure): r.result for r in build_rows(previous)}
        rows = [_with_before(r, before.get((r.area, r.measure))) for r in rows]
    return rows


def _with_before(row: Row, result: str | None) -> Row:
    if result is None:
        return row
    return Row(row.area, row.measure, row.result, "; ".join(filter(None, [f"before: {result}", row.compared])),
               row.ratio, row.target, row.met)


def _indexing_rows(name: str, entry: dict) -> list[Row]:
    area = f"Index {name}"
    if "skipped" in entry or "failed" in entry:
        return [Row(area, entry.get("model", ""), "skipped" if "skipped" in entry else "failed",
                    entry.get("skipped", entry.get("failed", "")))]
    f = indexing_figures(entry)
    folder, runs = entry["folder"], entry["runs"]
    sample = "" if entry["naive_stride"] == 1 else f" (every {entry['naive_stride']}th file)"
    best = f", fastest of {entry['repeats']} runs each" if entry.get("repeats", 1) > 1 else ""
    files, megapixels = folder["part_files"]["wallpapers"], folder["part_megapixels_median"]["wallpapers"]
    large = f"large JPEGs: {files} files, median {megapixels:.1f} MP{best}"
    whole = f"whole folder: {folder['files']} photos ({folder['part_files']['samples']} sample photos added)"
    rows = []
    for measure, ours, naive, judged in (
        (large, runs["ours wallpapers"], runs["naive wallpapers"], name == "lite"),
        (whole, entry["ours"], entry["naive"], False),
    ):
        rows.append(Row(
            area, f"{entry['model']}, {measure}",
            f"{ours['images_per_s']:.1f} photos/s, peak RSS {ours['peak_rss_mb']:.0f} MB",
            f"naive {naive['images_per_s']:.1f} photos/s{sample}, peak {naive['peak_rss_mb']:.0f} MB",
            f"{_speedup(ours, naive):.1f}x (CPU time {_cpu_speedup(ours, naive):.1f}x)",
            f">= {TARGET_SPEEDUP:g}x naive" if judged else "(report)",
            _yes(_speedup(ours, naive) >= TARGET_SPEEDUP) if judged else "",
        ))
    rows.append(Row(
        area, (f"compute ceiling: {entry['gflops_per_image']:.2f} GFLOP/photo (dense ops: image "
               f"{entry['image_gflops']:.2f}, captions {entry['captions_per_photo']:.2f} x "
               f"{entry['caption_gflops']:.2f} at {entry['caption_tokens']} tokens)"),
        f"{entry['ours']['images_per_s'] * entry['gflops_per_image']:.1f} GFLOP/s",
        f"matmul {f['matmul_wall_gflops']:.0f} GFLOP/s = {f['ceiling_images_per_s']:.1f} photos/s",
        f"{f['fraction_wall']:.0%} (CPU time {f['fraction_cpu']:.0%})",
        f">= {TARGET_CEILING:.0%} of ceiling" if name == "clip" else "(report)",
        _yes(f["fraction_wall"] >= TARGET_CEILING) if name == "clip" else "",
    ))
    if padded := entry["breakdown"].get("caption_padded"):
        caption = entry["breakdown"]["ours_ms"]["embed caption (batches of 8)"]
        rows.append(Row(
            area, f"caption embedding at indexing, one core, batches of 8 padded to the longest "
                  f"({entry['caption_tokens']} tokens)", f"{caption:.1f} CPU-ms per caption",
            f"padded to {padded['tokens']} tokens (a fixed-length tower): {padded['ms']:.1f} ms",
            f"{caption / padded['ms']:.0%}", "<= 50% of padded" if name == "clip" else "(report)",
            _yes(caption <= padded["ms"] / 2) if name == "clip" else "",
        ))
    return rows


def notes(results: dict) -> list[str]:
    """What grows with what, and what bounds each figure, with this run's numbers."""
    out = []
    for name, entry in results.get("indexing", {}).items():
        if "skipped" not in entry and "failed" not in entry:
            out += _indexing_notes(name, entry)
    if "queries" in results and "failed" not in results["queries"]:
        out += _query_notes(results["queries"])
    if "desktop" in results and "failed" not in results["desktop"]:
        out += _desktop_notes(results["desktop"])
    return out


def failed_parts(results: dict) -> list[str]:
    """The parts of a run (and indexed bundles) that failed."""
    bundles = [f"indexing {name}" for name, entry in results.get("indexing", {}).items() if "failed" in entry]
    return bundles + [part for part in SECTIONS if "failed" in results.get(part, {})]


def _indexing_notes(name: str, entry: dict) -> list[str]:
    ours, naive = entry["breakdown"]["ours_ms"], entry["breakdown"]["naive_ms"]
    encode, caption = ours["encode (batches of 8)"], ours["embed caption (batches of 8)"]
    mine = sum(ours.values())
    stages = ", ".join(f"{stage} {ms:.1f}" for stage, ms in ours.items())
    large_ours, large_naive = entry["runs"]["ours wallpapers"], entry["runs"]["naive wallpapers"]
    f = indexing_figures(entry)
    lines = [
        (f"{name} indexing, CPU per large JPEG on one core: ours {mine:.0f} ms ({stages}); the naive script's full "
         f"decode {naive['full decode']:.0f} ms and resize from full size {naive['preprocess from full size']:.0f} ms "
         f"replace our {ours['draft decode + reduce'] + ours['preprocess']:.0f} ms of draft decode and preprocessing."),
        (f"{name}: cores used while indexing large JPEGs: ours {large_ours['cores_used']:.2f}, naive "
         f"{large_naive['cores_used']:.2f} (its default ONNX Runtime pool spins). On a machine busy with other work "
         "our lanes get no more CPU than one thread does, and the wall-time ratio falls to the CPU-time ratio."),
    ]
    if encode + caption > mine / 2:
        naive_cpu = large_naive["cpu_seconds"] / large_naive["images"] * 1000
        naive_models = naive_cpu - naive["full decode"] - naive["preprocess from full size"] - ours["hash"]
        floor_ms = entry["gflops_per_image"] / f["matmul_cpu_gflops"] * 1000  # the models' work at the matmul rate
        lines.append(
            f"{name}: what bounds this bundle is its models: {encode:.0f} CPU-ms per photo for the image and "
            f"{caption:.0f} per caption not seen before, in batches of 8 on one thread per core, now at "
            f"{f['fraction_wall']:.0%} of the measured matmul rate ({f['fraction_cpu']:.0%} per CPU second). The "
            f"naive script spends ~{naive_models:.0f} CPU-ms per photo in the same models (batches of one on a "
            f"spinning thread pool) and {naive['full decode'] + naive['preprocess from full size']:.0f} decoding; "
            f"even with our models at 100% of the matmul rate ({floor_ms:.0f} CPU-ms per photo) and free decoding, "
            f"we could be at most {naive_cpu / floor_ms:.1f}x faster than it."
        )
    else:
        decode = ours["draft decode + reduce"]
        models_ms = encode + caption * entry["captions_per_photo"]
        models_rate = entry["gflops_per_image"] / models_ms * 1000
        lines.append(
            f"{name}: bounded by JPEG decoding: {decode:.0f} of our {mine:.0f} CPU-ms per photo go to libjpeg-turbo's "
            f"entropy decoding, which DCT scaling cannot skip, and count for nothing in the dense-compute ceiling. "
            f"The models themselves run at {models_rate / f['matmul_cpu_gflops']:.0%} of the matmul rate per CPU "
            f"second ({models_ms:.0f} CPU-ms per photo), hence {f['fraction_wall']:.0%} of the ceiling overall."
        )
    return lines


def _query_notes(q: dict) -> list[str]:
    sizes = q["sizes"]
    big = sizes[-1]
    fetch = next(v for k, v in big["parts_ms"].items() if k.startswith("fetch"))
    captions = big["caption_embedding_ms"]
    n = next(iter(big["new_pictures_ms"]))
    per_picture = big["new_pictures_ms"][n] / int(n)
    scans = [
        f"{part}: " + ", ".join(f"{s['parts_ms'][part]:.1f} ms at {s['photos']:,}" for s in sizes)
        + f" (slope {growth_slope([s['photos'] for s in sizes], [s['parts_ms'][part] for s in sizes]):.2f})"
        for part in big["parts_ms"] if _scales(part) and all(part in s["parts_ms"] for s in sizes)
    ]
    lines = [
        "O(photos), the passes over the library's vectors: " + "; ".join(scans) + ". Questions scan 8-bit codes "
        "with ONNX Runtime's integer matrix product, then rescore each query's shortlist with the codes' second byte; "
        "the float32 scans are the same run's baseline (what questions scanned before). The library mean is taken "
        "once per state of the photos (when they are quantized); a question's top-64 and each candidate's nearest "
        "photos are remembered with the library until its photos change, so a question asked again, or a ranking "
        "redone after a judgement, scans nothing ('asked before'), while a new question pays both scans ('new "
        f"question'). The vectors themselves: {big['matrix_mb']:.0f} MB at {big['photos']:,} photos (photos x dim "
        "x 2 bytes).",
        (f"O(candidates): reading the catalog, embedding candidates never seen before (~{per_picture:.0f} ms per "
         f"candidate picture and name here) and scoring them against the 64 photos; memoised per catalog item."),
        (f"O(w = 64), independent of library size: fetching the 64 profiles with their caption vectors "
         f"({fetch:.1f} ms) and their aspect words' vectors. Embedding those captions per question would cost "
         f"{captions:.0f} ms ({q['caption_gflops']:.2f} GFLOP each at {q['caption_tokens']} tokens, compute-bound) "
         "and miss the target; indexing embeds each caption once instead and stores the vector, encrypted, with the "
         "profile (the 'embed caption' stage of the indexing breakdown)."),
    ]
    if bound := _new_question_bound(big):
        lines.append(bound)
    st = q.get("startup")
    if st:
        lines.append(f"Start-up at {st['photos']:,} photos: import {st['import_s']:.2f} s, unlock (Argon2id + "
                     f"store) {st['unlock_s']:.2f} s, matrix {st['load_matrix_s']:.2f} s from the encrypted snapshot "
                     f"({st.get('load_matrix_rows_s', float('nan')):.2f} s from the store's rows, after the photos "
                     f"changed); models {st['models_s']:.2f} s more, before the first query.")
    for s in sizes:
        if cli := _cli(s, st):
            lines.append(f"A `visuallens recommend` in a fresh process at {s['photos']:,} photos, 50 candidates: "
                         f"{cli['first_s']:.2f} s the first time over a catalog (its items embedded and stored, "
                         f"encrypted), {cli['asked_before_s']:.2f} s for a catalog asked before (nothing embedded).")
    return lines


def _new_question_bound(s: dict) -> str | None:
    """What bounds a new question at the largest size: the candidates' nearest photos, set against the integer
    product alone (runs before 2026-12-05 did not measure it)."""
    scan = next((v for k, v in s["parts_ms"].items() if k.startswith("nearest") and "8-bit codes" in k), None)
    product = next((v for k, v in s["parts_ms"].items() if "integer product alone" in k), None)
    if scan is None or product is None:
        return None
    dim = round(s["matrix_mb"] * 2**20 / s["photos"] / 2)  # a code and a fine byte per value
    products = 3 * TARGET_CANDIDATES * s["photos"] * dim
    series = s["new_question_ms"].get(str(TARGET_CANDIDATES), s["new_question_ms"].get(TARGET_CANDIDATES))
    return (f"What bounds a new question at {s['photos']:,} photos ({p95(series):.0f} ms p95, {TARGET_CANDIDATES} "
            f"candidates): the candidates' nearest photos, {scan:.0f} ms, {TARGET_CANDIDATES} candidates x 3 views "
            f"against every photo, {products / 1e9:.1f} G int8 multiply-adds. The integer product alone (one row kept "
            f"per query, nothing rescored) takes {product:.0f} ms of it, {products / product / 1e6:.0f} G "
            "multiply-adds a second; the shortlists' TopK and rescoring take the rest. Both grow linearly with "
            "photos: a faster new question needs an index that compares each query with fewer photos "
            "(`python -m benchmarks.perf.ann` measures the ones tried).")


def _cli(size: dict, startup: dict | None) -> dict | None:
    """The CLI figures at one library size (runs before 2026-12-05 measured them at the largest, with start-up)."""
    if "cli_recommend" in size:
        return size["cli_recommend"]
    if startup and startup["photos"] == size["photos"]:
        return startup.get("cli_recommend")
    return None


def _speedup(ours: dict, naive: dict) -> float:
    return ours["images_per_s"] / naive["images_per_s"]


def _cpu_speedup(ours: dict, naive: dict) -> float:
    """CPU time per photo, naive over ours: the machine's load cancels out (ours gains nothing from its cores)."""
    return (naive["cpu_seconds"] / naive["images"]) / (ours["cpu_seconds"] / ours["images"])


def _query_rows(q: dict) -> list[Row]:
    rows = []
    sizes = q["sizes"]
    for s in sizes:
        area = f"Query {s['photos']:,}"

        def pair(series: dict) -> str:
            return " · ".join(f"{n}: {p50(v):.0f}/{p95(v):.0f}" for n, v in series.items())

        scans = ", ".join(f"{k} {v:.1f} ms" for k, v in s["parts_ms"].items() if _scales(k))
        rows += [
            Row(area, "recommend, asked before: p50/p95 ms by candidates", pair(s["repeat_ms"])),
            Row(area, "recommend, new question: p50/p95 ms by candidates", pair(s["new_question_ms"])),
            Row(area, "recommend, new catalog pictures: median ms by candidates",
                " · ".join(f"{n}: {v:.0f}" for n, v in s["new_pictures_ms"].items())),
            Row(area, "first recommend after start-up: ms by candidates",
                " · ".join(f"{n}: {v:.0f}" for n, v in s["first_query_ms"].items())),
            Row(area, "search k=20: p50/p95 ms", f"{p50(s['search_ms']):.0f}/{p95(s['search_ms']):.0f}"),
            Row(area, "in-memory library", f"{s['matrix_mb']:.1f} MB vectors + {s['index_mb']:.1f} MB ids/paths",
                f"O(photos) scans: {scans}"),
        ]
        if s.get("scan_recall"):
            recall = " · ".join(f"{name} {value:.3f}" for name, value in s["scan_recall"].items())
            large = s["photos"] == LARGE_PHOTOS
            rows.append(Row(area, "recall of the float32 scans' photos (8-bit codes, rescored)", recall, "", "",
                            ">= 0.99" if large else "", _yes(min(s["scan_recall"].values()) >= 0.99) if large else ""))
        if cli := _cli(s, q.get("startup")):
            rows.append(Row(area, "CLI recommend, fresh process, catalog asked before (50 candidates)",
                            f"{cli['asked_before_s']:.2f} s", f"first time {cli['first_s']:.2f} s", "",
                            f"< {CLI_S:g} s" if s["photos"] == TARGET_PHOTOS else "",
                            _yes(cli["asked_before_s"] < CLI_S) if s["photos"] == TARGET_PHOTOS else ""))
    big = next((s for s in sizes if s["photos"] == TARGET_PHOTOS), None)
    if big:
        key = str(TARGET_CANDIDATES) if str(TARGET_CANDIDATES) in big["repeat_ms"] else TARGET_CANDIDATES
        for label, series in (("asked before", big["repeat_ms"][key]), ("new question", big["new_question_ms"][key])):
            value = p95(series)
            rows.append(Row("Target", f"recommend p95, {TARGET_PHOTOS:,} photos, {TARGET_CANDIDATES} candidates, "
                            f"{label}", f"{value:.0f} ms", "", "", f"< {TARGET_P95_MS:.0f} ms",
                            _yes(value < TARGET_P95_MS)))
    large = next((s for s in sizes if s["photos"] == LARGE_PHOTOS), None)
    if large:
        rows += _large_rows(large, q.get("startup"))
    if "startup" in q:
        st = q["startup"]
        total = st["import_s"] + st["unlock_s"] + st["load_matrix_s"]
        rows.append(Row(
            "Start-up", f"{st['photos']:,} photos: import + unlock + load matrix", f"{total:.2f} s",
            f"import {st['import_s']:.2f}, unlock {st['unlock_s']:.2f}, matrix {st['load_matrix_s']:.2f} s "
            f"(rows {st.get('load_matrix_rows_s', float('nan')):.2f} s)",
            f"+ models {st['models_s']:.2f} s",
        ))
    return rows


def _large_rows(s: dict, startup: dict | None) -> list[Row]:
    """The million-photo targets: recommend and search p95, memory per photo, start-up."""
    area, key = f"Target {LARGE_PHOTOS:,}", str(TARGET_CANDIDATES)
    series = {label: s[name].get(key, s[name].get(TARGET_CANDIDATES)) for label, name in
              (("asked before", "repeat_ms"), ("new question", "new_question_ms"))}
    rows = [Row(area, f"recommend p95, {TARGET_CANDIDATES} candidates, {label}", f"{p95(v):.0f} ms", "", "",
                f"< {LARGE_P95_MS:.0f} ms", _yes(p95(v) < LARGE_P95_MS)) for label, v in series.items()]
    search = p95(s["search_ms"])
    rows.append(Row(area, "search p95", f"{search:.0f} ms", "", "", f"< {LARGE_SEARCH_P95_MS:.0f} ms",
                    _yes(search < LARGE_SEARCH_P95_MS)))
    per_photo = s["matrix_mb"] * 2**20 / s["photos"]
    rows.append(Row(area, "vectors in memory per photo", f"{per_photo:.0f} bytes",
                    f"+ {s['index_mb'] * 2**20 / s['photos']:.0f} bytes of ids and paths", "",
                    f"<= {LARGE_BYTES_PER_PHOTO} bytes", _yes(per_photo <= LARGE_BYTES_PER_PHOTO)))
    if startup is not None and startup["photos"] == LARGE_PHOTOS:
        total = startup["import_s"] + startup["unlock_s"] + startup["load_matrix_s"]
        rows.append(Row(area, "start-up: import + unlock + vectors", f"{total:.2f} s", "", "",
                        f"< {LARGE_STARTUP_S:g} s", _yes(total < LARGE_STARTUP_S)))
    return rows


def _median_run(desktop: dict) -> dict:
    """The desktop run whose first paint is the median one (its other figures come with it)."""
    runs = sorted(desktop["runs"], key=lambda r: r["first_paint_s"])
    return runs[len(runs) // 2]


def _desktop_rows(d: dict) -> list[Row]:
    r, runs = _median_run(d), d["runs"]
    area = f"Desktop {d['photos']:,}"
    paints = ", ".join(f"{run['first_paint_s']:.2f}" for run in runs)
    gone_by = r["rows_scrolled_past"] - r["visible_rows"]
    bound_mb = r["thumbnail_capacity"] * r["thumbnail_side"] ** 2 * 4 / 1e6
    rows = [
        Row(area, "library view: unlock to the first paint of the grid with its rows (offscreen, median run)",
            f"{r['first_paint_s']:.2f} s", f"runs {paints} s; UI thread held {r['ui_blocked_s']:.2f} s at unlock"),
        Row(area, f"first screen's thumbnails ({r['visible_rows']} rows on screen)",
            f"{r['first_screen_s']:.2f} s after unlock", f"{r['decoded_first_screen']} decoded"),
        Row(area, f"fast scroll down {r['screens']} screens (one paint each), then idle",
            f"{r['decoded_scrolling']} decoded", f"{gone_by} rows went by, {r['rows_last_screen']} on the last screen"),
        Row(area, "jump to the end of the library", f"{r['decoded_at_end']} decoded", f"{r['rows_at_end']} rows on screen"),
        Row(area, "longest the UI stood still, unlock to after the catch-up scan", f"{r['longest_stall_s'] * 1000:.0f} ms",
            f"the scan of {d['photos']:,} unchanged files ended {r['catch_up_scan_s']:.1f} s after unlock"),
        Row(area, "resident memory after unlock", f"+{r['rss_first_screen_mb'] - r['rss_before_mb']:.0f} MB at the "
            "first screen", f"peak +{r['rss_peak_mb'] - r['rss_before_mb']:.0f} MB until the scan ended; thumbnails: "
            f"{r['thumbnails_held']} held, at most {r['thumbnail_capacity']} (~{bound_mb:.0f} MB)"),
    ]
    if d["photos"] == TARGET_PHOTOS:
        rows.append(Row("Target", f"desktop first paint at {TARGET_PHOTOS:,} photos", f"{r['first_paint_s']:.2f} s",
                        f"median of {len(runs)} fresh processes, slowest {max(x['first_paint_s'] for x in runs):.2f} s",
                        "", f"< {TARGET_FIRST_PAINT_S:g} s", _yes(r["first_paint_s"] < TARGET_FIRST_PAINT_S)))
    return rows


def _desktop_notes(d: dict) -> list[str]:
    r = _median_run(d)
    return [
        (f"Desktop at {d['photos']:,} photos: the library's paths are read in a worker at unlock, so the first paint "
         f"({r['first_paint_s']:.2f} s) waits for that read, not for the UI thread (the unlock's handlers held it "
         f"{r['ui_blocked_s']:.2f} s; the store serves one reader at a time, so a view reading it meanwhile waits). The read is `photo_paths`: "
         f"{r['photo_paths_s']:.2f} s alone (the paths only, sorted). Thumbnails: only painted rows ask for one, and "
         f"the cache's own queue drops the requests of rows scrolled away: {r['decoded_scrolling']} decoded while "
         f"{r['rows_scrolled_past'] - r['visible_rows']} rows went by; kept in memory only, at most "
         f"{r['thumbnail_capacity']} of them."),
        (f"Desktop memory: +{r['rss_first_screen_mb'] - r['rss_before_mb']:.0f} MB from unlock to the first screen "
         f"(the list of {d['photos']:,} paths, the status bar's image encoder, the first thumbnails), peak "
         f"+{r['rss_peak_mb'] - r['rss_before_mb']:.0f} MB while the catch-up scan that every unlock starts runs "
         "(it opens the indexing models)."),
    ]


def _scales(part: str) -> bool:
    return part.startswith(("library mean", "top-", "nearest"))


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


COLUMNS = ("area", "measure", "result", "compared with", "ratio", "target", "met")


def render_text(rows: list[Row]) -> str:
    cells = [COLUMNS] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    line = "+".join("-" * (w + (1 if i == 0 else 2)) for i, w in enumerate(widths))
    out = [_join(cells[0], widths), line]
    previous = None
    for r, c in zip(rows, cells[1:]):
        if previous is not None and r.area != previous:
            out.append(line)
        out.append(_join(c, widths))
        previous = r.area
    return "\n".join(out)


def render_markdown(rows: list[Row]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
    return "\n".join(out)


def _cells(r: Row) -> tuple[str, ...]:
    return (r.area, r.measure, r.result, r.compared, r.ratio, r.target, r.met)


def _join(cells: tuple[str, ...], widths: list[int]) -> str:
    return " | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")


def plot_queries(q: dict, path: Path) -> None:
    """Left: end-to-end latency against library size. Right: what grows with photos and what does not."""
    sizes = q["sizes"]
    x = [s["photos"] for s in sizes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 7.5))
    def curve(ax, y: list[float], style: str, label: str) -> None:
        """A curve labelled with its fitted log-log slope (1: linear in the library size, 0: constant)."""
        ax.plot(x, y, style, label=label + (f" (slope {growth_slope(x, y):.2f})" if len(x) > 1 else ""))

    for n in sizes[0]["repeat_ms"]:
        curve(left, [p95(s["repeat_ms"][n]) for s in sizes], "o-", f"recommend p95, {n} cand., asked before")
        curve(left, [p95(s["new_question_ms"][n]) for s in sizes], "s--", f"recommend p95, {n} cand., new question")
    curve(left, [p95(s["search_ms"]) for s in sizes], "^-", "search p95")
    left.axhline(TARGET_P95_MS, color="red", linestyle=":",
                 label=f"target at {TARGET_PHOTOS:,}: {TARGET_P95_MS:.0f} ms")
    if x[-1] >= LARGE_PHOTOS:
        left.axhline(LARGE_P95_MS, color="purple", linestyle=":",
                     label=f"target at {LARGE_PHOTOS:,}: {LARGE_P95_MS:.0f} ms")
    left.set(xscale="log", yscale="log", xlabel="photos in the library", ylabel="latency (ms)",
             title="Query latency (lite bundle, real code path)")
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)  # below: never over a curve
    for part in sizes[0]["parts_ms"]:
        style = "o-" if _scales(part) else "s--"
        label = part + (" — O(photos)" if _scales(part) else "")
        curve(right, [s["parts_ms"][part] for s in sizes], style, label)
    first_n = next(iter(sizes[0]["repeat_phases"]))
    for phase in sizes[0]["repeat_phases"][first_n]:
        label = f"phase '{phase}' ({first_n} cand., asked before)"
        right.plot(x, [s["repeat_phases"][first_n][phase] for s in sizes], ":", label=label)
    right.set(xscale="log", yscale="log", xlabel="photos in the library", ylabel="median time (ms)",
              title="Growth: O(photos) scans vs per-question constants")
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def growth_slope(x: list[int], y: list[float]) -> float:
    """The least-squares slope of log(y) against log(x): how a cost grows with the library."""
    return float(np.polyfit(np.log(x), np.log(np.maximum(y, 1e-6)), 1)[0])


def plot_indexing(indexing: dict, path: Path) -> None:
    """Photos/s of the naive script and ours on the large JPEGs and the whole folder, and the compute ceiling."""
    done = {name: e for name, e in indexing.items() if "skipped" not in e}
    if not done:
        return
    fig, axes = plt.subplots(1, len(done), figsize=(6.5 * len(done), 4.8), squeeze=False)
    for ax, (name, entry) in zip(axes[0], done.items()):
        f, runs = indexing_figures(entry), entry["runs"]
        bars = {
            "naive\nlarge JPEGs": runs["naive wallpapers"]["images_per_s"],
            "ours\nlarge JPEGs": runs["ours wallpapers"]["images_per_s"],
            "naive\nwhole folder": entry["naive"]["images_per_s"],
            "ours\nwhole folder": entry["ours"]["images_per_s"],
            "compute\nceiling": f["ceiling_images_per_s"],
        }
        drawn = ax.bar(list(bars), list(bars.values()), color=["#aaa", "#2a7", "#ccc", "#5c9", "#eee"],
                       edgecolor="black")
        for bar, value in zip(drawn, bars.values()):
            ax.annotate(f"{value:.1f}", (bar.get_x() + bar.get_width() / 2, value), ha="center", va="bottom")
        large = _speedup(runs["ours wallpapers"], runs["naive wallpapers"])
        ax.set(ylabel="photos / s", title=f"{name}: {entry['model']}\n{large:.1f}x naive on large JPEGs, "
               f"{f['fraction_wall']:.0%} of the compute ceiling")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
