"""Synthetic chest-radiograph phantoms with exact ground truth (works offline).

Each image is drawn from a small generative model of a frontal chest X-ray:
a body outline, two dark lung fields, a bright spine and heart shadow, curved
ribs at a random phase, smooth "parenchyma" texture, a random exposure
(gain/offset) and pixel noise. Half of the images get a *lesion*: a bright
round nodule of random size, contrast and position inside a lung. Because
the lesion can be anywhere and the exposure varies from image to image, a
linear model on raw pixels (logistic regression) does poorly while a small
CNN, whose filters slide over the image, finds the nodule easily: the point
of lessons 05-07.

Calibration of the default (``difficulty="medium"``, the embedded 4000/1000
split, ``python benchmarks/calibrate_phantoms.py``): logistic regression on
raw pixels reaches 0.735 test accuracy at best (C in 0.01, 0.1, 1), a
14k-parameter CNN (3 conv layers, global max pooling, 20 epochs, ~50 s on
2 CPU cores) 0.981.

``make_phantoms`` draws new images; ``load_phantoms`` reads the pre-generated
copy in ``data/phantoms.npz`` (written by ``data/make_phantoms.py``).
"""
from __future__ import annotations

import math

import numpy as np

from medlearn.datasets._bunch import Bunch
from medlearn.datasets._errors import DatasetError
from medlearn.datasets._patients import check_sites, draw_patients

__all__ = ["make_phantoms", "DIFFICULTIES", "LABEL_NAMES", "PHANTOM_TARGETS"]

LABEL_NAMES = ["normal", "lesion"]
#: What ``make_phantoms(task=...)`` draws the images for (not a :mod:`medlearn.tasks` task name).
PHANTOM_TARGETS = ("classification", "segmentation")

#: Lesion radius (fraction of the image side), lesion contrast (added
#: brightness, image range 0..1), rib brightness, parenchyma texture and pixel noise levels.
DIFFICULTIES = {
    "easy": dict(radius=(0.08, 0.13), contrast=(0.25, 0.40), ribs=(0.03, 0.08), texture=0.03, noise=0.02),
    "medium": dict(radius=(0.07, 0.12), contrast=(0.22, 0.38), ribs=(0.03, 0.09), texture=0.03, noise=0.02),
    "hard": dict(radius=(0.05, 0.10), contrast=(0.14, 0.30), ribs=(0.06, 0.16), texture=0.045, noise=0.03),
}
_CHUNK = 256  # images generated per vectorised block (keeps memory flat, results chunk-independent)


