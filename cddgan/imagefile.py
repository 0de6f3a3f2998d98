"""Photos as people have them, read and written for `cddgan apply`: any mode, 8 or 16 bits, EXIF-rotated.

The harness's own reader (`cddgan.io.read_image`) turns every image into 8-bit-or-better RGB for scoring
and drops alpha; a user's photo must come back as it went in. So a `Photo` keeps what the network does
not see: whether it was grey (grey in, grey out), its alpha channel, and its bit depth (16-bit in, 16-bit
PNG out). Its pixels are stored upright: the EXIF orientation is applied on reading, as a viewer shows it.

Pillow decodes 16-bit RGB(A) PNG and TIFF only to 8 bits (the high byte of each sample). Its decoder
unfilters and unpacks in C by a "raw mode"; decoding the file a second time with the byte order of that
raw mode swapped yields the low bytes, and the two give the 16-bit samples (`_sixteen_bit_rgb`). Pillow
cannot write 16-bit RGB(A) either: `write_png` encodes those PNGs itself (zlib, the "Up" filter).
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cddgan.errors import ImageError
from cddgan.io import MAX_PIXELS, atomic_path

# Grey from RGB: ITU-R BT.601 luma, the weights Pillow's convert("L") uses.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
ORIENTATION_TAG = 0x0112
# Raw modes of 16-bit RGB(A) samples, each with its byte order swapped (see the module docstring); "N" is
# the machine's own order (libtiff's output).
_NATIVE = "L" if sys.byteorder == "little" else "B"
SWAPPED = {
    **{f"{m};16B": f"{m};16L" for m in ("RGB", "RGBA")},
    **{f"{m};16L": f"{m};16B" for m in ("RGB", "RGBA")},
    **{f"{m};16N": f"{m};16{'B' if _NATIVE == 'L' else 'L'}" for m in ("RGB", "RGBA")},
}
GREY16_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


@dataclass
class Photo:
    """An image as `cddgan apply` handles it: `rgb` HxWx3 float32 in [0, 1] (grey replicated), `alpha`
    HxW float32 or None, `grey` (write grey back), `bits` (8 or 16: the depth to write back)."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    grey: bool = False
    bits: int = 8

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.rgb.shape[1], self.rgb.shape[0]


def read_photo(path: str | os.PathLike) -> Photo:
    """Read any image Pillow opens, upright; `ImageError` naming the file and why for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty (0 bytes)")
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                size = f"{img.width}x{img.height}"
                raise ImageError(f"{path}: {size} is larger than {MAX_PIXELS} pixels; resize it first")
            photo = _decode(img, path)  # first: reading a PNG's EXIF decodes it and forgets its raw modes
            orientation = _orientation(img)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: {exc}; resize it first") from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{path}: not an image Pillow can read (unsupported format or not an image)") from exc
    except (OSError, SyntaxError, ValueError, struct.error, zlib.error) as exc:
        raise ImageError(f"{path}: cannot decode it ({exc}); the file is truncated or damaged") from exc
    return upright(photo, orientation)


def _orientation(img: Image.Image) -> int:
    try:
        value = int(img.getexif().get(ORIENTATION_TAG, 1))
    except Exception:  # a damaged EXIF block is no reason to refuse the pixels
        return 1
    return value if 1 <= value <= 8 else 1


def _decode(img: Image.Image, path: Path) -> Photo:
    """Pixels of an opened image as a Photo (not yet upright)."""
    mode = img.mode
    if mode in ("RGB", "RGBA"):
        sixteen = _sixteen_bit_rgb(img, path)
        if sixteen is not None:
            return _from_samples(sixteen, 65535.0, grey=False, bits=16)
        if [_rawmode(tile) for tile in img.tile] == ["LA;16B"]:  # 16-bit grey + alpha: all 4 bytes as "RGBA"
            img.tile = [_with_rawmode(img.tile[0], "RGBA")]
            img.load()
            b = np.asarray(img).astype(np.uint16)
            grey_alpha = np.stack([(b[..., 0] << 8) | b[..., 1], (b[..., 2] << 8) | b[..., 3]], axis=2)
            return _from_samples(grey_alpha, 65535.0, grey=True, bits=16)
    if mode in GREY16_MODES or mode == "I":
        img.load()
        raw = np.asarray(img).astype(np.float64)
        deep = mode in GREY16_MODES or (raw.size and raw.max() > 255)
        return _from_samples(raw[..., None], 65535.0 if deep else 255.0, grey=True, bits=16 if deep else 8)
    if mode == "F":
        raise ImageError(f"{path}: 32-bit floating-point images are not supported; save it as a 16-bit PNG or TIFF")
    if mode in ("1", "L", "LA", "La"):
        img = img.convert("LA" if mode in ("LA", "La") else "L")
        return _from_samples(np.asarray(img), 255.0, grey=True, bits=8)
    has_alpha = mode in ("RGBA", "RGBa", "PA", "LA") or (mode == "P" and "transparency" in img.info)
    img = img.convert("RGBA" if has_alpha else "RGB")  # palette, CMYK, YCbCr, LAB, HSV: colour images
    return _from_samples(np.asarray(img), 255.0, grey=False, bits=8)


def _from_samples(samples: np.ndarray, peak: float, grey: bool, bits: int) -> Photo:
    """HxW[xC] integer samples (C: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) -> Photo."""
    array = np.asarray(samples, dtype=np.float64)
    if array.ndim == 2:
        array = array[..., None]
    array = np.clip(array / peak, 0.0, 1.0).astype(np.float32)
    colour = array[..., :1] if grey else array[..., :3]
    rgb = np.repeat(colour, 3, axis=2) if grey else colour
    alpha = array[..., -1] if array.shape[2] in (2, 4) else None
    return Photo(np.ascontiguousarray(rgb), alpha, grey, bits)


def _rawmode(tile: object) -> str | None:
    args = tile[3] if isinstance(tile, tuple) and len(tile) > 3 else None
    first = args[0] if isinstance(args, tuple) and args else args
    return first if isinstance(first, str) else None


def _with_rawmode(tile: tuple, rawmode: str) -> tuple:
    args = tile[3]
    args = (rawmode, *args[1:]) if isinstance(args, tuple) else rawmode
    return tile._replace(args=args) if hasattr(tile, "_replace") else (*tile[:3], args, *tile[4:])


def _sixteen_bit_rgb(img: Image.Image, path: Path) -> np.ndarray | None:
    """HxWxC uint16 samples of a 16-bit RGB(A) file, else None (8-bit files and other layouts)."""
    rawmodes = [_rawmode(tile) for tile in img.tile]
    if not rawmodes or any(mode not in SWAPPED for mode in rawmodes):
        return None
    img.load()
    high = np.asarray(img).astype(np.uint16)
    with Image.open(path) as again:
        again.tile = [_with_rawmode(t, SWAPPED[_rawmode(t) or ""]) for t in again.tile]
        again.load()
        low = np.asarray(again).astype(np.uint16)
    return (high << 8) | low


# EXIF orientation -> the numpy steps that make the stored pixels upright (Pillow's ImageOps.exif_transpose).
def upright(photo: Photo, orientation: int) -> Photo:
    """The photo as it is meant to be seen: EXIF orientation 2-8 undone (mirror, rotate, transpose)."""
    if orientation == 1:
        return photo

    def turn(a: np.ndarray) -> np.ndarray:
        steps = {
            2: lambda x: x[:, ::-1],
            3: lambda x: x[::-1, ::-1],
            4: lambda x: x[::-1],
            5: lambda x: np.swapaxes(x, 0, 1),
            6: lambda x: np.rot90(x, -1),
            7: lambda x: np.rot90(x, 2).swapaxes(0, 1),
            8: lambda x: np.rot90(x, 1),
        }
        return np.ascontiguousarray(steps[orientation](a))

    alpha = None if photo.alpha is None else turn(photo.alpha)
    return Photo(turn(photo.rgb), alpha, photo.grey, photo.bits)


def to_grey(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 -> HxW with BT.601 weights (how a grey input's dehazed RGB replication is written back)."""
    return np.asarray(rgb, dtype=np.float32) @ LUMA


