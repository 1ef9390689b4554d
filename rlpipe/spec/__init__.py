"""The declarative spec language: schema, lookup, substitution, overrides, hashing."""

from rlpipe.spec.load import (
    ResolvedSpec,
    SpecCheck,
    canonical_json,
    check_all,
    list_families,
    read_pipeline,
    resolve_spec,
    spec_document_hash,
    spec_hash,
)
from rlpipe.spec.schema import Spec

__all__ = [
    "ResolvedSpec",
    "Spec",
    "SpecCheck",
    "canonical_json",
    "check_all",
    "list_families",
    "read_pipeline",
    "resolve_spec",
    "spec_document_hash",
    "spec_hash",
]
