"""README's lesson table is in step with the lessons: one row per lesson file, and its data column names
exactly the data sources the lesson loads."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
# loader called in a lesson -> the words README's data column uses for it
SOURCES = {
    "load_breast_cancer": "breast cancer", "load_diabetes": "diabetes", "load_phantoms": "phantoms",
    "make_phantoms": "phantoms", "fetch_medmnist": "medmnist", "load_sample_image": "bundled images",
    "load_dicom": "dicom",
}


def readme_rows() -> dict:
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*(\d\d)\s*\|([^|]*)\|([^|]*)\|([^|]*)\|\s*$", line)
        if m:
            rows[m.group(1)] = m.group(4).strip().lower()
    return rows


LESSONS = {p.name[:2]: p for p in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))}


def test_every_lesson_01_to_08_has_a_row():
    assert {n for n in LESSONS if n <= "08"} <= set(readme_rows()), sorted(set(LESSONS) - set(readme_rows()))


@pytest.mark.parametrize("number", sorted(n for n in LESSONS if n in readme_rows()))
def test_data_column_names_what_the_lesson_loads(number):
    code = "\n".join(c.source for c in nbformat.read(LESSONS[number], as_version=4).cells if c.cell_type == "code")
    used = {words for loader, words in SOURCES.items() if re.search(rf"\b{loader}\s*\(", code)}
    column = readme_rows()[number]
    named = {words for words in SOURCES.values() if words in column}
    assert used == named, f"lesson {number} loads {sorted(used)} but README's data column says {column!r}"