def make_phantoms(n: int = 1000, *, size: int = 28, task: str = "classification",
                  difficulty: str = "medium", lesion_fraction: float | None = None,
                  seed: int | None = 0, images_per_patient: int = 1, sites=None) -> Bunch:
    """Draw synthetic chest-radiograph phantoms with their labels and lesion masks.

    Args:
        n: number of images, >= 1.
        size: image side in pixels, 16..512 (28 matches MedMNIST's default).
        task: ``"classification"`` (target: ``labels``, 0 = normal, 1 = lesion) or
            ``"segmentation"`` (target: ``masks``; by default every image has a lesion).
        difficulty: ``"easy"``, ``"medium"`` (default, calibrated so that logistic
            regression is clearly worse than a small CNN) or ``"hard"``.
        lesion_fraction: share of images with a lesion, in [0, 1]. Default 0.5 for
            classification, 1.0 for segmentation.
        seed: seed for NumPy's ``default_rng``; the same seed gives the same images bit for bit.
        images_per_patient: images drawn per synthetic patient, 1..50. A patient's images share
            anatomy, exposure and finding (label, lesion position); breathing, a little exposure,
            texture and noise change between them. Patients are consecutive: ``ceil(n / k)`` of them.
        sites: None (one site), an int 1..3 (preset sites: 0 = reference, 1 = darker and noisier,
            2 = brighter; equal shares of patients) or a list of dicts with keys ``share``
            (relative number of patients), ``gain``, ``offset`` (exposure: ``offset + gain * image``)
            and ``noise`` (multiplies the difficulty's pixel noise).

    Returns:
        A :class:`Bunch` with
        ``images`` (uint8, shape (n, size, size), 0..255),
        ``labels`` (int64, shape (n,), 0 = normal, 1 = lesion),
        ``masks`` (uint8, shape (n, size, size), 1 inside the lesion, else 0),
        ``lesion_centers`` (float32, (n, 2), row/column in pixels, NaN without lesion),
        ``lesion_radii`` (float32, (n,), pixels, 0 without lesion),
        ``lesion_contrast`` (float32, (n,), 0 without lesion),
        ``patient_ids`` (int64, (n,)), ``sites`` (int64, (n,), the site index, 0 with ``sites=None``),
        ``label_names`` (``["normal", "lesion"]``), ``task`` (``"binary-class"`` or
        ``"segmentation"``) and ``info`` (the registry entry ``"phantoms"``).

    Raises:
        DatasetError: an argument is out of range or not one of the listed values.

    Example:
        >>> data = make_phantoms(8, seed=1)
        >>> data.images.shape, data.labels.shape
        ((8, 28, 28), (8,))

    Used in lesson 13.
    """
    n = _check_int("n", n, 1, 10_000_000)
    size = _check_int("size", size, 16, 512)
    if task not in PHANTOM_TARGETS:
        raise DatasetError(f"task must be one of {', '.join(map(repr, PHANTOM_TARGETS))}. Received: task={task!r}")
    if difficulty not in DIFFICULTIES:
        raise DatasetError(
            f"difficulty must be one of {', '.join(map(repr, DIFFICULTIES))}. Received: difficulty={difficulty!r}"
        )
    if lesion_fraction is None:
        lesion_fraction = 0.5 if task == "classification" else 1.0
    if not isinstance(lesion_fraction, (int, float)) or not 0.0 <= float(lesion_fraction) <= 1.0:
        raise DatasetError(f"lesion_fraction must be a number in [0, 1]. Received: lesion_fraction={lesion_fraction!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise DatasetError(f"seed must be a non-negative int or None. Received: seed={seed!r}")

    per_patient = _check_int("images_per_patient", images_per_patient, 1, 50)
    site_specs = check_sites(sites)
    rng = np.random.default_rng(seed)
    if per_patient == 1 and site_specs is None:   # the original draw: same images as before patients existed
        params = _draw_params(rng, n, size, DIFFICULTIES[difficulty], float(lesion_fraction))
        patient_ids, site_ids = np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    else:
        params, patient_ids, site_ids = draw_patients(rng, n, per_patient, size, DIFFICULTIES[difficulty],
                                                      float(lesion_fraction), site_specs, _draw_params)
    # Texture and pixel noise come from their own streams, so drawing them block by block gives the
    # same numbers as drawing everything at once: the images do not depend on the block size.
    streams = rng.spawn(2)
    images = np.empty((n, size, size), dtype=np.uint8)
    masks = np.empty((n, size, size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        block = slice(start, min(start + _CHUNK, n))
        images[block], masks[block] = _render(streams, size, {k: v[block] for k, v in params.items()},
                                              DIFFICULTIES[difficulty])
    from medlearn.datasets.registry import info as _info

    has = params["has_lesion"]
    centers = np.stack([params["ly"], params["lx"]], axis=1).astype(np.float32)
    centers[~has] = np.nan
    return Bunch(
        images=images,
        labels=has.astype(np.int64),
        masks=masks,
        lesion_centers=centers,
        lesion_radii=np.where(has, params["lr"], 0).astype(np.float32),
        lesion_contrast=np.where(has, params["lc"], 0).astype(np.float32),
        patient_ids=patient_ids,
        sites=site_ids,
        label_names=list(LABEL_NAMES),
        task="binary-class" if task == "classification" else "segmentation",
        info=_info("phantoms"),
    )


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise DatasetError(f"{name} must be an int in [{lo}, {hi}]. Received: {name}={value!r}")
    return int(value)


def _draw_params(rng, n, size, diff, lesion_fraction):
    """Every per-image random number, drawn up front so results do not depend on chunking."""
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    p = dict(
        body_x=u(-0.05, 0.05), body_a=u(0.82, 0.98), body_b=u(0.95, 1.10),
        lung_dx=u(0.38, 0.46), lung_y=u(-0.08, 0.06), lung_a=u(0.24, 0.32), lung_b=u(0.52, 0.66),
        heart_x=u(0.10, 0.22), heart_y=u(0.30, 0.45), heart_a=u(0.30, 0.38), heart_b=u(0.22, 0.30),
        rib_f=u(9.0, 12.5), rib_phase=u(0.0, 2 * math.pi), rib_curve=u(0.6, 1.2), rib_s=u(*diff["ribs"]),
        lung_dark=u(0.20, 0.40), gain=u(0.6, 1.4), offset=u(-0.15, 0.15),
    )
    has = rng.uniform(0.0, 1.0, n) < lesion_fraction
    side = np.where(rng.uniform(0.0, 1.0, n) < 0.5, -1.0, 1.0)
    rad = np.sqrt(rng.uniform(0.0, 1.0, n)) * 0.75   # uniform over the inner 75 % of the lung ellipse
    ang = rng.uniform(0.0, 2 * math.pi, n)
    cx = p["body_x"] + side * p["lung_dx"] + rad * np.cos(ang) * p["lung_a"]
    cy = p["lung_y"] + rad * np.sin(ang) * p["lung_b"]
    scale = (size - 1) / 2.0
    p["lx"] = (cx + 1.0) * scale                     # lesion centre in pixel coordinates
    p["ly"] = (cy + 1.0) * scale
    p["lr"] = rng.uniform(*diff["radius"], n) * size  # radius in pixels
    p["lc"] = rng.uniform(*diff["contrast"], n)
    p["has_lesion"] = has
    return p


def _ellipse(x, y, cx, cy, a, b, edge):
    """Soft ellipse indicator (1 inside, 0 outside, ~1-pixel wide smooth edge)."""
    r = np.sqrt(((x - cx[:, None, None]) / a[:, None, None]) ** 2 + ((y - cy[:, None, None]) / b[:, None, None]) ** 2)
    return np.clip((1.0 - r) / edge + 0.5, 0.0, 1.0)


def _smooth_noise(rng, m, size, sigma_px):
    """Gaussian-filtered white noise with unit standard deviation (FFT filter, periodic)."""
    white = rng.standard_normal((m, size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    transfer = np.exp(-2.0 * (math.pi * sigma_px) ** 2 * (fx ** 2 + fy ** 2))
    field = np.fft.irfft2(np.fft.rfft2(white) * transfer, s=(size, size))
    return field / field.std(axis=(1, 2), keepdims=True)


def _render(streams, size, p, diff):
    m = len(p["gain"])
    grid = np.linspace(-1.0, 1.0, size)
    y, x = grid[None, :, None], grid[None, None, :]
    edge = 2.0 / size * 2.0
    col = lambda k: p[k][:, None, None]  # noqa: E731
    zeros = np.zeros(m)

    body = _ellipse(x, y, p["body_x"], zeros + 0.05, p["body_a"], p["body_b"], edge)
    lungs = np.maximum(
        _ellipse(x, y, p["body_x"] - p["lung_dx"], p["lung_y"], p["lung_a"], p["lung_b"], edge),
        _ellipse(x, y, p["body_x"] + p["lung_dx"], p["lung_y"], p["lung_a"], p["lung_b"], edge),
    )
    heart = _ellipse(x, y, p["body_x"] + p["heart_x"], p["heart_y"], p["heart_a"], p["heart_b"], edge)
    spine = np.exp(-(((x - col("body_x")) / 0.07) ** 2)) * body
    ribs = np.clip(np.sin(col("rib_f") * (y + col("rib_curve") * 0.3 * (x - col("body_x")) ** 2) + col("rib_phase")),
                   0.0, 1.0) ** 2
    texture = _smooth_noise(streams[0], m, size, sigma_px=size / 28.0 * 1.2)

    field = 0.04 + 0.50 * body - col("lung_dark") * lungs * (1.0 - 0.6 * heart) + 0.12 * heart + 0.22 * spine
    field = field + lungs * (col("rib_s") * ribs + diff["texture"] * texture)

    # The lesion: an anti-aliased disc with a slightly domed profile; the mask is the exact disc.
    rows = np.arange(size)[None, :, None]
    cols = np.arange(size)[None, None, :]
    dist = np.sqrt((rows - col("ly")) ** 2 + (cols - col("lx")) ** 2)
    radius = col("lr")
    has = col("has_lesion")
    cover = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    dome = 0.75 + 0.25 * np.clip(1.0 - (dist / np.maximum(radius, 1e-6)) ** 2, 0.0, 1.0)
    field = field + has * col("lc") * cover * dome
    mask = (has & (dist <= radius)).astype(np.uint8)

    noise = col("noise") if "noise" in p else diff["noise"]   # per image with patients/sites
    field = col("offset") + col("gain") * field + noise * streams[1].standard_normal((m, size, size))
    image = np.clip(np.rint(field * 255.0), 0, 255).astype(np.uint8)
    return image, mask
