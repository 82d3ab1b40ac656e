import shutil

import numpy as np
import pytest
from PIL import Image
from skimage import data

from engine.imaging.grid import FILL_COLOR, GridLayout, grid_side, gridify, highlight_cells

W, CELL, GAP = 64, 112, 2
LAYOUT = GridLayout(8, CELL, GAP)


def distinct_colour(index0: int) -> tuple[int, int, int]:
    """64 clearly different solid colours (4 levels per channel)."""
    r, g, b = index0 // 16, (index0 // 4) % 4, index0 % 4
    return 40 + r * 70, 40 + g * 70, 40 + b * 70


def centre(box: tuple[int, int, int, int]) -> tuple[int, int]:
    left, top, right, bottom = box
    return (left + right) // 2, (top + bottom) // 2


def test_geometry_for_64_cells_of_112_px():
    assert grid_side(64) == 8
    assert LAYOUT.size() == (8 * 112 + 7 * 2, 8 * 112 + 7 * 2) == (910, 910)
    assert LAYOUT.cell_box(0) == (0, 0, 112, 112)
    assert LAYOUT.cell_box(1) == (114, 0, 226, 112)
    assert LAYOUT.cell_box(8) == (0, 114, 112, 226)
    assert LAYOUT.cell_box(63) == (798, 798, 910, 910)
    assert GridLayout.for_count(64, CELL, GAP) == LAYOUT
    assert gridify([], W, CELL, GAP).size == (910, 910)


@pytest.mark.parametrize("w", [0, -4, 2, 63, 65])
def test_w_must_be_a_positive_perfect_square(w):
    with pytest.raises(ValueError, match="perfect square"):
        grid_side(w)
    with pytest.raises(ValueError, match="perfect square"):
        gridify([], w)


def test_more_images_than_cells_is_rejected():
    with pytest.raises(ValueError, match="5 images do not fit"):
        gridify([Image.new("RGB", (8, 8))] * 5, w=4)


def test_cells_are_filled_in_row_major_order():
    images = [Image.new("RGB", (40, 40), distinct_colour(i)) for i in range(W)]
    pixels = gridify(images, W, CELL, GAP).load()
    for index0 in range(W):
        assert pixels[centre(LAYOUT.cell_box(index0))] == distinct_colour(index0), f"cell {index0 + 1}"


def test_missing_cells_are_black():
    red = Image.new("RGB", (50, 50), (255, 0, 0))
    grid = np.asarray(gridify([red, None, red], w=4, cell=CELL, gap=GAP))
    layout = GridLayout.for_count(4, CELL, GAP)
    for index0 in (1, 3):  # None, and beyond the end of the list
        left, top, right, bottom = layout.cell_box(index0)
        assert (grid[top:bottom, left:right] == FILL_COLOR).all()
    left, top, right, bottom = layout.cell_box(2)
    assert (grid[bottom - 10 : bottom, left:right] == (255, 0, 0)).all()


def test_letterboxing_keeps_the_aspect_ratio():
    wide = Image.new("RGB", (200, 100), (0, 255, 0))  # 2:1 -> 112 x 56 band centred in the cell
    grid = np.asarray(gridify([wide], w=1, cell=CELL, gap=GAP))
    green_rows = np.flatnonzero((grid[:, CELL - 1] == (0, 255, 0)).all(axis=1))
    assert len(green_rows) == 56
    assert (green_rows[0], green_rows[-1]) == (28, 83)
    assert (grid[:28, CELL // 2] == FILL_COLOR).all() and (grid[84:, CELL // 2] == FILL_COLOR).all()


def test_each_photo_carries_a_number_badge_in_its_top_left_corner():
    grey = (128, 128, 128)
    grid = np.asarray(gridify([Image.new("RGB", (64, 64), grey)] * 4, w=4, cell=CELL, gap=GAP))
    layout = GridLayout.for_count(4, CELL, GAP)
    for index0 in range(4):
        left, top, _, _ = layout.cell_box(index0)
        corner = grid[top : top + CELL // 4, left : left + CELL // 4]
        assert (corner == (255, 255, 255)).all(axis=-1).sum() > 50, "white badge background"
        assert (corner.max(axis=-1) < 60).sum() > 20, "dark digits on the badge"
        assert (grid[top + CELL // 2, left + CELL // 2] == grey).all()


def test_highlight_frames_only_the_chosen_cells():
    images = [Image.new("RGB", (40, 40), (30, 60, 90)) for _ in range(W)]
    grid = gridify(images, W, CELL, GAP)
    framed = np.asarray(highlight_cells(grid, [3, 17], LAYOUT))
    plain = np.asarray(grid)
    changed_cells = set()
    for index0 in range(W):
        left, top, right, bottom = LAYOUT.cell_box(index0)
        if (framed[top:bottom, left:right] != plain[top:bottom, left:right]).any():
            changed_cells.add(index0 + 1)
    assert changed_cells == {3, 17}
    left, top, right, bottom = LAYOUT.cell_box(16)
    assert (framed[top + CELL // 2, left] == (255, 196, 0)).all()
    assert (framed[bottom - 1, left + CELL // 2] == (255, 196, 0)).all()
    assert (framed[top + CELL // 2, left + CELL // 2] == plain[top + CELL // 2, left + CELL // 2]).all()
    badge = (slice(top, top + CELL // 8), slice(left, left + CELL // 8))
    assert (framed[badge] == plain[badge]).all(), "the number badge stays on top of the frame"
    with pytest.raises(ValueError, match="cell number 65"):
        highlight_cells(grid, [65], LAYOUT)


def test_example_grid_of_real_photos(tmp_path):
    photos = [data.chelsea(), data.coffee(), data.rocket(), data.astronaut(), data.camera(), data.cat()]
    images = [Image.fromarray(photo) for photo in photos]
    grid = gridify([images[i % len(images)] for i in range(50)], W, CELL, GAP)
    grid = highlight_cells(grid, [1, 12, 50], LAYOUT)
    out = tmp_path / "grid.png"
    grid.save(out)
    shutil.copy(out, "/tmp/vl_grid_example.png")
    with Image.open(out) as saved:
        assert saved.size == (910, 910)
        assert saved.mode == "RGB"
