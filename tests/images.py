"""Real image files, generated at test time with libvips (nothing binary is committed)."""

from __future__ import annotations

import struct
import zlib

import pyvips

RED = (200, 30, 30)
BLUE = (30, 30, 200)


def two_tone(width: int, height: int) -> pyvips.Image:
    """Left half red, right half blue: after any rotation you can tell which way it went."""
    half = width // 2
    left = (pyvips.Image.black(half, height, bands=3) + list(RED)).cast("uchar")
    right = (pyvips.Image.black(width - half, height, bands=3) + list(BLUE)).cast("uchar")
    return left.join(right, "horizontal").copy(interpretation="srgb")


def jpeg(width: int, height: int, *, orientation: int | None = None, gps: bool = False) -> bytes:
    image = two_tone(width, height).copy()
    if orientation is not None:
        image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    if gps:
        # libvips writes exif-ifd* fields into the file's EXIF block when it saves.
        image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", "N")
        image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitude", "51/1 30/1 26/1")
        image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLongitudeRef", "W")
        image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLongitude", "0/1 7/1 39/1")
    data: bytes = image.jpegsave_buffer(Q=90)
    return data


def png_with_alpha(width: int, height: int) -> bytes:
    image = two_tone(width, height)
    alpha = (pyvips.Image.black(width, height) + 128).cast("uchar")
    data: bytes = image.bandjoin(alpha).copy(interpretation="srgb").pngsave_buffer()
    return data


def noisy_jpeg(width: int, height: int, quality: int = 75) -> bytes:
    """Nearly incompressible: large for its dimensions, and slow enough to process that
    a test can catch the worker in the middle of it (6000x4000: about 14 MB)."""
    bands = [
        pyvips.Image.gaussnoise(width, height, sigma=80, mean=128).cast("uchar") for _ in range(3)
    ]
    image = bands[0].bandjoin(bands[1:]).copy(interpretation="srgb")
    data: bytes = image.jpegsave_buffer(Q=quality)
    return data


def truncated_jpeg() -> bytes:
    whole = jpeg(800, 600)
    return whole[: len(whole) // 2]


def text_named_jpg() -> bytes:
    return b"this is a shopping list, not a photo\nmilk\neggs\n" * 20


def pixel_flood(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header declares an enormous image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def metadata_fields(data: bytes) -> list[str]:
    """The metadata a decoder finds in an encoded image (EXIF, XMP, IPTC...)."""
    image = pyvips.Image.new_from_buffer(data, "")
    return [
        name
        for name in image.get_fields()
        if name.startswith(("exif", "xmp", "iptc", "gps")) or name in ("orientation",)
    ]
