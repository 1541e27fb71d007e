"""Student names from untrusted file names: safe file stems, and escaping where names are written.

A submission's file name is chosen by the student (or by an LMS export that
keeps what the student typed), so the grader treats it as hostile text:

* :func:`student_name` - the name shown in the gradebook: the file name without
  ``.ipynb``, its Windows-style folders (``C:\\Users\\ann\\``) dropped, control
  characters and line breaks replaced by ``?`` and cut to :data:`MAX_NAME`
  characters (the cut adds a hash, so two long names stay apart);
* :func:`file_stems` - the stem of ``results/<stem>.json`` and
  ``feedback/<stem>.md``: ASCII letters, digits, ``.``, ``_`` and ``-`` only, at
  most :data:`MAX_STEM` characters, never starting with ``.`` or ``-``; a stem
  that had to change, or that collides with another (also ignoring case, for
  macOS and Windows file systems), gets a suffix made from a hash of the name;
* :func:`csv_cell` - a spreadsheet cannot read a name as a formula (``=``,
  ``+``, ``-``, ``@``, tab or carriage return first get a leading ``'``, as
  OWASP recommends for CSV injection);
* :func:`markdown_text` - HTML and Markdown syntax are shown, not interpreted.

Used by ``medlearn grade``.
"""
from __future__ import annotations

import hashlib
import html
import re
import unicodedata

__all__ = ["student_name", "file_stems", "csv_cell", "markdown_text", "MAX_NAME", "MAX_STEM"]

MAX_NAME = 120
MAX_STEM = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>])")


def _digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def _printable(text: str) -> str:
    """Control, format (bidi overrides, zero-width) and line/paragraph separator characters become ``?``."""
    return "".join("?" if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") else ch for ch in text)


def student_name(file_name: str) -> str:
    """The gradebook name for a submitted file name (``str``, untrusted).

    Args:
        file_name: the file's name as found on disk (``"ann.ipynb"``, ``"C:\\\\hw\\\\ann.ipynb"``).

    Returns:
        A non-empty one-line ``str`` of at most :data:`MAX_NAME` characters, NFC-normalised.

    Example:
        >>> student_name("C:\\\\Users\\\\ann\\\\ann.ipynb")
        'ann'
        >>> student_name("bob\\n,evil.ipynb")
        'bob?,evil'
    """
    name = unicodedata.normalize("NFC", str(file_name))
    name = re.split(r"[\\/]", name)[-1]
    if re.match(r"^[A-Za-z]:", name):  # "C:ann.ipynb": a drive-relative Windows path
        name = name[2:]
    if name.lower().endswith(".ipynb"):
        name = name[: -len(".ipynb")]
    name = _printable(name).strip() or "student"
    if len(name) > MAX_NAME:
        name = f"{name[: MAX_NAME - 10]}~{_digest(name)}"
    return name


def _base_stem(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    stem = _UNSAFE.sub("_", ascii_name).strip("._-")
    return stem[: MAX_STEM - 9].rstrip("._-") or "student"


def file_stems(names) -> dict:
    """Map each student name to a safe, unique file stem (deterministic for the same set of names).

    Args:
        names: the student names (``str``) of one batch.

    Returns:
        ``dict`` name -> stem. A stem equals the name when the name is already
        safe and unique; otherwise it is ``<safe part>-<8 hex digits of the name's SHA-256>``.

    Example:
        >>> file_stems(["ann", "=cmd|' /C calc'!A0", "Ann"])["=cmd|' /C calc'!A0"][:9]
        'cmd_C_cal'
    """
    names = list(dict.fromkeys(names))
    base = {n: _base_stem(n) for n in names}
    folded: dict = {}
    for n in names:
        folded.setdefault(base[n].casefold(), []).append(n)
    stems = {}
    for n in names:
        clean = base[n] == n and len(folded[base[n].casefold()]) == 1
        stems[n] = n if clean else f"{base[n]}-{_digest(n)}"
    return stems


def csv_cell(value):
    """A CSV field that spreadsheets show as text: a formula-like string gets a leading ``'``."""
    if isinstance(value, str):
        value = _printable(value)
        if value.startswith(_FORMULA) or value.lstrip().startswith(_FORMULA[:4]):
            return "'" + value
    return value


def markdown_text(value) -> str:
    """``value`` as inert Markdown: one line, HTML escaped, Markdown punctuation backslash-escaped."""
    text = _printable(re.sub(r"[\t\r\n\v\f\u2028\u2029]+", " ", str(value)))
    text = html.escape(text, quote=True)
    return _MD_SPECIAL.sub(r"\\\1", text)
