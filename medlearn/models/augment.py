"""Data augmentation that respects anatomy, built from Keras preprocessing layers.

An augmentation is only valid if the transformed image is still a plausible
image *with the same label*:

* **Chest X-rays** keep their left-right orientation (the heart sits on the
  patient's left; a mirrored film is a different, rare anatomy), so no
  horizontal flip - only small rotations and shifts (patient positioning).
* **Abdominal CT (OrganMNIST)** has classes such as *kidney-left* and
  *kidney-right*: a flip would silently change the label. Small moves only.
* **Ultrasound and OCT** images have a depth axis (top = near the probe), so no
  vertical flip; a horizontal flip is a plausible probe orientation.
* **Pathology, blood smears, dermatoscopy, fundus photos** have no preferred
  orientation: flips in both directions and free rotation are valid.

All layers are plain ``keras.layers`` (they run with the TensorFlow, JAX or
PyTorch backend) and are active only during training (``training=True``).

Used in lessons 07 and 08.
"""
from __future__ import annotations

import dataclasses

from medlearn.errors import MedlearnError

__all__ = ["AugmentPolicy", "POLICIES", "policy_for", "augmentation_layers"]


class AugmentError(MedlearnError, ValueError):
    """An unknown augmentation policy."""


@dataclasses.dataclass(frozen=True)
class AugmentPolicy:
    """Which geometric transforms are valid for a modality.

    Attributes:
        name: the policy name, e.g. ``"microscopy"``.
        horizontal_flip: left-right mirror allowed.
        vertical_flip: up-down mirror allowed.
        rotation: maximum rotation as a fraction of a full turn (0.5 = any angle).
        shift: maximum translation as a fraction of the image side.
        zoom: maximum zoom in/out as a fraction (0.1 = 90-110 %).
        why: one sentence a learner can read.
    """

    name: str
    horizontal_flip: bool
    vertical_flip: bool
    rotation: float
    shift: float
    zoom: float
    why: str


POLICIES = {
    "none": AugmentPolicy("none", False, False, 0.0, 0.0, 0.0, "no augmentation"),
    "chest-xray": AugmentPolicy(
        "chest-xray", False, False, 0.03, 0.06, 0.08,
        "no flips: a mirrored chest X-ray puts the heart on the wrong side; small rotations/shifts "
        "mimic patient positioning"),
    "abdominal-ct": AugmentPolicy(
        "abdominal-ct", False, False, 0.03, 0.06, 0.08,
        "no flips: left/right organs (kidney-left, femur-right ...) would swap labels"),
    "ultrasound": AugmentPolicy(
        "ultrasound", True, False, 0.03, 0.08, 0.1,
        "left-right mirror is a plausible probe orientation; no vertical flip (depth runs downwards)"),
    "oct": AugmentPolicy(
        "oct", True, False, 0.02, 0.06, 0.05,
        "retinal layers keep their depth order, so no vertical flip; left and right eyes mirror each other"),
    "fundus": AugmentPolicy(
        "fundus", True, True, 0.5, 0.05, 0.05,
        "a fundus photo has no preferred orientation beyond the eye side: flips and free rotation"),
    "microscopy": AugmentPolicy(
        "microscopy", True, True, 0.5, 0.05, 0.05,
        "pathology slides, blood smears and skin lesions have no up/down or left/right: flips and free "
        "rotation"),
    "generic": AugmentPolicy(
        "generic", False, False, 0.03, 0.06, 0.05,
        "unknown modality: only small shifts and rotations, which keep almost any label"),
}

# dataset name or modality keyword -> policy name (first match wins)
_DATASET_POLICY = {
    "phantoms": "none",  # synthetic: the generator already varies lesion position, size, exposure, noise
    "chestmnist": "chest-xray",
    "pneumoniamnist": "chest-xray",
    "organamnist": "abdominal-ct",
    "organcmnist": "abdominal-ct",
    "organsmnist": "abdominal-ct",
    "breastmnist": "ultrasound",
    "octmnist": "oct",
    "retinamnist": "fundus",
    "pathmnist": "microscopy",
    "bloodmnist": "microscopy",
    "tissuemnist": "microscopy",
    "dermamnist": "microscopy",
}
_MODALITY_KEYWORDS = (
    ("x-ray", "chest-xray"), ("xray", "chest-xray"), ("ct", "abdominal-ct"),
    ("ultrasound", "ultrasound"), ("oct", "oct"), ("fundus", "fundus"),
    ("patholog", "microscopy"), ("microscop", "microscopy"), ("dermatoscop", "microscopy"),
    ("histolog", "microscopy"),
)


