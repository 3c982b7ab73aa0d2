"""BlurHash (https://blurha.sh): the ~28-character placeholder a client paints while a
photo's renditions load.

Encoded here from the published algorithm rather than through a package: the picture it
reads is a 32-pixel thumbnail, so pure Python costs about a millisecond and a C-backed
dependency would buy nothing.
"""

from __future__ import annotations

import math

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def _srgb_to_linear(value: int) -> float:
    v = value / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


_LINEAR = [_srgb_to_linear(value) for value in range(256)]


def _linear_to_srgb(value: float) -> int:
    v = min(max(value, 0.0), 1.0)
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[value // 83 ** (length - 1 - i) % 83] for i in range(length))


def _sign_pow(value: float, exponent: float) -> float:
    return math.copysign(abs(value) ** exponent, value)


def encode(rgb: bytes, width: int, height: int, x_components: int, y_components: int) -> str:
    """BlurHash of packed 8-bit sRGB pixels, three bytes a pixel, row after row."""
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(x_components)]
    cos_y = [
        [math.cos(math.pi * j * y / height) for y in range(height)] for j in range(y_components)
    ]

    # The cosine basis is separable: sum each row against the x cosines once, then the
    # rows against the y cosines, instead of every pixel against every component.
    row_sums = []
    stride = width * 3
    for y in range(height):
        row = rgb[y * stride : (y + 1) * stride]
        channels = [[_LINEAR[v] for v in row[c::3]] for c in range(3)]
        row_sums.append(
            [[math.fsum(map(float.__mul__, basis, ch)) for ch in channels] for basis in cos_x]
        )

    factors = []
    for j in range(y_components):
        for i in range(x_components):
            scale = (1 if i == j == 0 else 2) / (width * height)
            factors.append(
                [
                    scale * math.fsum(cos_y[j][y] * row_sums[y][i][c] for y in range(height))
                    for c in range(3)
                ]
            )

    dc, ac = factors[0], factors[1:]
    hash_ = _base83((x_components - 1) + (y_components - 1) * 9, 1)
    if ac:
        quantised_max = max(0, min(82, math.floor(max(abs(v) for f in ac for v in f) * 166 - 0.5)))
        maximum = (quantised_max + 1) / 166
        hash_ += _base83(quantised_max, 1)
    else:
        maximum = 1.0
        hash_ += _base83(0, 1)
    r, g, b = (_linear_to_srgb(v) for v in dc)
    hash_ += _base83((r << 16) + (g << 8) + b, 4)
    for factor in ac:
        qr, qg, qb = (
            max(0, min(18, math.floor(_sign_pow(v / maximum, 0.5) * 9 + 9.5))) for v in factor
        )
        hash_ += _base83(qr * 19 * 19 + qg * 19 + qb, 2)
    return hash_
