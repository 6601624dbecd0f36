"""The version, at the bottom of the layers: the SBOM, the JSON reports and ``-V`` name it."""

__version__ = "0.1.0"
