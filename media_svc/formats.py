"""What kind of image a file is, read from its first bytes (its magic numbers), never
from the content type a client puts on it."""

from __future__ import annotations

# Enough for every signature below; a HEIF/AVIF ``ftyp`` box is read as far as given.
SNIFF_BYTES = 64

# The photo formats taken, and the content type each is stored with. GIF is sniffed but
# refused: this is a photo app, and an animation cut to its first frame would not be the
# picture the user chose.
PHOTO_CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heif": "image/heif",
    "avif": "image/avif",
}

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff_format(head: bytes) -> str | None:
    """The image format the first bytes of a file declare, or None if not one we know.

    Pass at least the first SNIFF_BYTES bytes.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    return None


def _sniff_ftyp(head: bytes) -> str | None:
    # The box holds a major brand, a minor version, then compatible brands to its end.
    box = head[: int.from_bytes(head[:4], "big")]
    brands = {box[8:12]} | {box[i : i + 4] for i in range(16, len(box) - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heif"
    return None
