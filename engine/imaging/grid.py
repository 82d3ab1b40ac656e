"""The evidence grid: the top-w retrieved photos tiled into one numbered d x d image (d*d = w)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

GAP_COLOR = (255, 255, 255)  # white lines keep black (missing) cells and letterbox bars apart
FILL_COLOR = (0, 0, 0)
BADGE_COLOR = (255, 255, 255)
LABEL_COLOR = (0, 0, 0)


@dataclass(frozen=True)
class GridLayout:
    """Geometry of a d x d grid of square cells separated by `gap` pixels (no outer border)."""

    d: int
    cell: int
    gap: int

    @classmethod
    def for_count(cls, w: int, cell: int = 112, gap: int = 2) -> GridLayout:
        """The layout `gridify(images, w, cell, gap)` draws."""
        if cell < 1 or gap < 0:
            raise ValueError(f"grid cell must be >= 1 and gap >= 0 pixels, got cell={cell} gap={gap}")
        return cls(grid_side(w), cell, gap)

    def size(self) -> tuple[int, int]:
        """(width, height) of the whole grid in pixels."""
        side = self.d * self.cell + (self.d - 1) * self.gap
        return side, side

    def cell_box(self, index0: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the 0-based cell `index0`, row-major; right/bottom exclusive."""
        if not 0 <= index0 < self.d * self.d:
            raise ValueError(f"cell index {index0} is outside a {self.d}x{self.d} grid")
        row, col = divmod(index0, self.d)
        left, top = col * (self.cell + self.gap), row * (self.cell + self.gap)
        return left, top, left + self.cell, top + self.cell


def grid_side(w: int) -> int:
    """The side d of a square grid holding exactly w cells."""
    d = math.isqrt(w) if w > 0 else 0
    if d < 1 or d * d != w:
        raise ValueError(f"grid size w={w} is not a positive perfect square")
    return d


def gridify(images: Sequence[Image.Image | None], w: int = 64, cell: int = 112, gap: int = 2) -> Image.Image:
    """Tile up to `w` images row-major into a numbered d x d grid.

    Each image is letterboxed (aspect kept) into its cell and labelled 1..w in a badge in the
    cell's top-left corner; cells without an image (None, or beyond `len(images)`) stay black.
    """
    layout = GridLayout.for_count(w, cell, gap)
    if len(images) > w:
        raise ValueError(f"{len(images)} images do not fit a grid of w={w} cells")
    grid = Image.new("RGB", layout.size(), GAP_COLOR)
    draw = ImageDraw.Draw(grid)
    for index0 in range(w):
        image = images[index0] if index0 < len(images) else None
        left, top, right, bottom = layout.cell_box(index0)
        if image is None:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=FILL_COLOR)
            continue
        tile = ImageOps.pad(image.convert("RGB"), (cell, cell), Image.Resampling.BICUBIC, color=FILL_COLOR)
        grid.paste(tile, (left, top))
        _draw_badge(draw, index0 + 1, (left, top), cell)
    return grid


def highlight_cells(
    grid: Image.Image, cells: Sequence[int], layout: GridLayout, color: tuple[int, int, int] = (255, 196, 0)
) -> Image.Image:
    """A copy of `grid` with a thick `color` frame inside each of the 1-based `cells`, number badge kept on top."""
    if grid.size != layout.size():
        raise ValueError(f"grid image is {grid.size}, layout expects {layout.size()}")
    framed = grid.convert("RGB")
    draw = ImageDraw.Draw(framed)
    width = max(2, layout.cell // 16)
    for number in cells:
        if not 1 <= number <= layout.d * layout.d:
            raise ValueError(f"cell number {number} is outside 1..{layout.d * layout.d}")
        left, top, right, bottom = layout.cell_box(number - 1)
        draw.rectangle((left, top, right - 1, bottom - 1), outline=color, width=width)
        _draw_badge(draw, number, (left, top), layout.cell)
    return framed


@lru_cache(maxsize=8)
def _label_font(cell: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=max(8, cell // 5))


def _draw_badge(draw: ImageDraw.ImageDraw, number: int, origin: tuple[int, int], cell: int) -> None:
    """Black `number` on a white box, anchored at the cell's top-left corner."""
    font = _label_font(cell)
    pad = max(1, cell // 40)
    x, y = origin[0] + pad, origin[1] + pad
    *_, right, bottom = draw.textbbox((x, y), str(number), font=font, anchor="lt")
    draw.rectangle((origin[0], origin[1], right + pad, bottom + pad), fill=BADGE_COLOR)
    draw.text((x, y), str(number), font=font, fill=LABEL_COLOR, anchor="lt")
