"""The official SARIF 2.1.0 JSON schema, vendored as ``tests/data/sarif-schema-2.1.0.json``.

Source: the OASIS SARIF Technical Committee's repository, https://github.com/oasis-tcs/sarif-spec,
file ``sarif-2.1/schema/sarif-schema-2.1.0.json`` as of commit
a560296ca8c921f3bdb8d4a8db57ab83dae968a7 (2024-05-02), the schema published as
https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json
(its ``id``). Kept byte for byte: ``SHA256`` pins the copy.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

PATH = Path(__file__).resolve().parent / "data" / "sarif-schema-2.1.0.json"
SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"
ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"


def validator():
    """A jsonschema validator for SARIF 2.1.0 logs (the schema is draft-04)."""
    import jsonschema

    raw = PATH.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHA256, f"{PATH} is not the vendored official schema"
    schema = json.loads(raw)
    assert schema["id"] == ID
    return jsonschema.Draft4Validator(schema)
