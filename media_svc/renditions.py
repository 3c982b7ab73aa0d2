"""The renditions of an uploaded photo: the pure libvips pipeline behind media_svc.

An upload is untrusted bytes, so:

- its format is sniffed from magic bytes, never taken from the client's content type;
- its pixel count is read from the header and refused before a pixel is decoded, so a
  small file declaring a huge image (a pixel flood) costs microseconds, not gigabytes;
- libvips fails on truncated or corrupt data instead of padding it with grey.

Every rendition is upright (EXIF orientation applied), plain sRGB with no embedded
profile, and carries no metadata at all: EXIF with GPS, XMP, IPTC and comments say where
and when a photo was taken, which followers must not learn from a picture.

The photo is decoded once, with shrink-on-load, to the smallest image every size can
still be cut from; the smaller sizes are derived from it in memory. On a 12 MP JPEG that
is about twice as fast as a shrink-on-load decode per size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyvips

from media_svc import blurhash
from media_svc.formats import PHOTO_CONTENT_TYPES, SNIFF_BYTES, sniff_format
from pictor.errors import InvalidInput

THUMB_SIZE = 150
WIDTHS = {"small": 320, "medium": 640, "large": 1080}
# An avatar's sizes, each a centred square: a list row, a profile header, a retina one.
SQUARE_SIDES = {"thumb": THUMB_SIZE, "small": 320, "medium": 640}
JPEG_QUALITY = 82
WEBP_QUALITY = 80
# Of libwebp's 0-6: a photo takes about a quarter less time than at its default 4.
WEBP_EFFORT = 2
BLURHASH_COMPONENTS = (4, 3)
# BlurHash keeps only the lowest frequencies, so a 32-pixel picture holds all it needs.
_BLURHASH_SOURCE_SIZE = 32

# libvips' largest coordinate: a height that never binds, so the width alone decides.
_UNBOUNDED = 10_000_000
# Raise on truncated or corrupt data; mere warnings (stray bytes that phones write) pass.
_FAIL_ON = "error"
_WHITE = [255, 255, 255]

_LOADERS = {
    "jpeg": "jpegload_source",
    "png": "pngload_source",
    "webp": "webpload_source",
    "heif": "heifload_source",
    "avif": "heifload_source",
}
# The photo formats this libvips can read (GIF is sniffed but never taken).
ACCEPTED_FORMATS = frozenset(
    name
    for name, loader in _LOADERS.items()
    if name in PHOTO_CONTENT_TYPES and pyvips.type_find("VipsForeignLoad", loader)
)

_CORRUPT = "truncated or corrupt image"
# A libvips may read HEIF headers yet lack the HEVC decoder (pyvips-binary does), and a
# failed decode cannot tell which it was.
_UNDECODABLE = {"heif": "corrupt HEIC image, or HEVC compression this server cannot decode"}


class UnsupportedImage(InvalidInput):
    """Not an image, a format we don't take, or truncated or corrupt data."""


class TooManyPixels(InvalidInput):
    """The header declares more pixels than the limit; nothing was decoded."""


@dataclass(frozen=True)
class Rendition:
    name: str
    content_type: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class ProcessedPhoto:
    width: int
    height: int
    blurhash: str
    source_format: str
    renditions: list[Rendition]


def process(data: bytes, max_pixels: int, square: bool = False) -> ProcessedPhoto:
    """Every rendition of an uploaded photo (``square``: an avatar's), and its BlurHash.

    Raises UnsupportedImage or TooManyPixels. Releases the GIL while libvips works, so it
    is meant to run in a worker thread.
    """
    source_format = sniff_format(data[:SNIFF_BYTES])
    if source_format not in ACCEPTED_FORMATS:
        raise UnsupportedImage(f"unsupported image format: {source_format or 'not an image'}")
    header = _read_header(data, source_format, max_pixels)
    try:
        photo = _decode(data, header)
    except pyvips.Error as error:
        raise UnsupportedImage(_UNDECODABLE.get(source_format, _CORRUPT)) from error

    renditions = []
    for name, image in _squares(photo) if square else _sizes(photo):
        renditions += [
            Rendition(name, "image/jpeg", image.width, image.height, _jpeg(image)),
            Rendition(name, "image/webp", image.width, image.height, _webp(image)),
        ]
    large = renditions[-1]
    return ProcessedPhoto(large.width, large.height, _blurhash(photo), source_format, renditions)


