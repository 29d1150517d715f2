"""Build steps setup.cfg cannot express: the wheel carries the compiled message
catalogs and the folders the service reads beside its code (migrations and the trial's
default data), copied under ``trialdm/_shipped/`` (see ``trialdm.config.shipped``)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# Folders beside the package that an installed service needs; those absent are skipped.
SHIPPED = (
    "migrations",
    "sites",
    "instruments",
    "tables",
    "vocabularies",
    "quality",
    "randomisation",
)
TRANSLATIONS = Path("trialdm") / "web" / "translations"


class BuildWithShippedData(build_py):
    def run(self) -> None:
        super().run()
        if self.dry_run:
            return
        target = Path(self.build_lib) / "trialdm" / "_shipped"
        for name in SHIPPED:
            source = HERE / name
            if source.is_dir():
                shutil.copytree(
                    source,
                    target / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
        self._compile_catalogs(Path(self.build_lib) / TRANSLATIONS)

    def _compile_catalogs(self, built: Path) -> None:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in (HERE / TRANSLATIONS).glob("*/LC_MESSAGES/*.po"):
            mo = built / po.relative_to(HERE / TRANSLATIONS).with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as out:
                write_mo(out, catalog)


setup(cmdclass={"build_py": BuildWithShippedData})
