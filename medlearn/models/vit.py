"""A tiny vision transformer in plain Keras 3, and attention rollout to show where it looks.

The image is cut into ``patch_size`` x ``patch_size`` patches; each patch becomes a token
(one linear projection - a strided ``Conv2D`` is exactly that), a learned position embedding is
added (attention alone does not know where a token came from), a learned class token is put in
front (``pool="cls"``; or the tokens are averaged, ``pool="avg"``), and pre-norm transformer
blocks follow: ``x + MHA(LN(x))``, ``x + MLP(LN(x))``. Only ``keras.layers`` / ``keras.ops``,
so it trains on TensorFlow, JAX or PyTorch.

This module imports Keras (its two small layers must be registered for ``keras.saving``);
:func:`medlearn.models.build_model` imports it only when asked for ``"vit"``.

Used in lesson 12 and by ``medlearn train --model vit``.
"""
from __future__ import annotations

import keras
import numpy as np

from medlearn.models.heads import ModelError

__all__ = ["TokenEmbedding", "tiny_vit", "attention_layers", "attention_maps", "attention_rollout"]


@keras.saving.register_keras_serializable(package="medlearn")
class TokenEmbedding(keras.layers.Layer):
    """Add a learned position embedding to (N, T, D) tokens, and prepend a learned class token.

    Args:
        class_token: prepend a class token (output (N, T + 1, D)), else (N, T, D).
    """

    def __init__(self, class_token: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.class_token = bool(class_token)

    def build(self, input_shape):
        n_tokens, dim = int(input_shape[1]), int(input_shape[2])
        total = n_tokens + int(self.class_token)
        init = keras.initializers.RandomNormal(stddev=0.02)
        self.position = self.add_weight(name="position", shape=(1, total, dim), initializer=init)
        if self.class_token:
            self.cls = self.add_weight(name="cls", shape=(1, 1, dim), initializer=init)

    def call(self, tokens):
        if self.class_token:
            cls = keras.ops.broadcast_to(keras.ops.cast(self.cls, tokens.dtype),
                                         (keras.ops.shape(tokens)[0], 1, keras.ops.shape(tokens)[2]))
            tokens = keras.ops.concatenate([cls, tokens], axis=1)
        return tokens + keras.ops.cast(self.position, tokens.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] + int(self.class_token), input_shape[2])

    def get_config(self):
        return {**super().get_config(), "class_token": self.class_token}


def _divisors(n):
    return [d for d in range(2, n) if n % d == 0]


