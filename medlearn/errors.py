"""medlearn's error base class.

Every error medlearn raises on purpose derives from :class:`MedlearnError`, so
the command line prints its message (which names the problem and the fix)
instead of a traceback.
"""


class MedlearnError(Exception):
    """An expected, explained failure: bad input, missing data, an unusable environment."""
