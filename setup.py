"""Packaging glue for the one thing pyproject.toml cannot say: the C runtime and board folders live in
the repository's top-level ``firmware/`` (where a firmware engineer looks for them), and a wheel must
carry them inside the package. ``build_py`` copies that folder to ``har_edge/firmware/c/`` in the build
tree; an editable install reads ``firmware/`` in place (see ``har_edge/firmware/sources.py``)."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

C_FILES = ("*.c", "*.h", "*.ld", "*.mk", "Makefile")


class BuildPyWithFirmware(build_py):
    def run(self):
        super().run()
        source = Path(__file__).resolve().parent / "firmware"
        target = Path(self.build_lib) / "har_edge" / "firmware" / "c"
        if target.exists():
            shutil.rmtree(target)
        for path in sorted(source.rglob("*")):
            if path.is_file() and any(path.match(pattern) for pattern in C_FILES):
                destination = target / path.relative_to(source)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, destination)


setup(cmdclass={"build_py": BuildPyWithFirmware})
