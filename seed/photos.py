"""The demo's photos: photo-like JPEGs of 1 to 3 MP in the shapes phones take (4:3,
3:2, 16:9 either way up, square, panorama), every fifth one stored sideways with an EXIF
orientation (6 or 8) that turns it upright, as a phone held on its side writes it.

Generated with libvips (``harness.photos.photo_like``) once, then kept in the temp
directory; posts reuse the pool, each getting its own renditions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyvips

from harness.photos import PHOTO_QUALITY, photo_like

POOL_SIZE = 96
# Upright width and height.
SHAPES = (
    (1600, 1200),  # 4:3, 1.9 MP
    (1200, 1600),
    (1800, 1200),  # 3:2, 2.2 MP
    (1000, 1500),
    (1400, 1400),  # square, 2.0 MP
    (1920, 1080),  # 16:9, 2.1 MP
    (1080, 1920),
    (2700, 900),  # panorama 3:1, 2.4 MP
    (1200, 1200),  # square, 1.4 MP
    (2000, 1500),  # 4:3, 3.0 MP
    (2400, 1000),  # panorama 2.4:1, 2.4 MP
)
# Every ORIENTED_EVERY-th photo is stored sideways with this EXIF orientation.
ORIENTED_EVERY = 5
ORIENTATIONS = (6, 8)
FOLDER = Path(tempfile.gettempdir()) / "pictor-seed" / f"photos-v1-q{PHOTO_QUALITY}"


@dataclass(frozen=True)
class PhotoSpec:
    index: int
    width: int
    height: int
    # 1 (none), or 6 / 8: the pixels are stored turned, the tag turns them back.
    orientation: int

    @property
    def path(self) -> Path:
        return FOLDER / f"{self.index:03d}-{self.width}x{self.height}-o{self.orientation}.jpg"

    def encode(self) -> bytes:
        image = photo_like(self.width, self.height, seed=1000 + self.index)
        if self.orientation == 6:
            # Displayed by turning 90° clockwise, so stored turned 90° anticlockwise.
            image = image.rot270()
        elif self.orientation == 8:
            image = image.rot90()
        if self.orientation != 1:
            image = image.copy()
            image.set_type(pyvips.GValue.gint_type, "orientation", self.orientation)
        data: bytes = image.jpegsave_buffer(Q=PHOTO_QUALITY)
        return data


def specs(count: int = POOL_SIZE) -> list[PhotoSpec]:
    found = []
    for index in range(count):
        width, height = SHAPES[index % len(SHAPES)]
        oriented = index % ORIENTED_EVERY == ORIENTED_EVERY - 1
        orientation = ORIENTATIONS[(index // ORIENTED_EVERY) % 2] if oriented else 1
        found.append(PhotoSpec(index, width, height, orientation))
    return found


def pool(count: int = POOL_SIZE, made: Callable[[], None] = lambda: None) -> list[bytes]:
    """The pool's JPEGs, generating the missing ones (``made`` is called after each)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    photos = []
    for spec in specs(count):
        if not spec.path.exists():
            partial = spec.path.with_suffix(".part")
            partial.write_bytes(spec.encode())
            partial.rename(spec.path)
        photos.append(spec.path.read_bytes())
        made()
    return photos
