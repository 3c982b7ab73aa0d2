"""Completion plans: the objects below a resolver, turned into JSON without
graphql-core's per-field interpretation.

graphql-core completes every field of a result the same general way: it builds a
resolve-info, looks up the resolver, checks for awaitables, coerces, and walks the
selection again for every object of a list. A feed page is ~660 fields, and that
walk was the largest share of the gateway's CPU per page. Once a resolver of ours
has returned objects whose fields are plain attributes or small synchronous
resolvers (a page is hydrated up front: gateway.types.post), the shape of what
remains is fixed by the document. ``PlannedExecutor`` compiles that shape once per
document and selection into a plan of getters and coercers, and runs it.

A plan is made only where it can be exact: no directives, no arguments below the
planned object, no abstract types, no asynchronous resolvers, no resolvers that
take ``info``; anything else is completed by graphql-core as before. Errors, nulls
and their propagation follow graphql-core's rules (``handle_field_error``):
``tests/gateway/test_compiled.py`` runs the two side by side on generated queries
and data and requires the same data and the same errors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any, ClassVar

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    located_error,
)
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.executor import invalid_return_type_error
from graphql.pyutils import Path, Undefined, inspect, is_iterable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

# Plans kept, by object type and selection (they hold their documents alive).
PLANS_CACHED = 2048

Completer = Callable[[Any, Path, "_Run"], Any]


class _Unplannable(Exception):
    """The selection needs something only graphql-core does."""


class _Run:
    """One completion: where errors go (the executor's collected errors)."""

    __slots__ = ("add_error",)

    def __init__(self, add_error: Callable[[GraphQLError, Path | None], None]) -> None:
        self.add_error = add_error


class _Field:
    __slots__ = ("complete", "get", "key", "nodes", "non_null")

    def __init__(
        self,
        key: str,
        get: Callable[[Any], Any],
        complete: Completer,
        nodes: list[FieldNode],
        non_null: bool,
    ) -> None:
        self.key = key
        self.get = get
        self.complete = complete
        self.nodes = nodes
        self.non_null = non_null


class ObjectPlan:
    """How to complete one object type for one selection (``nodes``)."""

    def __init__(
        self, object_type: GraphQLObjectType, nodes: Sequence[FieldNode], fields: list[_Field]
    ) -> None:
        self._type = object_type
        self._nodes = [FieldDetails(node, None) for node in nodes]
        self._fields = fields

    def complete(self, source: Any, path: Path, run: _Run) -> dict[str, Any]:
        is_type_of = self._type.is_type_of
        # Strawberry's is_type_of is an isinstance check that ignores its info.
        if is_type_of is not None and not is_type_of(source, None):  # type: ignore[arg-type]
            raise invalid_return_type_error(self._type, source, self._nodes)
        result: dict[str, Any] = {}
        type_name = self._type.name
        for field in self._fields:
            field_path = path.add_key(field.key, type_name)
            try:
                value = field.get(source)
                result[field.key] = field.complete(value, field_path, run)
            except Exception as raw_error:
                error = located_error(raw_error, field.nodes, field_path.as_list())
                if field.non_null:
                    raise error from None
                run.add_error(error, field_path)
                result[field.key] = None
        return result


def _non_null(inner: Completer, parent: str, field_name: str) -> Completer:
    message = f"Cannot return null for non-nullable field {parent}.{field_name}."

    def complete(value: Any, path: Path, run: _Run) -> Any:
        completed = inner(value, path, run)
        if completed is None:
            raise TypeError(message)
        return completed

    return complete


def _nullable(inner: Completer) -> Completer:
    def complete(value: Any, path: Path, run: _Run) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        return inner(value, path, run)

    return complete


def _list(
    item: Completer, item_non_null: bool, nodes: list[FieldNode], parent: str, field_name: str
) -> Completer:
    message = f"Expected Iterable, but did not find one for field '{parent}.{field_name}'."

    def complete(value: Any, path: Path, run: _Run) -> list[Any]:
        if not is_iterable(value):
            raise GraphQLError(message)
        completed = []
        for index, entry in enumerate(value):
            item_path = path.add_key(index, None)
            try:
                completed.append(item(entry, item_path, run))
            except Exception as raw_error:
                error = located_error(raw_error, nodes, item_path.as_list())
                if item_non_null:
                    raise error from None
                run.add_error(error, item_path)
                completed.append(None)
        return completed

    return complete


def _leaf(leaf_type: Any) -> Completer:
    coerce = leaf_type.coerce_output_value

    def complete(value: Any, path: Path, run: _Run) -> Any:
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(leaf_type)}.coerce_output_value({inspect(value)})`"
                f" to return non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced

    return complete


class Planner:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self._schema = schema
        self._fragments = fragments

    def object_plan(self, object_type: GraphQLObjectType, nodes: Sequence[FieldNode]) -> ObjectPlan:
        grouped: dict[str, list[FieldNode]] = {}
        for node in nodes:
            if node.directives:
                raise _Unplannable
            self._collect(object_type, node.selection_set, grouped)
        return ObjectPlan(
            object_type,
            nodes,
            [self._field(object_type, key, field_nodes) for key, field_nodes in grouped.items()],
        )

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode | None,
        grouped: dict[str, list[FieldNode]],
    ) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if selection.directives:
                raise _Unplannable
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._matches(condition.name.value, object_type):
                    self._collect(object_type, selection.selection_set, grouped)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is None or getattr(selection, "arguments", None):
                    raise _Unplannable
                if fragment.directives or getattr(fragment, "variable_definitions", None):
                    raise _Unplannable
                if self._matches(fragment.type_condition.name.value, object_type):
                    self._collect(object_type, fragment.selection_set, grouped)

    def _matches(self, condition: str, object_type: GraphQLObjectType) -> bool:
        conditional = self._schema.get_type(condition)
        if conditional is object_type:
            return True
        return conditional is not None and self._schema.is_sub_type(conditional, object_type)  # type: ignore[arg-type]

    def _field(self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> _Field:
        name = nodes[0].name.value
        if name == "__typename":
            type_name = parent.name
            return _Field(key, lambda _source: type_name, _same, nodes, True)
        if any(node.arguments for node in nodes):
            raise _Unplannable
        field_def = parent.fields.get(name)
        if field_def is None:
            raise _Unplannable
        definition = field_def.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if definition is None:
            raise _Unplannable
        get = _getter(definition)
        complete = self._completer(field_def.type, nodes, parent.name, name)
        return _Field(key, get, complete, nodes, is_non_null_type(field_def.type))

    def _completer(
        self, type_: GraphQLOutputType, nodes: list[FieldNode], parent: str, field_name: str
    ) -> Completer:
        if isinstance(type_, GraphQLNonNull):
            inner = self._completer(type_.of_type, nodes, parent, field_name)
            return _non_null(inner, parent, field_name)
        if is_list_type(type_):
            assert isinstance(type_, GraphQLList)
            item_type = type_.of_type
            item = self._completer(item_type, nodes, parent, field_name)
            return _nullable(_list(item, is_non_null_type(item_type), nodes, parent, field_name))
        if is_leaf_type(type_):
            return _nullable(_leaf(type_))
        if is_object_type(type_):
            assert isinstance(type_, GraphQLObjectType)
            plan = self.object_plan(type_, nodes)
            return _nullable(plan.complete)
        raise _Unplannable  # an interface or union: its runtime type is resolved


def _same(value: Any, path: Path, run: _Run) -> Any:
    return value


def _getter(definition: Any) -> Callable[[Any], Any]:
    """A plain attribute's getter, or a synchronous resolver that needs only self."""
    if getattr(definition, "permission_classes", None) or getattr(definition, "extensions", None):
        raise _Unplannable
    resolver = definition.base_resolver
    if resolver is None:
        return attrgetter(definition.python_name)
    takes_only_self = resolver.self_parameter is not None and not (
        resolver.info_parameter or resolver.root_parameter or resolver.parent_parameter
    )
    if resolver.is_async or definition.arguments or not takes_only_self:
        raise _Unplannable
    method = resolver.wrapped_func
    return lambda source: method(source)


class PlannedExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, completing the objects it can plan with their plan."""

    # Shared by every execution: a plan depends only on the schema and the document.
    _plans: ClassVar[
        OrderedDict[tuple[int, ...], tuple[Sequence[FieldNode], ObjectPlan | None]]
    ] = OrderedDict()

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._plan(return_type, info.field_nodes) if self.error_propagation else None
        if plan is None:
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        return plan.complete(result, path, _Run(self.collected_errors.add))

    def _plan(self, return_type: GraphQLObjectType, nodes: list[FieldNode]) -> ObjectPlan | None:
        key = (id(return_type), *map(id, nodes))
        plans = self._plans
        found = plans.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], nodes, strict=True)):
            plans.move_to_end(key)
            return found[1]
        try:
            plan: ObjectPlan | None = Planner(self.schema, self.fragment_definitions).object_plan(
                return_type, nodes
            )
        except _Unplannable:
            plan = None
        plans[key] = (list(nodes), plan)
        if len(plans) > PLANS_CACHED:
            plans.popitem(last=False)
        return plan
