"""Decoding untrusted image bytes into RGB pictures, or a clear reason why not.

Only an allow-list of formats is opened (JPEG, PNG, WebP, BMP, GIF, TIFF), the pixel count is
checked from the header before any pixel is decoded, and every mode is converted to RGB the
way a person would expect (EXIF orientation applied, alpha composited on white, 16-bit scaled).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import Enum

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["ALLOWED_FORMATS", "IMAGE_SUFFIXES", "MAX_PIXELS", "DecodedImage", "ImageRejected", "RejectReason", "decode_image"]

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
"""Pillow format names we open (JPEG includes the MPO files many cameras write)."""

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
"""File suffixes a corpus folder is searched for."""

MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
"""Pillow's decompression-bomb threshold; past it we refuse instead of warning."""

_REFUSE_BOMBS = ("error", None, Image.DecompressionBombWarning, None, 0)


def _refuse_bombs() -> None:
    """Turn Pillow's DecompressionBombWarning into an exception we catch, so it is never printed.

    Pillow warns from inside ``open`` and ``load`` (GIF frames, TIFF tiles) for sizes between its
    limit and twice it. ``warnings.catch_warnings`` is not thread-safe and the server decodes in
    many threads at once, so instead one filter for this category alone is kept first in the
    process's list (re-inserted if something, such as a test runner, reset the filters).
    """
    if not warnings.filters or warnings.filters[0] != _REFUSE_BOMBS:
        warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


class RejectReason(str, Enum):
    EMPTY = "empty"
    NOT_AN_IMAGE = "not-an-image"
    UNSUPPORTED_FORMAT = "unsupported-format"
    TOO_LARGE = "too-large"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    UNREADABLE = "unreadable"


class ImageRejected(ValueError):
    """The bytes are not an image we accept; ``reason`` groups the cases for reports."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image
    """RGB, upright."""
    format: str
    width: int
    height: int


def _to_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grey: Pillow's convert("L") clips at 255, so scale 0..65535 down ourselves.
        # An I;16 image is 16-bit by definition, however dark; only a 32-bit "I" image is guessed
        # at from its values (8-bit range when none is above 255).
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(array * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    # A "transparency" entry is a colour key (PNG tRNS, GIF): one palette index, grey level or RGB
    # colour that is see-through. convert("RGBA") turns it into alpha, as for a P image.
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return image.convert("RGB")
    return image


def _is_truncation(exc: Exception) -> bool:
    """Pillow says "image file is truncated" or "Truncated File Read" when the bytes run out.

    Its other decoder errors ("broken data stream", "unrecognized data stream contents") come
    from a complete file with bad data, so they are corruption, not truncation.
    """
    return "truncated" in str(exc).lower()


def _too_large(exc: Exception) -> ImageRejected:
    return ImageRejected(RejectReason.TOO_LARGE, f"image is over the decompression-bomb limit of {MAX_PIXELS:,} pixels "
                                                 f"and is not decoded ({exc})")


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS, min_side: int | None = None) -> DecodedImage:
    """Decode ``data`` into an upright RGB image, or raise :class:`ImageRejected`.

    With ``min_side``, a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size (Pillow's ``draft``,
    libjpeg's DCT scaling, much cheaper than decoding every pixel and resizing them) as long as both
    sides stay at least ``min_side``: the smallest scale a later resize to that shorter side needs.
    ``width`` and ``height`` are always the file's own.
    """
    if not data:
        raise ImageRejected(RejectReason.EMPTY, "empty file: 0 bytes")
    _refuse_bombs()
    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        try:
            found = Image.open(io.BytesIO(data)).format
        except Exception:  # anything Pillow cannot identify at all
            found = None
        if found:
            allowed = ", ".join(sorted({"JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF"}))
            raise ImageRejected(
                RejectReason.UNSUPPORTED_FORMAT, f"{found} images are not accepted; allowed formats: {allowed}"
            ) from None
        raise ImageRejected(RejectReason.NOT_AN_IMAGE, "not an image file (no known image header)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(exc) from None
    except Exception as exc:  # a malformed header can raise almost anything inside a plugin
        if _is_truncation(exc):
            raise ImageRejected(RejectReason.TRUNCATED, f"truncated image header: {exc}") from None
        raise ImageRejected(RejectReason.CORRUPT, f"unreadable image header: {exc}") from None

    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejected(RejectReason.CORRUPT, f"image header claims {width}×{height} pixels")
    if width * height > max_pixels:
        raise ImageRejected(
            RejectReason.TOO_LARGE,
            f"image is {width}×{height} = {width * height:,} pixels, over the limit of {max_pixels:,}",
        )
    fmt = image.format or "?"
    try:
        if min_side is not None and fmt == "JPEG" and min(width, height) >= 2 * min_side:
            image.draft(image.mode, (min_side, min_side))
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)  # animated GIF/WebP/TIFF: the first frame stands for the file
        image.load()
        turned = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
        rgb.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(exc) from None
    except OSError as exc:
        if _is_truncation(exc):
            raise ImageRejected(RejectReason.TRUNCATED, f"truncated {fmt} data: {exc}") from None
        raise ImageRejected(RejectReason.CORRUPT, f"corrupt {fmt} data: {exc}") from None
    except Exception as exc:  # plugins raise SyntaxError, ValueError, struct.error, ...
        raise ImageRejected(RejectReason.CORRUPT, f"corrupt {fmt} data: {exc}") from None
    if turned:  # EXIF orientations 5-8 swap the sides
        width, height = height, width
    return DecodedImage(rgb, fmt, width, height)
