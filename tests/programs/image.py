"""Image processing on small float / uint8 images: blurs, Sobel edges, gamma,
thresholds, colour conversion, resizing, orientation changes and quantisation."""
import numpy as np

from tests.programs.registry import program


def _gray(rng, h=32, w=28):
    return (rng.uniform(0.0, 1.0, size=(h, w)),)


def _rgb(rng, h=16, w=20):
    return (rng.uniform(0.0, 1.0, size=(h, w, 3)),)


@program(_gray, dynamic_axes={0: {0: "H", 1: "W"}})
def box_blur_3x3(img):
    """'same'-sized 3x3 mean filter with zero padding, sum of nine shifted slices."""
    p = np.pad(img, 1, mode="constant")
    h, w = img.shape
    acc = np.zeros_like(img)
    for di in range(3):
        for dj in range(3):
            acc = acc + p[di:di + h, dj:dj + w]
    return acc / 9.0


@program(_gray, tags={"tuple_output"})
def sobel(img):
    """Sobel gradient magnitude and direction on the valid region."""
    gx = (img[:-2, 2:] + 2.0 * img[1:-1, 2:] + img[2:, 2:]) - (img[:-2, :-2] + 2.0 * img[1:-1, :-2] + img[2:, :-2])
    gy = (img[2:, :-2] + 2.0 * img[2:, 1:-1] + img[2:, 2:]) - (img[:-2, :-2] + 2.0 * img[:-2, 1:-1] + img[:-2, 2:])
    return np.hypot(gx, gy), np.arctan2(gy, gx)


@program(lambda rng: (rng.uniform(0.0, 1.0, size=(24, 24)).astype(np.float32),), tags={"float32"})
def gamma_correct_f32(img):
    """sRGB-like gamma on float32: Python-float exponents and constants keep float32 (NEP 50)."""
    linear = np.where(img <= 0.04045, img / 12.92, np.power((img + 0.055) / 1.055, 2.4))
    return np.clip(linear ** (1.0 / 2.2) * 1.1 - 0.05, 0.0, 1.0)


@program(_gray, tags={"tuple_output"})
def threshold(img):
    """Global threshold at the mean plus a binary mask and its foreground fraction."""
    t = img.mean()
    binary = np.where(img > t, 1.0, 0.0)
    mask = img > t
    return binary, mask, mask.mean()


@program(_gray)
def contrast_stretch(img):
    lo = img.min()
    hi = img.max()
    return np.clip((img - lo) / (hi - lo) * 1.2 - 0.1, 0.0, 1.0)


@program(_rgb, dynamic_axes={0: {0: "H", 1: "W"}})
def rgb_to_gray(img):
    return img @ np.array([0.299, 0.587, 0.114])


@program(_rgb, tags={"tuple_output"})
def rgb_to_hsv_value_saturation(img):
    v = img.max(axis=-1)
    mn = img.min(axis=-1)
    s = np.where(v > 0, (v - mn) / np.maximum(v, 1e-12), 0.0)
    return v, s


@program(_rgb)
def normalize_channels(img):
    """Per-channel standardisation of an HWC image, returned as CHW."""
    mean = img.mean(axis=(0, 1))
    std = img.std(axis=(0, 1))
    return np.moveaxis((img - mean) / std, -1, 0)


@program(_gray)
def downsample_2x2_mean(img):
    h, w = img.shape
    return img.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


@program(lambda rng: (rng.uniform(0.0, 1.0, size=(5, 7)),))
def upsample_nearest(img):
    return np.repeat(np.repeat(img, 2, axis=0), 2, axis=1)


@program(_rgb, tags={"tuple_output"})
def orientations(img):
    rot90 = np.flip(np.swapaxes(img, 0, 1), axis=1)
    mirrored = img[:, ::-1]
    upside_down = np.flip(img, axis=0)
    return rot90, mirrored, upside_down


@program(_rgb, tags={"int", "tuple_output"})
def quantize_uint8(img):
    """Float image -> uint8 -> float, and a 3-bit posterisation using integer division."""
    q = np.clip(np.floor(img * 255.0 + 0.5), 0, 255).astype(np.uint8)
    poster = (q // 32) * 32 + 16
    back = q.astype(np.float32) / 255.0
    return q, poster, back


@program(_gray)
def unsharp_mask(img):
    p = np.pad(img, 1, mode="constant")
    h, w = img.shape
    blur = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] + 4.0 * p[1:-1, 1:-1]) / 8.0
    return np.clip(img + 1.5 * (img - blur), 0.0, 1.0)
