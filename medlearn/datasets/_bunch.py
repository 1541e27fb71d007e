"""A dict whose keys are also attributes, with a dataset card as its repr.

Every loader returns one (``load_*``, ``fetch_*``, ``make_*``); the card makes
``print(data)`` or a bare ``data`` in a notebook say what the data is.
"""
from __future__ import annotations

__all__ = ["Bunch"]


class Bunch(dict):
    """A dictionary with attribute access: ``b.images`` is ``b["images"]``.

    Like :class:`sklearn.utils.Bunch` (not imported, to keep ``import medlearn``
    fast). Its ``repr`` is a dataset card when the bunch carries ``info``.

    Example:
        >>> b = Bunch(images=[1, 2], labels=[0, 1])
        >>> b.images
        [1, 2]
    """

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(
                f"This dataset has no field {key!r}. Available fields: {', '.join(self.keys())}"
            ) from None

    def __setattr__(self, key, value):
        self[key] = value

    def __delattr__(self, key):
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __dir__(self):
        return list(self.keys()) + list(super().__dir__())

    def __getstate__(self):
        return dict(self)

    def __setstate__(self, state):
        self.update(state)

    def __repr__(self) -> str:
        if "info" in self and isinstance(self.get("info"), dict):
            from medlearn.datasets.card import render_card

            return render_card(self)
        fields = ", ".join(f"{k}={_short(v)}" for k, v in self.items())
        return f"Bunch({fields})"

    def _repr_markdown_(self):  # notebooks: the same card, monospaced
        return "```\n" + repr(self) + "\n```"


def _short(value) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "dtype", None) is not None:
        return f"<{value.dtype} array {tuple(shape)}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
