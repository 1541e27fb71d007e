"""Lesson 06 exercises: 2-D cross-correlation and max pooling in NumPy.

Used in lesson 06.
"""
from __future__ import annotations

import numpy as np

from medlearn.checks.core import Exercise, Verdict, register
from medlearn.checks.keras_ex._common import PASS, close

__all__ = ["cross_correlate2d", "pool2d"]

def cross_correlate2d(image, kernel):
    """Reference 'valid' cross-correlation, stride 1: ``out[i, j] = sum(image[i:i+kh, j:j+kw] * kernel)``.

    Args:
        image: (H, W) array. kernel: (kh, kw) array with kh <= H, kw <= W.

    Returns:
        (H - kh + 1, W - kw + 1) float64 array.
    """
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(image, np.float64), np.shape(kernel))
    return np.einsum("ijkl,kl->ij", windows, np.asarray(kernel, np.float64))


# Libraries whose one call would do the work of these NumPy exercises.
_FORBIDDEN = ("medlearn", "scipy.signal", "scipy.ndimage", "numpy.convolve", "numpy.correlate", "skimage",
              "keras", "tensorflow", "torch", "jax", "cv2")


def _conv_cases(rng):
    shapes = (((7, 9), (3, 3)), ((6, 8), (2, 4)), ((3, 5), (3, 5)), ((5, 4), (1, 1)), ((9, 7), (4, 2)))
    cases = [{"image": rng.normal(0, 1, s), "kernel": rng.normal(0, 1, k)} for s, k in shapes]
    # a larger image: a Python loop over its 62 x 62 output pixels is what the loop policy catches
    cases.append({"image": rng.normal(0, 1, (64, 64)), "kernel": rng.normal(0, 1, (3, 3)), "n_big": 62 * 62})
    return cases


def _conv_run(answer, case):
    return {"out": np.asarray(answer(case["image"].copy(), case["kernel"].copy()), dtype=np.float64)}


def _conv_judge(case, out):
    image, kernel, got = case["image"], case["kernel"], out["out"]
    (h, w), (kh, kw) = image.shape, kernel.shape
    expected = cross_correlate2d(image, kernel)
    if got.shape != expected.shape:
        if got.shape == image.shape:
            return Verdict(False, "The output has the input's size: that is 'same' padding. "
                                  "Use 'valid': only windows that fit entirely inside the image.")
        if got.shape in ((h - kh, w - kw), (h - kh + 2, w - kw + 2)):
            return Verdict(False, f"Off by one: for a {kh}x{kw} kernel on a {h}x{w} image count how many "
                                  "window positions fit along each axis.")
        if got.shape == expected.shape[::-1]:
            return Verdict(False, "The output is transposed: rows run over the image height.")
        return Verdict(False, f"Wrong output shape {got.shape} for a {h}x{w} image and a {kh}x{kw} kernel.")
    if close(got, expected):
        return PASS
    if close(got, cross_correlate2d(image, kernel[::-1, ::-1])):
        return Verdict(False, "You flipped the kernel (that is the textbook convolution). Deep-learning "
                              "'convolution' is cross-correlation: multiply the window by the kernel as is.")
    if kh == kw and close(got, cross_correlate2d(image, kernel.T)):
        return Verdict(False, "The kernel is transposed: kernel[r, c] multiplies image row i+r, column j+c.")
    return Verdict(False, "Wrong values: out[i, j] is the sum of image[i:i+kh, j:j+kw] * kernel.")


register(Exercise(
    id="keras.conv2d",
    title="2-D cross-correlation ('valid', stride 1) in NumPy",
    make_cases=_conv_cases, run=_conv_run, judge=_conv_judge,
    dtype="float64", dtype_why="the image and kernel are float64, and the lesson compares your maps with "
                               "Keras' to 1e-5 after summing many products.",
    no_loops_over="pixels", forbidden=_FORBIDDEN, arg_names=("image", "kernel"),
    teaches="write the cross-correlation with NumPy",
    next_hint="max pooling shrinks the feature maps conv2d produces.",
))


def pool2d(image, size, reduce=np.max):
    """Reference non-overlapping pooling (stride = size), dropping leftover rows/columns like Keras 'valid'.

    Returns:
        (H // size, W // size) float64 array.
    """
    image = np.asarray(image, np.float64)
    h, w = image.shape[0] // size, image.shape[1] // size
    blocks = image[: h * size, : w * size].reshape(h, size, w, size)
    return reduce(blocks, axis=(1, 3))


def _pool_cases(rng):
    # leftovers in rows only, in columns only, in both, in neither
    spec = (((8, 8), 2), ((7, 9), 2), ((6, 6), 3), ((10, 5), 3), ((1, 1), 1), ((8, 9), 2), ((7, 6), 3), ((9, 8), 2))
    cases = [{"image": rng.normal(0, 1, s), "size": k} for s, k in spec]
    cases.append({"image": rng.normal(0, 1, (64, 64)), "size": 2, "n_big": 32 * 32})
    return cases


def _pool_run(answer, case):
    return {"out": np.asarray(answer(case["image"].copy(), int(case["size"])), dtype=np.float64)}


def _pool_judge(case, out):
    image, size, got = case["image"], int(case["size"]), out["out"]
    h, w = image.shape
    expected = pool2d(image, size)
    if got.shape != expected.shape:
        if got.shape == (-(-h // size), -(-w // size)):
            return Verdict(False, "Keep only complete windows: leftover rows/columns at the border are dropped "
                                  "(Keras padding='valid').")
        if got.shape in ((h // size, -(-w // size)), (-(-h // size), w // size)):
            return Verdict(False, "Leftover rows and leftover columns are both dropped: you cropped only one "
                                  "axis to a multiple of `size` (Keras padding='valid' crops both).")
        if got.shape == (h - size + 1, w - size + 1):
            return Verdict(False, "The windows overlap: move by `size` pixels (stride = pool size), not by 1.")
        return Verdict(False, f"Wrong output shape {got.shape} for a {h}x{w} image and size={size}.")
    if close(got, expected):
        return PASS
    if close(got, pool2d(image, size, np.mean)):
        return Verdict(False, "That is average pooling; max pooling keeps the largest value of each window.")
    if close(got, pool2d(np.abs(image), size)):
        return Verdict(False, "Take the largest value, not the largest absolute value.")
    return Verdict(False, "Wrong values: each output pixel is the maximum of one size x size block.")


register(Exercise(
    id="keras.max_pool",
    title="max pooling (non-overlapping windows) in NumPy",
    make_cases=_pool_cases, run=_pool_run, judge=_pool_judge,
    dtype="float64", dtype_why="pooling only picks values: keep the image's float64.",
    no_loops_over="pixels", forbidden=_FORBIDDEN, arg_names=("image", "size"),
    teaches="write max pooling with NumPy (reshape and max)",
    next_hint="Keras' Conv2D and MaxPooling2D below must reproduce your two functions.",
))
