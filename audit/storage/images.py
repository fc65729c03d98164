"""Photos: checked for their pixel count before anything decodes them, then thumbnailed.

A 13000×13000 PNG compresses to under 0.5 MB yet decodes to about 500 MB of pixels; decoding it
(``exif_transpose`` did, before any check) took a worker from 241 MB to 1.5 GB. The header
states the size, so it is read first and anything above ``MAX_PIXELS`` is refused undecoded.
"""

from __future__ import annotations

import io
import warnings

from audit.core.errors import DomainError

#: 50 megapixels: more than any phone camera's default photo (12–48 MP); decoding at most
#: ~150 MB of RGB, and JPEGs are decoded at thumbnail scale (draft mode) anyway.
MAX_PIXELS = 50_000_000


def init_app(_app) -> None:
    """Make Pillow refuse decompression bombs everywhere in the process (WeasyPrint too)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def thumbnail_jpeg(data: bytes, size: tuple[int, int], *, field: str = "file") -> bytes:
    """A JPEG thumbnail of the photo ``data`` fitting ``size``; DomainError when the photo is
    damaged or has more than ``MAX_PIXELS`` pixels (checked from its header, before decoding)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    too_large = (f"The photo has too many pixels: the limit is {MAX_PIXELS // 1_000_000} "
                 "megapixels. Send a smaller photo.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise DomainError(f"{too_large} (this one is {width}×{height})", field=field)
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (size[0] * 2, size[1] * 2))  # JPEG: decode at reduced scale
            img = ImageOps.exif_transpose(img)
            img.thumbnail(size)
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=75)
            return out.getvalue()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own check at open time (far beyond MAX_PIXELS): refused all the same.
        raise DomainError(too_large, field=field) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DomainError("The photo could not be read: it seems damaged or too large.",
                          field=field) from exc
