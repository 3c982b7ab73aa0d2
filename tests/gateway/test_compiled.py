"""Planned completion (gateway.compiled) against graphql-core's own: the same data,
the same errors at the same paths, the same nulls, on generated queries and data.

Pure logic, in process: a small schema of the shapes the gateway serves (objects
with plain attributes and small synchronous resolvers, nullable and non-null
fields, lists of both, enums, custom scalars), data that breaks the schema's
promises on purpose (nulls where non-null is declared, resolvers that raise), and
queries with aliases, inline fragments, named fragments and ``__typename``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import Any

import strawberry
from hypothesis import find, given, settings
from hypothesis import strategies as st

from gateway.compiled import PlannedExecutor


@strawberry.enum
class Status(Enum):
    READY = "READY"
    FAILED = "FAILED"


@strawberry.type
class Leaf:
    name: str
    size: int | None
    when: datetime
    status: Status
    tags: list[str]
    maybe_tags: list[str | None] | None
    id: strawberry.ID
    must_value: strawberry.Private[str | None]

    @strawberry.field
    def shout(self) -> str:
        if self.name == "boom":
            raise ValueError("the leaf exploded")
        return self.name.upper()

    @strawberry.field
    def must(self) -> str:
        return self.must_value  # type: ignore[return-value]  # None on purpose


@strawberry.type
class Branch:
    leaf: Leaf
    leaves: list[Leaf]
    maybe: Leaf | None
    sparse: list[Leaf | None] | None
    child: Branch | None


@strawberry.type
class Query:
    tree: strawberry.Private[Branch | None] = None

    @strawberry.field
    def root(self) -> Branch:
        assert self.tree is not None
        return self.tree


def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query)
    planned = strawberry.Schema(query=Query, execution_context_class=PlannedExecutor)
    return plain, planned


PLAIN, PLANNED = schemas()

names = st.sampled_from(["ada", "boom", "grace", ""])


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    return Leaf(
        name=draw(names),
        size=draw(st.none() | st.integers(-(2**31), 2**31 - 1)),
        when=datetime(2026, 1, 1, tzinfo=UTC),
        status=draw(st.sampled_from(Status)),
        # A None inside a list of non-null strings breaks the schema's promise.
        tags=draw(st.lists(st.sampled_from(["a", "b", None]), max_size=3)),
        maybe_tags=draw(st.none() | st.lists(st.none() | st.just("x"), max_size=3)),
        id=strawberry.ID(draw(st.sampled_from(["1", "2"]))),
        must_value=draw(st.none() | st.just("here")),
    )


def branches(depth: int = 2) -> st.SearchStrategy[Branch]:
    child = st.none() if depth == 0 else st.none() | st.deferred(lambda: branches(depth - 1))
    return st.builds(
        Branch,
        leaf=leaves() | st.none(),  # None breaks a non-null field
        leaves=st.lists(leaves(), max_size=3),
        maybe=st.none() | leaves(),
        sparse=st.none() | st.lists(st.none() | leaves(), max_size=3),
        child=child,
    )


LEAF_FIELDS = ["name", "size", "when", "status", "tags", "maybeTags", "id", "shout", "must"]
BRANCH_OBJECTS = {"leaf": "Leaf", "leaves": "Leaf", "maybe": "Leaf", "sparse": "Leaf"}


@st.composite
def selections(draw: st.DrawFn, type_name: str, depth: int, fragments: dict[str, str]) -> str:
    """A selection set on type_name: fields (some aliased), and some of them inside
    inline fragments or named fragments."""
    if type_name == "Leaf":
        fields = draw(
            st.lists(st.sampled_from([*LEAF_FIELDS, "__typename"]), min_size=1, max_size=4)
        )
        parts = list(fields)
    else:
        candidates = [*BRANCH_OBJECTS, "__typename"] + (["child"] if depth > 0 else [])
        chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=4))
        parts = []
        for name in chosen:
            if name == "__typename":
                parts.append(name)
            elif name == "child":
                parts.append(f"child {{ {draw(selections('Branch', depth - 1, fragments))} }}")
            else:
                inner = draw(selections(BRANCH_OBJECTS[name], depth, fragments))
                parts.append(f"{name} {{ {inner} }}")
    shaped = []
    for part in parts:
        how = draw(st.sampled_from(["plain", "alias", "inline", "named"]))
        if how == "alias" and not part.startswith("__"):
            alias = f"a{len(fragments)}{draw(st.integers(0, 3))}"
            # Same alias for different fields is a validation error for both sides.
            shaped.append(f"{alias}: {part}")
        elif how == "inline":
            shaped.append(f"... on {type_name} {{ {part} }}")
        elif how == "named":
            name = f"F{len(fragments)}"
            fragments[name] = f"fragment {name} on {type_name} {{ {part} }}"
            shaped.append(f"...{name}")
        else:
            shaped.append(part)
    return " ".join(shaped)


@st.composite
def queries(draw: st.DrawFn) -> str:
    fragments: dict[str, str] = {}
    body = draw(selections("Branch", 2, fragments))
    return " ".join(["{ root { " + body + " } }", *fragments.values()])


def outcome(result: Any) -> tuple[Any, list[tuple[str, Any, Any]]]:
    errors = [
        (error.message, error.path, [(loc.line, loc.column) for loc in error.locations or ()])
        for error in result.errors or ()
    ]
    return result.data, errors


# Pure and fast (well under a millisecond an example): many more than the profile's.
@settings(max_examples=600)
@given(tree=branches(), query=queries())
def test_planned_completion_answers_exactly_as_graphql_core(tree: Branch, query: str) -> None:
    expected = PLAIN.execute_sync(query, root_value=Query(tree=tree))
    planned = PLANNED.execute_sync(query, root_value=Query(tree=tree))
    assert outcome(planned) == outcome(expected)


def test_a_plan_is_used_for_plain_selections() -> None:
    """The differential test above is empty if nothing is planned: check it is."""
    PlannedExecutor._plans.clear()
    tree = Branch(
        leaf=Leaf(
            name="ada",
            size=1,
            when=datetime(2026, 1, 1, tzinfo=UTC),
            status=Status.READY,
            tags=["a"],
            maybe_tags=None,
            id=strawberry.ID("1"),
            must_value="here",
        ),
        leaves=[],
        maybe=None,
        sparse=None,
        child=None,
    )
    result = PLANNED.execute_sync(
        "{ root { leaf { name shout when status } } }", root_value=Query(tree=tree)
    )
    assert result.errors is None
    assert result.data == {
        "root": {
            "leaf": {
                "name": "ada",
                "shout": "ADA",
                "when": "2026-01-01T00:00:00+00:00",
                "status": "READY",
            }
        }
    }
    planned = [plan for _nodes, plan in PlannedExecutor._plans.values() if plan is not None]
    assert planned, "no selection was planned"


MARKERS = {"inline": "... on", "named": "fragment F", "alias": ": ", "typename": "__typename"}


def test_generated_queries_reach_fragments_and_aliases() -> None:
    """The generator makes the shapes it claims to (a check of the test itself)."""
    for marker in MARKERS.values():
        find(queries(), lambda query, marker=marker: marker in query)  # type: ignore[misc]
