"""The version comes from the C header, the project's one source of truth. Install offline with
/usr/bin/python3 -m pip install --no-build-isolation --no-index ./python (Debian's
python3-setuptools and python3-pip; nothing is downloaded)."""
import os
import re

from setuptools import setup

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "include", "qattn.h")
with open(HEADER) as f:
    VERSION = re.search(r'#define QATTN_VERSION_STRING "([0-9.]+)"', f.read()).group(1)

setup(version=VERSION)
