"""Image corruptions at five severities: will the model survive another hospital's scanner?

In the spirit of MedMNIST-C (Di Salvo, Doerrich and Ledig, "MedMNIST-C: Comprehensive
benchmark and improved classifier robustness by simulating realistic image
corruptions", arXiv:2406.17536, 2024), itself modelled on ImageNet-C (Hendrycks and
Dietterich, ICLR 2019): each corruption mimics something that really happens to
medical images - sensor noise, photon-starved (low-dose) acquisitions, ultrasound
speckle, defocus/motion blur, under- or over-exposure, low contrast, lossy JPEG
compression in a PACS export, low resolution - at severities 1 (mild) to 5 (severe).
Severity 0 returns the images unchanged, which makes severity curves start at the
clean score.

:func:`corrupt` works on uint8 images (N, H, W) or (N, H, W, C) (one image (H, W) too),
is vectorised over the batch (NumPy/SciPy; JPEG goes through Pillow image by image),
and is deterministic: the same ``seed`` gives the same noise bit for bit.
:func:`corruptions_for` lists the corruptions that make sense for a modality
(speckle for ultrasound, no speckle for radiographs ...).

Used in lesson 13 and by ``medlearn train --robustness``.
"""
from __future__ import annotations

import io

import numpy as np

from medlearn.datasets._errors import DatasetError

__all__ = ["corrupt", "corruptions_for", "CORRUPTIONS", "SEVERITIES", "CorruptionError"]

SEVERITIES = (1, 2, 3, 4, 5)

#: kind -> the parameter at severities 1..5 (image range 0..1; blur in pixels at 28x28, scaled with size).
CORRUPTIONS = {
    "gaussian_noise": (0.03, 0.06, 0.09, 0.13, 0.18),   # additive noise std
    "poisson_noise": (80.0, 40.0, 20.0, 10.0, 5.0),      # photons at full brightness (fewer = noisier)
    "speckle_noise": (0.08, 0.15, 0.25, 0.35, 0.5),      # multiplicative noise std (ultrasound)
    "blur": (0.5, 0.75, 1.0, 1.4, 1.8),                  # Gaussian sigma in pixels at 28x28
    "contrast": (0.75, 0.6, 0.45, 0.3, 0.2),             # contrast kept around the image mean
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),             # over-exposure: added brightness
    "darkness": (0.85, 0.7, 0.55, 0.45, 0.35),           # under-exposure: gain
    "jpeg": (60, 40, 25, 15, 8),                          # JPEG quality
    "pixelate": (0.85, 0.7, 0.55, 0.45, 0.35),           # resolution kept (fraction of the side)
}

_MODALITY_KINDS = (  # modality keyword -> corruptions that occur with it
    ("ultrasound", ("speckle_noise", "gaussian_noise", "blur", "contrast", "brightness", "darkness", "jpeg",
                    "pixelate")),
    ("x-ray", ("gaussian_noise", "poisson_noise", "blur", "contrast", "brightness", "darkness", "jpeg",
               "pixelate")),
    ("ct", ("gaussian_noise", "poisson_noise", "blur", "contrast", "brightness", "darkness", "jpeg", "pixelate")),
    ("oct", ("speckle_noise", "gaussian_noise", "blur", "contrast", "brightness", "darkness", "jpeg",
             "pixelate")),
)


class CorruptionError(DatasetError):
    """An unknown corruption, a severity out of range or images that are not uint8."""


def corruptions_for(modality: str | None = None) -> tuple:
    """The corruption kinds that fit a modality (all but speckle when unknown or photographic).

    Args:
        modality: a modality text such as a registry entry's ``info["modality"]``
            (``"chest X-ray"``, ``"breast ultrasound"`` ...), or None.

    Returns:
        A tuple of kinds from :data:`CORRUPTIONS`.

    Example:
        >>> "speckle_noise" in corruptions_for("breast ultrasound")
        True

    Used in lesson 13 and by ``medlearn train --robustness``.
    """
    text = (modality or "").lower().replace("xray", "x-ray")
    for key, kinds in _MODALITY_KINDS:
        if key in text:
            return kinds
    return tuple(k for k in CORRUPTIONS if k != "speckle_noise")