def tiny_vit(input_shape, n_classes, task, *, patch_size=4, dim=64, depth=2, heads=4, mlp_ratio=2, dropout=0.1,
             pool="cls", augment=None, compile=True, learning_rate=1e-3, seed=None, rescale=True):
    """A tiny ViT: patches -> tokens + positions (+ class token) -> pre-norm transformer blocks -> head.

    At 28x28 with the defaults: 7x7 = 49 patch tokens of 4x4 pixels, 2 blocks of 4 heads over
    64 dimensions, about 70 k parameters - the size of the reference CNN.

    Args:
        input_shape: (H, W) or (H, W, C); ``patch_size`` must divide H and W.
        n_classes, task, augment, compile, learning_rate, seed, rescale: as in
            :func:`medlearn.models.logistic_regression` (the input is whatever the other reference
            models take).
        patch_size: side of a square patch, in pixels.
        dim: token width. depth: transformer blocks. heads: attention heads (must divide ``dim``).
        mlp_ratio: hidden width of each block's MLP, in multiples of ``dim``.
        dropout: dropout in the blocks and before the head.
        pool: ``"cls"`` (the class token's output) or ``"avg"`` (mean over the patch tokens).

    Returns:
        A ``keras.Model``; its attention layers are named ``attention_0`` ... (see
        :func:`attention_maps`).

    Raises:
        ModelError: a patch size that does not divide the image, ``heads`` not dividing ``dim``,
            an unknown ``pool``.

    Example:
        >>> model = tiny_vit((28, 28, 1), 2, "binary", patch_size=4)   # doctest: +SKIP
        >>> model.get_layer("tokens").output.shape                    # doctest: +SKIP
        (None, 50, 64)
    """
    from medlearn.models.builders import _check_shape, _finish, _head, _inputs

    shape = _check_shape(input_shape)
    h, w = shape[:2]
    p = patch_size
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1 or h % p or w % p:
        sizes = sorted(set(_divisors(h)) & set(_divisors(w))) or [1]
        raise ModelError(f"patch_size must divide the image height and width ({h}x{w}); choose one of "
                         f"{', '.join(map(str, sizes))}. Received: patch_size={patch_size!r}")
    if dim % heads:
        raise ModelError(f"heads must divide dim. Received: dim={dim}, heads={heads}")
    if pool not in ("cls", "avg"):
        raise ModelError(f"pool must be 'cls' or 'avg'. Received: pool={pool!r}")
    layers = keras.layers
    inputs, x = _inputs(shape, augment, seed) if rescale else _inputs(shape, augment, seed, rescale=False)
    x = layers.Conv2D(dim, p, strides=p, name="patch_embedding")(x)        # one linear map per patch
    x = layers.Reshape(((h // p) * (w // p), dim), name="patches_to_tokens")(x)
    x = TokenEmbedding(class_token=pool == "cls", name="tokens")(x)
    for i in range(int(depth)):
        y = layers.LayerNormalization(epsilon=1e-6, name=f"norm_a{i}")(x)
        y, _ = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name=f"attention_{i}")(
            y, y, return_attention_scores=True)
        x = layers.Add(name=f"residual_a{i}")([x, y])
        y = layers.LayerNormalization(epsilon=1e-6, name=f"norm_b{i}")(x)
        y = layers.Dense(int(mlp_ratio * dim), activation="gelu", name=f"mlp_{i}_in")(y)
        y = layers.Dropout(dropout)(y)
        y = layers.Dense(dim, name=f"mlp_{i}_out")(y)
        x = layers.Add(name=f"residual_b{i}")([x, y])
    x = layers.LayerNormalization(epsilon=1e-6, name="norm_out")(x)
    if pool == "cls":
        x = layers.Cropping1D((0, x.shape[1] - 1), name="first_token")(x)    # (N, 1, dim): the class token
        x = layers.Flatten(name="class_token")(x)
    else:
        x = layers.GlobalAveragePooling1D(name="token_mean")(x)
    outputs = _head(x, task, n_classes, dropout, "vit")
    return _finish(inputs, outputs, "vit", task, n_classes, compile, learning_rate)


def attention_layers(model) -> list:
    """The model's ``MultiHeadAttention`` layers, first to last."""
    found = [layer for layer in model.layers if isinstance(layer, keras.layers.MultiHeadAttention)]
    if not found:
        raise ModelError(f"the model has no MultiHeadAttention layer. Received: model {model.name!r}")
    return found


def attention_maps(model, x) -> list:
    """Each attention layer's weights on a batch: a list of (N, heads, T, T) float32 arrays.

    ``x`` is the batch as the model takes it (float32 (N, H, W, C)). Row i of a map is how
    token i spreads its attention over all tokens (each row sums to 1).
    """
    probe = keras.Model(model.inputs, [layer.output[1] for layer in attention_layers(model)])
    out = probe.predict(np.asarray(x, dtype=np.float32), verbose=0, batch_size=256)
    return [np.asarray(a, dtype=np.float32) for a in (out if isinstance(out, (list, tuple)) else [out])]


def attention_rollout(model, x, *, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020): where the prediction's token draws its information from.

    Per layer the heads are averaged and the residual connection is added as
    ``A' = residual * I + (1 - residual) * A`` (rows renormalised); the layers are chained by
    matrix products, ``R = A'_L ... A'_1``. The class token's row of R (or, with average pooling,
    the mean of the patch tokens' rows) over the patch tokens, reshaped to the patch grid and
    repeated to pixels, is the map.

    Args:
        model: a :func:`tiny_vit` model.
        x: float32 (N, H, W, C) batch as the model takes it.
        residual: weight of the identity (the skip connection) in each layer.

    Returns:
        float32 (N, H, W) maps, each divided by its maximum (in [0, 1]).
    """
    maps = attention_maps(model, x)
    n, _, t, _ = maps[0].shape
    rollout = np.broadcast_to(np.eye(t, dtype=np.float64), (n, t, t)).copy()
    for a in maps:
        a = residual * np.eye(t) + (1 - residual) * a.mean(axis=1)
        a = a / a.sum(axis=-1, keepdims=True)
        rollout = a @ rollout
    h, w = model.input_shape[1:3]
    embed = model.get_layer("tokens")
    if embed.class_token:
        weights = rollout[:, 0, 1:]
    else:
        weights = rollout.mean(axis=1)
    side_h = int(model.get_layer("patch_embedding").output.shape[1])
    side_w = int(model.get_layer("patch_embedding").output.shape[2])
    grid = weights.reshape(n, side_h, side_w)
    pix = np.repeat(np.repeat(grid, h // side_h, axis=1), w // side_w, axis=2)
    pix = pix / np.maximum(pix.max(axis=(1, 2), keepdims=True), 1e-12)
    return pix.astype(np.float32)
