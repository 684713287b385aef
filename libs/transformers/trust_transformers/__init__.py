"""Shared helpers for trust plugins built on Hugging Face transformers (a library: it registers nothing).

Submodules: :mod:`~trust_transformers.source`, :mod:`~trust_transformers.backend`,
:mod:`~trust_transformers.batching`, :mod:`~trust_transformers.checks`,
:mod:`~trust_transformers.calibration`. Importing any of them does not import torch or transformers.
"""

__version__ = "0.1.0"