def corrupt(images, kind: str, severity: int, *, seed: int = 0) -> np.ndarray:
    """Corrupt uint8 images with one corruption at one severity.

    Args:
        images: uint8 (N, H, W), (N, H, W, C) or one image (H, W), values 0..255.
        kind: one of :data:`CORRUPTIONS` (``"gaussian_noise"``, ``"poisson_noise"``,
            ``"speckle_noise"``, ``"blur"``, ``"contrast"``, ``"brightness"``, ``"darkness"``,
            ``"jpeg"``, ``"pixelate"``).
        severity: 1 (mild) .. 5 (severe); 0 returns an unchanged copy.
        seed: seed of the noise (the same seed gives the same images).

    Returns:
        uint8 array, same shape as ``images``.

    Raises:
        CorruptionError: unknown ``kind`` or ``severity`` (the message lists the valid ones),
            images that are not uint8 or have the wrong number of dimensions.

    Example:
        >>> x = np.full((2, 28, 28), 128, dtype=np.uint8)
        >>> corrupt(x, "contrast", 5).shape
        (2, 28, 28)

    Used in lesson 13 and by ``medlearn train --robustness``.
    """
    if kind not in CORRUPTIONS:
        raise CorruptionError(f"kind must be one of {', '.join(CORRUPTIONS)}. Received: kind={kind!r}")
    if isinstance(severity, bool) or not isinstance(severity, (int, np.integer)) or not 0 <= severity <= 5:
        raise CorruptionError(f"severity must be one of 1, 2, 3, 4, 5 (or 0 = unchanged). "
                              f"Received: severity={severity!r}")
    x = np.asarray(images)
    if x.dtype != np.uint8:
        raise CorruptionError(f"images must be uint8 (0..255). Received dtype {x.dtype}; "
                              f"convert with np.clip(x * 255, 0, 255).astype('uint8') if they are floats in [0, 1]")
    if x.ndim not in (2, 3, 4):
        raise CorruptionError(f"images must be (H, W), (N, H, W) or (N, H, W, C). Received shape {x.shape}")
    if severity == 0:
        return x.copy()
    single = x.ndim == 2
    batch = x[None] if single else x
    batch4 = batch if batch.ndim == 4 else batch[..., None]       # (N, H, W, C)
    param = CORRUPTIONS[kind][int(severity) - 1]
    rng = np.random.default_rng([int(seed), list(CORRUPTIONS).index(kind), int(severity)])
    if kind == "jpeg":
        out = _jpeg(batch4, int(param))
    else:
        out = _to_uint8(_FLOAT_OPS[kind](batch4.astype("float64") / 255.0, param, rng))
    out = out if batch.ndim == 4 else out[..., 0]
    return out[0] if single else out


def _to_uint8(x):
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _gaussian(x, sigma, rng):
    return x + rng.normal(0.0, sigma, x.shape)


def _poisson(x, photons, rng):
    return rng.poisson(np.clip(x, 0, 1) * photons) / photons


def _speckle(x, sigma, rng):
    return x * (1.0 + rng.normal(0.0, sigma, x.shape))


def _blur(x, sigma, rng):
    from scipy.ndimage import gaussian_filter

    s = sigma * x.shape[1] / 28.0
    return gaussian_filter(x, sigma=(0, s, s, 0), mode="nearest")


def _contrast(x, keep, rng):
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * keep + mean


def _brightness(x, shift, rng):
    return x + shift


def _darkness(x, gain, rng):
    return x * gain


def _area_matrix(n_out, n_in):
    """(n_out, n_in) matrix that averages the input pixels falling into each output pixel."""
    owner = np.minimum((np.arange(n_in) * n_out) // n_in, n_out - 1)
    m = np.zeros((n_out, n_in))
    m[owner, np.arange(n_in)] = 1.0
    return m / m.sum(axis=1, keepdims=True)


def _pixelate(x, keep, rng):
    n, h, w, c = x.shape
    ho, wo = max(1, int(round(h * keep))), max(1, int(round(w * keep)))
    small = np.einsum("ih,nhwc,jw->nijc", _area_matrix(ho, h), x, _area_matrix(wo, w))
    rows = np.minimum((np.arange(h) * ho) // h, ho - 1)   # nearest-neighbour back to full size
    cols = np.minimum((np.arange(w) * wo) // w, wo - 1)
    return small[:, rows][:, :, cols]


def _jpeg(x, quality):
    from PIL import Image

    out = np.empty_like(x)
    for i, img in enumerate(x):
        pil = Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img)
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        dec = np.asarray(Image.open(buf))
        out[i] = dec.reshape(img.shape)
    return out


_FLOAT_OPS = {
    "gaussian_noise": _gaussian, "poisson_noise": _poisson, "speckle_noise": _speckle, "blur": _blur,
    "contrast": _contrast, "brightness": _brightness, "darkness": _darkness, "pixelate": _pixelate,
}
