"""Images kind, pictures: encoded images from summary values, checked by decoding them with
Pillow (never trusting a declared type) and scaled for the page. Pillow lives here only.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

from tbreport.kinds.media import Refused

#: formats a browser shows, by Pillow's name: (file extension, MIME type)
FORMATS = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
}
#: largest width and height of an image on the page (larger ones are scaled to fit, keeping
#: their shape): three side by side fill the report's 980 px column
MAX_SIDE = 320

_DT_STRING = 7


def encoded_images(value: Any) -> list[bytes]:
    """The encoded images of one summary value, as TensorBoard's data_compat migrates them:
    ``Summary.Image`` holds one; the ``images`` plugin's string tensor is ``[w, h, img...]``.
    """
    field = value.WhichOneof("value")
    if field == "image":
        return [value.image.encoded_image_string]
    tensor = value.tensor
    if field != "tensor" or tensor.dtype != _DT_STRING or len(tensor.tensor_shape.dim) != 1:
        raise Refused("the value is not an images tensor (a string vector [w, h, image...])")
    if len(tensor.string_val) < 2:
        raise Refused("the images tensor has no width and height")
    return list(tensor.string_val[2:])


@dataclass(frozen=True)
class Checked:
    """An image that decodes: its format, size and, when it is large, a scaled copy."""

    format: str
    width: int
    height: int
    shown_width: int
    shown_height: int
    #: (extension, MIME type, bytes) of the copy shown, None when the original is shown as is
    scaled: tuple[str, str, bytes] | None


def check_image(data: bytes) -> Checked:
    """Decode ``data`` completely; Refused says why it cannot be shown."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as im:
                im.load()
                return _checked(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Refused(
                f"the image has more pixels than Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} "
                "(Image.MAX_IMAGE_PIXELS), as a decompression bomb would"
            ) from None
        except UnidentifiedImageError:
            raise Refused(
                f"the image is not PNG, JPEG, GIF or WebP ({len(data)} bytes starting {data[:8]!r})"
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            # Pillow reports broken data as any of these (truncated, bad chunk, bad header)
            raise Refused(f"the image does not decode ({err})") from None


def _checked(im: Any) -> Checked:
    from PIL import Image

    width, height = im.size
    scale = min(1.0, MAX_SIDE / width, MAX_SIDE / height)
    shown = (max(1, round(width * scale)), max(1, round(height * scale)))
    if scale == 1.0:
        return Checked(im.format, width, height, width, height, None)
    copy = im if im.mode in ("RGB", "RGBA", "L", "LA") else im.convert("RGBA")
    copy = copy.resize(shown, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if im.format == "JPEG" and copy.mode in ("RGB", "L"):
        copy.save(buf, "JPEG", quality=88)
        scaled = ("jpg", "image/jpeg", buf.getvalue())
    else:  # one PNG frame: an animation's copy shows its first frame
        copy.save(buf, "PNG")
        scaled = ("png", "image/png", buf.getvalue())
    return Checked(im.format, width, height, shown[0], shown[1], scaled)
