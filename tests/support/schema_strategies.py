"""Hypothesis strategies for JSON values that follow (or nearly follow) a JSON schema.

Just the subset pydantic emits for chatkit's request models: objects, $ref, anyOf/oneOf,
const/enum, and the scalar types. Enough to build requests from chatkit's own schema.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Any code point, unpaired surrogates and NUL included: JSON can carry them as \u escapes,
# and a database cannot store them.
ANY_CHARACTER = st.characters(exclude_categories=())
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(ANY_CHARACTER, max_size=20),
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
# Ids that sometimes look like ours and sometimes are anything at all.
IDS = st.one_of(
    st.sampled_from(["thr_0000000000000000", "msg_0000000000000000", "atc_1", ""]),
    st.text(max_size=30),
)


def from_schema(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy:
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, depth + 1)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(option, defs, depth + 1) for option in schema[key]])
    kind = schema.get("type")
    if kind == "object" and "properties" in schema and depth < 12:
        required = set(schema.get("required", []))
        properties = {
            name: (IDS if name.endswith("_id") else from_schema(sub, defs, depth + 1))
            for name, sub in schema["properties"].items()
        }
        return st.fixed_dictionaries(
            {name: strategy for name, strategy in properties.items() if name in required},
            optional={
                name: strategy for name, strategy in properties.items() if name not in required
            },
        )
    if kind == "object":
        return st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=2)
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(from_schema(items, defs, depth + 1) if items else ANY_JSON, max_size=2)
    if kind == "string":
        return st.text(ANY_CHARACTER, max_size=40)
    if kind == "integer":
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return ANY_JSON
