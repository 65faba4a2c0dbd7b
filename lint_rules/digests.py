"""BLAKE2b and a constant-time comparison without ``hashlib``/``hmac``, whose import loads OpenSSL
(milliseconds of a warm run that hashes a few small files and checks one signature)."""
from __future__ import annotations

try:
    from _blake2 import blake2b  # what hashlib.blake2b is
except ImportError:  # pragma: no cover (a Python built without it)
    from hashlib import blake2b
try:
    from _operator import _compare_digest as compare_digest  # what hmac.compare_digest is
except ImportError:  # pragma: no cover
    from hmac import compare_digest

__all__ = ["blake2b", "compare_digest"]
