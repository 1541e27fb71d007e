"""Attack notebooks against ``medlearn grade`` and the fixtures that build them (tests only)."""