def _source(data: bytes) -> pyvips.Source:
    # Reads the upload in place: the *_buffer calls would copy it, once for the header and
    # again for the decode, which on a large upload is most of the peak memory.
    return pyvips.Source.new_from_memory(data)


def _read_header(data: bytes, source_format: str, max_pixels: int) -> pyvips.Image:
    """The photo's header, with no pixel decoded; refuses a pixel flood."""
    try:
        header = pyvips.Image.new_from_source(
            _source(data), "", access="sequential", fail_on=_FAIL_ON
        )
    except pyvips.Error as error:
        raise UnsupportedImage(_CORRUPT) from error
    # The bytes only sniffed as this format; make sure libvips reads them as it too.
    if header.get("vips-loader") != _LOADERS[source_format]:
        raise UnsupportedImage(f"unsupported image format: {source_format}")
    if header.width * header.height > max_pixels:
        raise TooManyPixels(
            f"image is {header.width}x{header.height} pixels; at most {max_pixels} pixels allowed"
        )
    return header


def _decode(data: bytes, header: pyvips.Image) -> pyvips.Image:
    """The upright sRGB photo in memory, shrunk on load to the smallest size every
    rendition can still be cut from: 1080 wide, or wider for a panorama whose thumb
    needs 150 rows."""
    fields = header.get_fields()
    width, height = header.width, header.height
    # EXIF orientations 5 to 8 turn the stored image a quarter.
    if "orientation" in fields and header.get("orientation") >= 5:
        width, height = height, width
    target = min(width, max(WIDTHS["large"], math.ceil(THUMB_SIZE * width / height)))
    # Untagged RGB is taken as sRGB and left alone; CMYK gets thumbnail's fallback profile.
    colour = {"export_profile": "srgb"} if "icc-profile-data" in fields else {}
    image = pyvips.Image.thumbnail_source(
        _source(data),
        target,
        height=_UNBOUNDED,
        size="down",
        option_string=f"fail_on={_FAIL_ON}",
        **colour,
    )
    # Greyscale becomes three bands, 16-bit becomes 8.
    if image.interpretation != "srgb":
        image = image.colourspace("srgb")
    image = image.copy_memory()
    # Already sRGB: a profile left attached would make each derived size convert again.
    if "icc-profile-data" in image.get_fields():
        image.remove("icc-profile-data")
    return image


def _sizes(photo: pyvips.Image) -> list[tuple[str, pyvips.Image]]:
    """Each size, smallest first, in memory so its two encodings share one resize."""
    sizes = [("thumb", _square(photo, THUMB_SIZE))]
    for name, width in WIDTHS.items():
        if photo.width <= width:
            sizes.append((name, photo))
        else:
            sizes.append((name, photo.thumbnail_image(width, height=_UNBOUNDED).copy_memory()))
    return sizes


def _squares(photo: pyvips.Image) -> list[tuple[str, pyvips.Image]]:
    """Each square size, smallest first."""
    return [(name, _square(photo, side)) for name, side in SQUARE_SIDES.items()]


def _square(photo: pyvips.Image, side: int) -> pyvips.Image:
    """A square of ``side`` (smaller if the photo is) cut from the centre, in memory."""
    side = min(side, photo.width, photo.height)
    return photo.thumbnail_image(side, height=side, crop="centre").copy_memory()


def _opaque(image: pyvips.Image) -> pyvips.Image:
    return image.flatten(background=_WHITE) if image.hasalpha() else image


def _jpeg(image: pyvips.Image) -> bytes:
    encoded: bytes = _opaque(image).jpegsave_buffer(
        Q=JPEG_QUALITY, optimize_coding=True, keep="none"
    )
    return encoded


def _webp(image: pyvips.Image) -> bytes:
    encoded: bytes = image.webpsave_buffer(Q=WEBP_QUALITY, effort=WEBP_EFFORT, keep="none")
    return encoded


def _blurhash(photo: pyvips.Image) -> str:
    tiny = _opaque(photo).thumbnail_image(_BLURHASH_SOURCE_SIZE, height=_BLURHASH_SOURCE_SIZE)
    return blurhash.encode(tiny.write_to_memory(), tiny.width, tiny.height, *BLURHASH_COMPONENTS)