def samples(photo: Photo, rgb: np.ndarray, bits: int | None = None) -> np.ndarray:
    """The integer samples to write for `rgb` (HxWx3 in [0, 1]) shaped like `photo`: grey or RGB, with its
    alpha, at its bit depth (or `bits`)."""
    bits = bits or photo.bits
    colour = to_grey(rgb)[..., None] if photo.grey else np.asarray(rgb, dtype=np.float32)
    if photo.alpha is not None:
        colour = np.concatenate([colour, photo.alpha[..., None]], axis=2)
    if not np.isfinite(colour).all():
        raise ImageError("the result has NaN or inf values; nothing written")
    peak, dtype = (65535.0, np.uint16) if bits == 16 else (255.0, np.uint8)
    return np.rint(np.clip(colour, 0.0, 1.0) * peak).astype(dtype)


def write_photo(path: str | os.PathLike, photo: Photo, rgb: np.ndarray, bits: int | None = None) -> None:
    """Write `rgb` as a PNG shaped like `photo` (grey, alpha, bit depth), atomically."""
    write_png(path, samples(photo, rgb, bits))


def write_png(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write HxWxC (C 1-4: grey, grey+alpha, RGB, RGBA) uint8 or uint16 samples as a PNG, atomically.
    8-bit images go through Pillow; 16-bit ones are encoded here (Pillow writes 16 bits for grey only)."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    with atomic_path(path) as tmp:
        if array.dtype == np.uint8:
            modes = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
            Image.fromarray(array[..., 0] if array.shape[2] == 1 else array, modes[array.shape[2]]).save(tmp, "PNG")
        else:
            tmp.write_bytes(encode_png16(array.astype(np.uint16)))


def encode_png16(array: np.ndarray) -> bytes:
    """A 16-bit PNG of HxWxC uint16 samples (C 1-4), every row with the "Up" filter (byte-wise difference
    to the row above: one vectorised subtraction, and smaller files than no filter for photographs)."""
    height, width, channels = array.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(array.astype(">u2")).view(np.uint8).reshape(height, width * channels * 2)
    filtered = rows.copy()
    filtered[1:] -= rows[:-1]  # uint8 arithmetic wraps modulo 256, as PNG's filters do
    data = np.concatenate([np.full((height, 1), 2, np.uint8), filtered], axis=1)  # filter type 2: Up

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(data.tobytes(), 6))
        + chunk(b"IEND", b"")
    )