def policy_for(dataset: str | None = None, modality: str | None = None) -> AugmentPolicy:
    """Pick the augmentation policy for a dataset name or a modality description.

    Args:
        dataset: a dataset name such as ``"chestmnist"``; a policy name such as
            ``"microscopy"`` or ``"none"`` is returned as is.
        modality: a free-text modality such as ``"Chest X-Ray"`` or ``"Colon Pathology"``,
            used when the dataset name is not known.

    Returns:
        An :class:`AugmentPolicy` (``"generic"`` when nothing matches).

    Example:
        >>> policy_for("pneumoniamnist").horizontal_flip
        False
        >>> policy_for(modality="Blood Cell Microscope").name
        'microscopy'
    """
    if dataset is not None:
        key = str(dataset).strip().lower()
        if key in POLICIES:
            return POLICIES[key]
        if key in _DATASET_POLICY:
            return POLICIES[_DATASET_POLICY[key]]
    if modality:
        words = str(modality).lower()
        for keyword, name in _MODALITY_KEYWORDS:
            padded = f" {words.replace('(', ' ').replace(')', ' ')} "
            if (f" {keyword} " in padded) if len(keyword) <= 3 else (keyword in words):
                return POLICIES[name]
    return POLICIES["generic"]


def augmentation_layers(policy: str | AugmentPolicy, *, seed: int | None = None):
    """A ``keras.Sequential`` of random flips/rotations/shifts/zooms for ``policy``.

    The layers expect float images (N, H, W, C) and do nothing at inference.

    Args:
        policy: an :class:`AugmentPolicy` or a name from :data:`POLICIES` or a dataset name.
        seed: seed for the random layers (reproducible training).

    Returns:
        A ``keras.Sequential`` named ``"augment"`` (an ``Identity`` layer for policy ``"none"``).

    Raises:
        AugmentError: an unknown policy name.

    Example:
        >>> aug = augmentation_layers("microscopy", seed=0)   # doctest: +SKIP
        >>> aug(images, training=True).shape                  # doctest: +SKIP
        (8, 28, 28, 3)
    """
    import keras
    from keras import layers

    if isinstance(policy, str):
        key = policy.strip().lower()
        if key not in POLICIES and key not in _DATASET_POLICY:
            hint = (" ('auto' is fit()'s choice, made from the dataset: pass policy_for(name, modality) "
                    "or the dataset name here.)" if key == "auto" else "")
            raise AugmentError(
                f"policy must be a policy ({', '.join(POLICIES)}) or a dataset name such as 'breastmnist'. "
                f"Received: policy={policy!r}.{hint}"
            )
        policy = policy_for(key)
    steps = []
    flip = {(True, True): "horizontal_and_vertical", (True, False): "horizontal",
            (False, True): "vertical"}.get((policy.horizontal_flip, policy.vertical_flip))
    if flip:
        steps.append(layers.RandomFlip(flip, seed=seed))
    # Nearest-neighbour sampling: bilinear interpolation would smooth the pixel noise of
    # training images only, so BatchNorm would learn statistics the (unsmoothed) test images do not have.
    nearest = dict(fill_mode="reflect", interpolation="nearest", seed=seed)
    if policy.rotation > 0:
        steps.append(layers.RandomRotation(policy.rotation, **nearest))
    if policy.zoom > 0:
        steps.append(layers.RandomZoom(policy.zoom, **nearest))
    if policy.shift > 0:
        steps.append(layers.RandomTranslation(policy.shift, policy.shift, **nearest))
    if not steps:  # policy "none": a pass-through layer (an empty Sequential cannot be called)
        return layers.Identity(name="augment")
    return keras.Sequential(steps, name="augment")
