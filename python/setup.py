"""setup.py - build the aimc Python package from the aimc source tree.

    pip install ./python          (from the top of the tree; no download: it needs only the
                                   setuptools and wheel of the environment, Debian's python3-
                                   setuptools and python3-wheel, and no build isolation is used
                                   because this package has no pyproject.toml)

The extension is python/aimc/_aimc.c linked with the tree's PIC static archives, build/libaimc.a
and build/libaimc_cli.a (the command's report code), which `make` builds first: so the installed
package is the same library as the command and libaimc.so, and keeps working after `make clean`.
The presets and models (configs/, models/) go in as aimc/share/. `make python` builds the same
extension in place against build/libaimc.so instead (docs/python.md).
"""
import os
import shutil
import subprocess

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
ARCHIVES = [os.path.join(TOP, "build", "libaimc_cli.a"), os.path.join(TOP, "build", "libaimc.a")]
INCLUDES = ["common", "driver", "driver/runtime", "sim/xbar", "sim/cost", "mapping", "tools"]
# The system libraries libaimc links (the Makefile's LIBS).
LIBS = ["yaml", "cjson", "openblas", "m", "pthread", "systemc", "z", "atomic", "stdc++"]


def version():
    v = {}
    with open(os.path.join(TOP, "common", "aimc_api.h")) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0] == "#define" and p[1].startswith("AIMC_VERSION_"):
                v[p[1][13:]] = p[2]
    return "%s.%s.%s" % (v["MAJOR"], v["MINOR"], v["PATCH"])


class BuildExt(build_ext):
    """Make the tree's archives first (a no-op when they are current)."""

    def run(self):
        subprocess.check_call(["make", "-C", TOP, "-s", "build/libaimc.a", "build/libaimc_cli.a"])
        build_ext.run(self)


class BuildPy(build_py):
    """Ship the presets and models as aimc/share/{configs,models}."""

    def run(self):
        build_py.run(self)
        for d in ("configs", "models"):
            dst = os.path.join(self.build_lib, "aimc", "share", d)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(os.path.join(TOP, d), dst)


setup(
    name="aimc",
    version=version(),
    description="analog in-memory-computing accelerator simulator and driver",
    packages=["aimc"],
    ext_modules=[
        Extension(
            "aimc._aimc",
            sources=["aimc/_aimc.c"],
            include_dirs=[numpy.get_include()] + [os.path.join(TOP, d) for d in INCLUDES],
            define_macros=[("_DEFAULT_SOURCE", None)],
            extra_compile_args=["-std=c11", "-fvisibility=hidden"],
            extra_objects=ARCHIVES,
            libraries=LIBS,
        )
    ],
    cmdclass={"build_ext": BuildExt, "build_py": BuildPy},
    python_requires=">=3.9",
    install_requires=[],  # numpy: Debian's python3-numpy, not a download
)
