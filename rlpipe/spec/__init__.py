"""The declarative spec language: schema, lookup, substitution, overrides, hashing; the suite."""

from rlpipe.spec.load import (
    ResolvedSpec,
    SpecCheck,
    canonical_json,
    check_all,
    hash_document,
    list_families,
    read_pipeline,
    resolve_spec,
    spec_hash,
)
from rlpipe.spec.schema import Spec
from rlpipe.spec.suite import DEFAULT_SUITE, Suite, load_suite

__all__ = [
    "DEFAULT_SUITE",
    "ResolvedSpec",
    "Spec",
    "SpecCheck",
    "Suite",
    "canonical_json",
    "check_all",
    "hash_document",
    "list_families",
    "load_suite",
    "read_pipeline",
    "resolve_spec",
    "spec_hash",
]
