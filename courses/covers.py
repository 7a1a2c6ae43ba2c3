"""Course covers: resized copies of ``Course.image`` made once, with Pillow, when it changes.

Each size is written twice, as WebP (small) and as JPEG (every browser), through the image
field's storage (the local file system, or whatever ``STORAGES["default"]`` names), never to a
path directly. Pages show them in a ``<picture>`` with width, height and lazy loading.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from PIL import Image, ImageOps, UnidentifiedImageError

# Widths of a 16:9 cover: a catalog card, and the course page (also the card at 2x).
COVER_WIDTHS = (480, 960)
COVER_RATIO = (16, 9)
WEBP_QUALITY = 80
JPEG_QUALITY = 85
# Decompression bombs: refuse anything larger than a 40-megapixel photo.
MAX_SOURCE_PIXELS = 40_000_000


class CoverError(ValueError):
    """The uploaded file is not an image Pillow can read."""


@dataclass(frozen=True)
class Thumbnail:
    width: int
    height: int
    webp_url: str
    fallback_url: str
    fallback_type: str


@dataclass(frozen=True)
class Cover:
    """What a template needs: the smallest size as ``img``, every size for ``srcset``."""

    thumbnails: tuple[Thumbnail, ...]

    @classmethod
    def of(cls, course) -> Cover | None:
        if not course.image or course.cover_source != course.image.name:
            return None
        storage = course.image.storage
        thumbnails = tuple(
            Thumbnail(
                width=item["width"],
                height=item["height"],
                webp_url=storage.url(item["webp"]),
                fallback_url=storage.url(item["fallback"]),
                fallback_type=item["fallback_type"],
            )
            for item in course.cover_thumbnails
        )
        return cls(thumbnails) if thumbnails else None

    @property
    def small(self) -> Thumbnail:
        return self.thumbnails[0]

    @property
    def large(self) -> Thumbnail:
        return self.thumbnails[-1]

    @property
    def webp_srcset(self) -> str:
        return ", ".join(f"{t.webp_url} {t.width}w" for t in self.thumbnails)

    @property
    def fallback_srcset(self) -> str:
        return ", ".join(f"{t.fallback_url} {t.width}w" for t in self.thumbnails)


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "WEBP":
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def _opaque(image: Image.Image) -> Image.Image:
    """RGB on white: JPEG has no transparency, and a transparent logo must stay readable."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def make_thumbnails(storage: Storage, source_name: str) -> list[dict]:
    """Write every size of ``source_name`` (a name in ``storage``); return their descriptions.

    Every run writes new names (a random token), so a new image is never served from a
    browser cache as the old one, and two overlapping runs never delete each other's files.
    """
    try:
        with storage.open(source_name, "rb") as handle:
            data = handle.read()
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_SOURCE_PIXELS:
                raise CoverError(f"the image is too large ({width}×{height} pixels)")
            probe.load()
            image = _opaque(probe)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise CoverError(f"not a readable image: {type(error).__name__}") from error

    stem = source_name.rsplit("/", 1)[-1].rsplit(".", 1)[0][:60]
    token = secrets.token_hex(5)
    thumbnails = []
    for width in COVER_WIDTHS:
        size = (width, width * COVER_RATIO[1] // COVER_RATIO[0])
        resized = ImageOps.fit(image, size, Image.Resampling.LANCZOS)
        names = {}
        for fmt, ext in (("WEBP", "webp"), ("JPEG", "jpg")):
            name = f"courses/thumbs/{stem}-{token}-{width}.{ext}"
            names[ext] = storage.save(name, ContentFile(_encode(resized, fmt)))
        thumbnails.append(
            {
                "width": size[0],
                "height": size[1],
                "webp": names["webp"],
                "fallback": names["jpg"],
                "fallback_type": "image/jpeg",
            }
        )
    return thumbnails


def delete_thumbnails(storage: Storage, thumbnails: list[dict]) -> None:
    """Remove replaced thumbnails; a missing file is fine (already gone)."""
    for item in thumbnails:
        for key in ("webp", "fallback"):
            name = item.get(key)
            if name:
                storage.delete(name)
