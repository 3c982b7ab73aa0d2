"""Renditions of uploaded photos: sizes, orientation, colour, privacy, and the uploads we
refuse. Every photo is made with libvips here; no binary fixture is committed."""

from __future__ import annotations

import struct
import time

import pytest
import pyvips

from media_svc import blurhash
from media_svc.formats import sniff_format
from media_svc.renditions import (
    ProcessedPhoto,
    Rendition,
    TooManyPixels,
    UnsupportedImage,
    process,
)
from tests.images import pixel_flood

MAX_PIXELS = 50_000_000
LOADER_OF = {"image/jpeg": "jpegload_buffer", "image/webp": "webpload_buffer"}
RED, BLUE = [220, 20, 20], [20, 20, 220]


def _solid(width: int, height: int, colour: list[int]) -> pyvips.Image:
    return (pyvips.Image.black(width, height, bands=len(colour)) + colour).cast("uchar")


def _photo(width: int, height: int) -> pyvips.Image:
    """Something like a photo: a colour gradient with grain, so JPEG has real work."""
    xyz = pyvips.Image.xyz(width, height)
    gradient = (xyz[0] * 255 / width).bandjoin([xyz[1] * 255 / height, 128])
    grain = pyvips.Image.gaussnoise(width, height, sigma=30)
    return (gradient + grain).cast("uchar").copy(interpretation="srgb")


def _halves(width: int, height: int, left: list[int], right: list[int]) -> pyvips.Image:
    half = width // 2
    return _solid(half, height, left).join(_solid(width - half, height, right), "horizontal")


def _decoded(rendition: Rendition) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(rendition.data, "")


def _by_type(photo: ProcessedPhoto, content_type: str) -> list[Rendition]:
    return [r for r in photo.renditions if r.content_type == content_type]


def _sizes(photo: ProcessedPhoto) -> dict[str, tuple[int, int]]:
    return {r.name: (r.width, r.height) for r in _by_type(photo, "image/jpeg")}


def _near(pixel: list[float], colour: list[int], tolerance: int = 30) -> bool:
    return all(abs(p - c) <= tolerance for p, c in zip(pixel, colour, strict=True))


def _jpeg_declaring(width: int, height: int) -> bytes:
    small: bytes = _solid(16, 16, RED).jpegsave_buffer()
    sof = small.index(b"\xff\xc0")  # marker, length (2), precision (1), height, width
    return small[: sof + 5] + struct.pack(">HH", height, width) + small[sof + 9 :]


def test_a_12_megapixel_photo_gets_every_size_in_jpeg_and_webp() -> None:
    photo = process(_photo(4000, 3000).jpegsave_buffer(Q=90), MAX_PIXELS)

    assert photo.source_format == "jpeg"
    assert (photo.width, photo.height) == (1080, 810)
    assert [(r.name, r.content_type) for r in photo.renditions] == [
        (name, content_type)
        for name in ("thumb", "small", "medium", "large")
        for content_type in ("image/jpeg", "image/webp")
    ]
    assert _sizes(photo) == {
        "thumb": (150, 150),
        "small": (320, 240),
        "medium": (640, 480),
        "large": (1080, 810),
    }
    for rendition in photo.renditions:
        image = _decoded(rendition)
        assert image.get("vips-loader") == LOADER_OF[rendition.content_type]
        assert (image.width, image.height) == (rendition.width, rendition.height)
        assert (image.bands, image.interpretation) == (3, "srgb")
    assert len(photo.blurhash) == 28


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (
            200,
            120,
            {"thumb": (120, 120), "small": (200, 120), "medium": (200, 120), "large": (200, 120)},
        ),
        (
            500,
            400,
            {"thumb": (150, 150), "small": (320, 256), "medium": (500, 400), "large": (500, 400)},
        ),
    ],
)
def test_a_small_photo_is_never_upscaled(
    width: int, height: int, expected: dict[str, tuple[int, int]]
) -> None:
    photo = process(_photo(width, height).jpegsave_buffer(), MAX_PIXELS)

    assert _sizes(photo) == expected
    assert (photo.width, photo.height) == expected["large"]


def test_a_panorama_still_gets_a_full_thumb() -> None:
    photo = process(_photo(6000, 400).jpegsave_buffer(), MAX_PIXELS)

    assert _sizes(photo) == {
        "thumb": (150, 150),
        "small": (320, 21),
        "medium": (640, 43),
        "large": (1080, 72),
    }


