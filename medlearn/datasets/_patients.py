"""Patients and sites for :func:`medlearn.datasets.make_phantoms`.

A *patient* fixes the anatomy (body, lungs, heart, ribs), the exposure and the finding
(lesion or not, and where); each of the patient's images re-draws what changes between
two acquisitions: breathing (rib phase), a little exposure, a slight shift of the lesion,
the parenchyma texture and the pixel noise. A *site* (hospital, scanner) scales the
exposure and sets the noise level of all its patients' images.

Used in lesson 13 (through ``make_phantoms``).
"""
from __future__ import annotations

import numbers

import numpy as np

from medlearn.datasets._errors import DatasetError

#: Sites used by ``make_phantoms(..., sites=k)`` (the first k). ``noise`` multiplies the
#: difficulty's pixel noise; ``gain`` and ``offset`` change the exposure.
SITE_PRESETS = (
    {"share": 1.0, "gain": 1.0, "offset": 0.0, "noise": 1.0},
    {"share": 1.0, "gain": 0.7, "offset": -0.06, "noise": 2.5},   # darker, noisier scanner
    {"share": 1.0, "gain": 1.2, "offset": 0.05, "noise": 1.5},    # brighter
)
_SITE_KEYS = ("share", "gain", "offset", "noise")


def check_sites(sites):
    """-> None or a list of complete site dicts (share normalised to 1)."""
    if sites is None:
        return None
    if isinstance(sites, numbers.Integral) and not isinstance(sites, bool):
        if not 1 <= sites <= len(SITE_PRESETS):
            raise DatasetError(f"sites must be an int in [1, {len(SITE_PRESETS)}] or a list of site dicts. "
                               f"Received: sites={sites!r}")
        specs = [dict(s) for s in SITE_PRESETS[:sites]]
    elif isinstance(sites, (list, tuple)) and sites and all(isinstance(s, dict) for s in sites):
        specs = []
        for i, s in enumerate(sites):
            unknown = set(s) - set(_SITE_KEYS)
            if unknown:
                raise DatasetError(f"site {i} has unknown keys {sorted(unknown)}; valid keys: "
                                   f"{', '.join(_SITE_KEYS)}. Received: {s!r}")
            spec = {"share": 1.0, "gain": 1.0, "offset": 0.0, "noise": 1.0, **s}
            for key in _SITE_KEYS:
                v = spec[key]
                if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or \
                        (key != "offset" and v <= 0):
                    raise DatasetError(f"site {i}: {key} must be a {'finite' if key == 'offset' else 'positive'} "
                                       f"number. Received: {key}={v!r}")
            specs.append(spec)
    else:
        raise DatasetError(f"sites must be None, an int or a list of dicts with keys {', '.join(_SITE_KEYS)}. "
                           f"Received: sites={sites!r}")
    total = sum(s["share"] for s in specs)
    for s in specs:
        s["share"] = s["share"] / total
    return specs


def draw_patients(rng, n, per_patient, size, diff, lesion_fraction, sites, draw_params):
    """Per-image parameters for ``n`` images of ``ceil(n / per_patient)`` patients.

    Returns:
        ``(params, patient_ids, site_ids)``; ``params`` has ``draw_params``'s keys plus ``noise`` (n,).
    """
    n_patients = -(-n // per_patient)
    base = draw_params(rng, n_patients, size, diff, lesion_fraction)
    site_of_patient = (rng.choice(len(sites), n_patients, p=[s["share"] for s in sites])
                       if sites else np.zeros(n_patients, dtype=np.int64))
    patient_ids = np.repeat(np.arange(n_patients), per_patient)[:n]
    p = {k: v[patient_ids] for k, v in base.items()}
    u = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    if per_patient > 1:  # what changes between two acquisitions of one patient
        p["rib_phase"] = p["rib_phase"] + u(-0.4, 0.4)
        p["gain"] = p["gain"] * u(0.92, 1.08)
        p["offset"] = p["offset"] + u(-0.03, 0.03)
        p["lx"] = p["lx"] + u(-0.6, 0.6)
        p["ly"] = p["ly"] + u(-0.6, 0.6)
    site_ids = site_of_patient[patient_ids].astype(np.int64)
    specs = sites or [{"gain": 1.0, "offset": 0.0, "noise": 1.0}]
    gain = np.array([s["gain"] for s in specs])[site_ids]
    p["gain"] = p["gain"] * gain
    p["offset"] = p["offset"] * gain + np.array([s["offset"] for s in specs])[site_ids]
    p["noise"] = diff["noise"] * np.array([s["noise"] for s in specs])[site_ids]
    return p, patient_ids.astype(np.int64), site_ids
