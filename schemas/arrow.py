"""Arrow schemas derived from the pydantic models, so each table is defined once."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel

from errata.schemas.records import SCHEMA_VERSION, TABLES, Record

_SCALARS: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}


def _arrow_type(annotation: Any) -> tuple[pa.DataType, bool]:
    """Return (arrow type, nullable) for a field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner, _ = _arrow_type(args[0])
        return inner, True
    if origin is Literal:
        return pa.string(), False
    if origin is list:
        (item,) = typing.get_args(annotation)
        inner, _ = _arrow_type(item)
        return pa.list_(inner), False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct(_fields(annotation)), False
    return _SCALARS[annotation], False


def _fields(model: type[BaseModel]) -> list[pa.Field]:
    hints = typing.get_type_hints(model)
    fields = []
    for name in model.model_fields:
        arrow_type, nullable = _arrow_type(hints[name])
        fields.append(pa.field(name, arrow_type, nullable=nullable))
    return fields


def arrow_schema(model: type[Record]) -> pa.Schema:
    """The Arrow schema of a record model, tagged with the schema version."""
    return pa.schema(_fields(model), metadata={"errata.schema_version": SCHEMA_VERSION})


def table_schema(table: str) -> pa.Schema:
    return arrow_schema(TABLES[table])


def to_arrow(records: list[Record], model: type[Record]) -> pa.Table:
    """Records to an Arrow table with the model's schema (empty lists give empty tables)."""
    schema = arrow_schema(model)
    rows = [r.model_dump() for r in records]
    return pa.Table.from_pylist(rows, schema=schema)