def test_a_photo_taken_sideways_is_turned_upright() -> None:
    # Stored 300x200 with red on the left; orientation 6 says "turn a quarter clockwise
    # to view", which puts the left edge on top.
    sideways = _halves(300, 200, RED, BLUE).copy(interpretation="srgb")
    sideways.set_type(pyvips.GValue.gint_type, "orientation", 6)
    upload = sideways.jpegsave_buffer()
    assert pyvips.Image.new_from_buffer(upload, "").get("orientation") == 6

    photo = process(upload, MAX_PIXELS)

    assert (photo.width, photo.height) == (200, 300)
    for rendition in photo.renditions:
        image = _decoded(rendition)
        assert "orientation" not in image.get_fields()
        centre = image.width // 2
        assert _near(image.getpoint(centre, image.height // 8), RED)
        assert _near(image.getpoint(centre, image.height * 7 // 8), BLUE)


def test_no_rendition_tells_where_or_by_whom_a_photo_was_taken() -> None:
    image = _photo(400, 300).copy()
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", "N")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitude", "48/1 51/1 2959/100")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLongitudeRef", "E")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLongitude", "2/1 17/1 4000/100")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "Ada Home-Address")
    image.set_type(pyvips.GValue.blob_type, "xmp-data", b"<x:xmpmeta>Ada's flat</x:xmpmeta>")
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0b\x1c\x02\x78\x00\x05Ada's\x00"
    image.set_type(pyvips.GValue.blob_type, "iptc-data", iptc)
    saved = image.jpegsave_buffer()
    comment = b"shot from Ada's balcony"
    upload = saved[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + saved[2:]
    fields = pyvips.Image.new_from_buffer(upload, "").get_fields()
    assert {"exif-ifd3-GPSLatitude", "exif-ifd3-GPSLongitude", "xmp-data", "iptc-data"} <= set(
        fields
    )

    photo = process(upload, MAX_PIXELS)

    for rendition in photo.renditions:
        leaks = [
            field
            for field in _decoded(rendition).get_fields()
            if field.startswith(("exif-", "xmp-", "iptc-", "icc-", "jpeg-comment"))
        ]
        assert leaks == [], rendition.name
        # Long strings only: three bytes turn up by chance in compressed noise.
        for planted in (b"Home-Address", b"Ada's flat", b"from Ada's balcony"):
            assert planted not in rendition.data, rendition.name


def test_a_transparent_png_is_flattened_onto_white_for_jpeg_and_keeps_alpha_in_webp() -> None:
    half_transparent = _halves(200, 100, [*RED, 255], [0, 0, 0, 0]).copy(interpretation="srgb")
    photo = process(half_transparent.pngsave_buffer(), MAX_PIXELS)

    assert photo.source_format == "png"
    for rendition in _by_type(photo, "image/jpeg"):
        image = _decoded(rendition)
        assert image.bands == 3
        assert _near(image.getpoint(2, image.height // 2), RED)
        assert _near(image.getpoint(image.width - 3, image.height // 2), [255, 255, 255])
    for rendition in _by_type(photo, "image/webp"):
        image = _decoded(rendition)
        assert image.bands == 4
        assert image.getpoint(2, image.height // 2)[3] == 255
        assert image.getpoint(image.width - 3, image.height // 2)[3] == 0


def test_a_cmyk_jpeg_comes_out_as_srgb() -> None:
    cmyk_red = _solid(300, 200, [0, 255, 255, 0]).copy(interpretation="cmyk")
    photo = process(cmyk_red.jpegsave_buffer(), MAX_PIXELS)

    for rendition in photo.renditions:
        image = _decoded(rendition)
        assert (image.bands, image.interpretation) == (3, "srgb")
        red, green, blue = image.getpoint(10, 10)
        assert red > 200 > 60 > max(green, blue)


def test_a_wide_gamut_photo_is_converted_to_plain_srgb() -> None:
    colour = [200, 80, 40]
    display_p3 = _solid(300, 200, colour).copy(interpretation="srgb").icc_transform("p3")
    upload = display_p3.jpegsave_buffer(Q=95)
    assert not _near(pyvips.Image.new_from_buffer(upload, "").getpoint(5, 5), colour, 5)

    photo = process(upload, MAX_PIXELS)

    for rendition in photo.renditions:
        image = _decoded(rendition)
        assert "icc-profile-data" not in image.get_fields()
        assert _near(image.getpoint(5, 5), colour, 5)


def test_a_16_bit_greyscale_png_comes_out_as_8_bit_srgb() -> None:
    grey16 = (pyvips.Image.black(300, 200) + 30000).cast("ushort").copy(interpretation="grey16")
    photo = process(grey16.pngsave_buffer(), MAX_PIXELS)

    for rendition in photo.renditions:
        image = _decoded(rendition)
        assert (image.bands, image.format) == (3, "uchar")
        assert _near(image.getpoint(5, 5), [117, 117, 117], 3)


def test_an_avif_photo_is_accepted() -> None:
    photo = process(_photo(400, 300).heifsave_buffer(compression="av1"), MAX_PIXELS)

    assert photo.source_format == "avif"
    assert _sizes(photo)["large"] == (400, 300)


def test_a_truncated_jpeg_is_refused() -> None:
    whole = _photo(400, 300).jpegsave_buffer()

    with pytest.raises(UnsupportedImage, match="truncated or corrupt"):
        process(whole[: len(whole) // 2], MAX_PIXELS)


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(b"these are my holiday notes, saved as holiday.jpg\n" * 20, id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(_solid(64, 64, RED).gifsave_buffer(), id="gif"),
    ],
)
def test_what_is_not_a_photo_we_take_is_refused(upload: bytes) -> None:
    with pytest.raises(UnsupportedImage, match="unsupported image format"):
        process(upload, MAX_PIXELS)


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(pixel_flood(50_000, 50_000), id="png"),
        pytest.param(_jpeg_declaring(30_000, 30_000), id="jpeg"),
    ],
)
def test_a_pixel_flood_is_refused_from_its_header(upload: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(TooManyPixels):
        process(upload, MAX_PIXELS)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "webp"),
        (b"GIF89a\x01\x00\x01\x00", "gif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heif"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00mif1avifmiaf", "avif"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "avif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"", None),
    ],
)
def test_the_format_is_sniffed_from_the_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


def test_the_blurhash_matches_the_reference_encoder() -> None:
    gradient = bytes(
        v for y in range(6) for x in range(8) for v in (x * 32, y * 40, 255 - x * 16 - y * 20)
    )

    assert blurhash.encode(gradient, 8, 6, 4, 3) == "LrF=a:7jb2xvzlRsfTnVevfAfRf9"
