"""toolweave's version: one place, read by the package metadata and at run time.

Ground floor: imports nothing.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
