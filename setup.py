"""The build step that makes the package installable anywhere (everything else is in pyproject.toml).

A built package (wheel, or `pip install .`) carries, under `app/bundled/`, what a checkout keeps beside the source:
the default process models (`bpmn/`) and forms (`forms/`), and the front-end files the app serves from npm
(`node_modules/`: bpmn-js for the diagrams, bpmn-auto-layout and the modules it imports for diagrams without
positions, swagger-ui-dist for the API reference) and the modeler's bundle (`web/dist/`, built by esbuild from
`web/modeler/` and npm's bpmn-js, properties panel and bpmnlint). They are copied from the checkout at build time,
so the checkout stays the one source of truth; `app.config` finds them in the installed package first, then in the
checkout. An editable install (`make install`) copies nothing; an sdist carries the sources of the copy (the few
node_modules files and the built bundle included).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import FileError

ROOT = Path(__file__).resolve().parent
BUNDLED = "app/bundled"  # inside the package; app.config.bundled() reads it through importlib.resources

# (folder under app/bundled, source folder in the checkout, the files to copy: patterns relative to the source, each
# of which must match, but those in OPTIONAL). Of npm's files only what the app serves: the production builds the
# templates load, the styles and the fonts the styles name, and the licences; no source maps, no development builds.
BUNDLE: list[tuple[str, str, list[str]]] = [
    ("bpmn", "bpmn", ["*.bpmn", "*.dmn"]),
    ("forms", "forms", ["*.json"]),
    ("vendor/bpmn-js", "node_modules/bpmn-js", [
        "LICENSE",
        "dist/bpmn-navigated-viewer.production.min.js",
        "dist/assets/diagram-js.css",
        "dist/assets/bpmn-js.css",
        "dist/assets/bpmn-font/css/bpmn.css",
        "dist/assets/bpmn-font/font/bpmn.*",
    ]),
    # the modeler's bundle (bpmn-js with its properties panel and bpmnlint), built from web/modeler by esbuild
    ("vendor/modeler", "web/dist", ["modeler.js", "modeler.css"]),
    # bpmn-auto-layout ships no LICENSE file: its package.json names its licence (MIT)
    ("vendor/esm/bpmn-auto-layout", "node_modules/bpmn-auto-layout", ["package.json", "dist/index.js"]),
    *[(f"vendor/esm/{package}", f"node_modules/{package}", ["LICENSE", "dist/index.js"])
      for package in ("bpmn-moddle", "moddle", "moddle-xml", "min-dash", "saxen")],
    ("vendor/swagger-ui", "node_modules/swagger-ui-dist", [
        "LICENSE", "NOTICE", "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt",
    ]),
]
OPTIONAL = {"*.dmn"}  # decision tables beside the models: none today


def bundle_files() -> list[tuple[Path, str]]:
    """(source file, its path under app/bundled) for every file of BUNDLE; a clear error when any is missing."""
    found: list[tuple[Path, str]] = []
    for target, source, patterns in BUNDLE:
        folder = ROOT / source
        for pattern in patterns:
            matches = sorted(p for p in folder.glob(pattern) if p.is_file())
            if not matches and pattern not in OPTIONAL:
                hint = " (run `npm ci` first, or `make install`)" if source.startswith("node_modules") else \
                    " (run `npm ci && npm run build` first, or `make install`)" if source.startswith("web") else ""
                raise FileError(f"cannot build the package: {source}/{pattern} is missing{hint}")
            for path in matches:
                # bpmn-js's dist/ is served as the root of /vendor/bpmn-js/, so dist/x lands at vendor/bpmn-js/x
                relative = path.relative_to(folder).as_posix().removeprefix("dist/")
                found.append((path, f"{target}/{relative}"))
    return found


class BuildPyWithBundle(build_py):
    """build_py that also copies BUNDLE into the built package (not for an editable install: the app then reads the
    checkout's folders directly)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / BUNDLED
        shutil.rmtree(target, ignore_errors=True)  # nothing stale from an earlier build
        for source, relative in bundle_files():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs += [str(Path(self.build_lib) / BUNDLED / relative) for _, relative in bundle_files()]
        return outputs


class SdistWithBundle(sdist):
    """sdist that also carries the sources of BUNDLE (node_modules' few served files included), so that a wheel
    built from it (`python -m build`) has them too."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        for source, _ in bundle_files():
            destination = Path(base_dir) / source.relative_to(ROOT)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildPyWithBundle, "sdist": SdistWithBundle})
