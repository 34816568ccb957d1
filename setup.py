"""Build hook: the wheel carries the bundled rules and the contract inside the package.

They are edited where they are, at the top of the source tree (`rules/`, `openapi.yaml`),
and copied into `service/bundled/` of the build, so an installed service finds them through
its package (service/resources.py). Everything else is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLED = {"rules": "rules", "openapi.yaml": "openapi.yaml"}  # in the package: from the tree


class BuildPyWithBundle(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the originals in the tree
            return
        target = Path(self.build_lib, "service", "bundled")
        for name, source in BUNDLED.items():
            origin, copy = HERE / source, target / name
            if origin.is_dir():
                shutil.rmtree(copy, ignore_errors=True)
                copy.mkdir(parents=True)
                for path in sorted(origin.glob("*.yaml")):
                    shutil.copyfile(path, copy / path.name)
            else:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(origin, copy)

    def get_outputs(self, include_bytecode=True):
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        target = Path(self.build_lib, "service", "bundled")
        return outputs + [str(p) for p in target.rglob("*") if p.is_file()]


setup(cmdclass={"build_py": BuildPyWithBundle})
