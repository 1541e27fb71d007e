"""Build hook: the wheel carries the course, not only the library.

``pyproject.toml`` holds all the metadata. This file only adds the lessons
(``lessons/NN_*.ipynb``) and the embedded phantoms (``data/phantoms.npz``) to the
built package as ``medlearn/_course/...``, where :func:`medlearn.course.course_root`
finds them after ``pip install``. Editable installs skip the copy: there the
checkout's own ``lessons/`` and ``data/`` are used.
"""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
COURSE_FILES = ("lessons/[0-9][0-9]_*.ipynb", "data/phantoms.npz")


class build_py_with_course(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for pattern in COURSE_FILES:
            found = sorted(ROOT.glob(pattern))
            if not found:
                raise SystemExit(f"setup.py: no files match {pattern!r}; the wheel would lack the course.")
            for src in found:
                target = Path(self.build_lib) / "medlearn" / "_course" / src.relative_to(ROOT)
                self.mkpath(str(target.parent))
                self.copy_file(str(src), str(target))


setup(cmdclass={"build_py": build_py_with_course})
