"""claims-audit: nightly batch auditor for CPT 34421 claim lines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("claims-audit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
