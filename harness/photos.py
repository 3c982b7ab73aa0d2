"""Photo-like JPEGs for the benchmarks and the demo seed, generated with libvips (nothing binary is committed).

``photo_like`` is smooth colour with texture and sensor-like grain, so it compresses
like a phone photo (about 4 MB at 12 MP, Q90) and costs libvips what a photo costs.
``noisy_jpeg`` is nearly incompressible grain, for uploads of an exact-ish size.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyvips

PHOTO_QUALITY = 90
# Bytes per pixel of gaussian grain (sigma 80) saved at Q90: a first guess that a
# second encode corrects.
_NOISE_BYTES_PER_PIXEL = 1.7


def photo_like(width: int, height: int, seed: int) -> pyvips.Image:
    coordinates = pyvips.Image.xyz(width, height)
    x, y = coordinates[0] * (1 / width), coordinates[1] * (1 / height)

    def band(offset: int, slope_x: float, slope_y: float) -> pyvips.Image:
        seed_here = seed * 10 + offset
        shapes = pyvips.Image.perlin(width, height, cell_size=max(width // 10, 8), seed=seed_here)
        texture = pyvips.Image.perlin(width, height, cell_size=max(width // 64, 4), seed=seed_here)
        grain = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0, seed=seed_here)
        return x * slope_x + y * slope_y + shapes * 60 + texture * 20 + grain + 60

    red, green, blue = band(1, 80, 40), band(2, 40, 120), band(3, 120, 20)
    return red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb")


def photo_files(count: int, width: int, height: int) -> list[Path]:
    """``count`` photo-like JPEGs, generated once and kept in the temp directory
    (about a second each at 12 MP), reused by later runs."""
    folder = (
        Path(tempfile.gettempdir()) / "pictor-bench" / f"photos-{width}x{height}-q{PHOTO_QUALITY}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        path = folder / f"photo{number:03d}.jpg"
        if not path.exists():
            partial = path.with_suffix(".part")
            partial.write_bytes(photo_like(width, height, number).jpegsave_buffer(Q=PHOTO_QUALITY))
            partial.rename(path)
        paths.append(path)
    return paths


def _grain(width: int, height: int, seed: int) -> bytes:
    bands = [
        pyvips.Image.gaussnoise(width, height, sigma=80, mean=128, seed=seed + band).cast("uchar")
        for band in range(3)
    ]
    data: bytes = bands[0].bandjoin(bands[1:]).copy(interpretation="srgb").jpegsave_buffer(Q=90)
    return data


def noisy_jpeg(size: int, seed: int = 1) -> bytes:
    """A real 4:3 JPEG of grain, at most ``size`` bytes and usually within 3% of it."""
    per_pixel = _NOISE_BYTES_PER_PIXEL
    best = b""
    for _ in range(5):
        pixels = size * 0.99 / per_pixel
        width = max(int((pixels * 4 / 3) ** 0.5), 16)
        height = max(int(width * 3 / 4), 16)
        data = _grain(width, height, seed)
        if len(best) < len(data) <= size:
            best = data
        if len(best) >= size * 0.97:
            break
        per_pixel = len(data) / (width * height)
    if not best:
        raise RuntimeError(f"could not make a JPEG of at most {size} bytes")
    return best
