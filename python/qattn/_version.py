# The version of the C library this binding is written for: include/qattn.h's
# QATTN_VERSION_STRING (tests/python/test_install.py holds the two equal). A library whose
# MAJOR.MINOR differs is refused at import.
__version__ = "0.2.0"
