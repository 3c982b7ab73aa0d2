"""What a query may cost, read from its document before anything executes.

GitHub's method: every connection asks for up to ``first`` nodes (its default when
``first`` is absent or null), and a connection nested in another is asked for once
per node of the outer one, so nesting multiplies. A query costs one for itself plus
the nodes its connections can return: ``homeFeed(first: 12)`` with each post's
author costs 13; ``followers(first: 100)`` each with ``followers(first: 100)``
costs 10,101.

The document is walked once (``Cost.of``) into a sum of products of page sizes; a
page size given as a variable stays a factor, so a request only multiplies a few
numbers (``Cost.requested``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

# The argument that sizes a connection.
PAGE_ARGUMENT = "first"

# A page size a request supplies: the variable, and what counts when it does not.
Factor = tuple[str, int]
# Coefficient times the product of variable page sizes.
Term = tuple[int, tuple[Factor, ...]]


@dataclass(frozen=True)
class Cost:
    constant: int
    terms: tuple[Term, ...]

    @staticmethod
    def of(
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> Cost:
        """The cost of a validated operation, as a function of its variables."""
        defaults: dict[str, int] = {}
        for definition in operation.variable_definitions or ():
            if isinstance(definition.default_value, IntValueNode):
                defaults[definition.variable.name.value] = int(definition.default_value.value)
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[operation.operation]
        walk = _Walk(schema, fragments, defaults)
        if root is not None:
            walk.selections(root, operation.selection_set, (1, ()))
        constant = 1 + sum(coefficient for coefficient, factors in walk.terms if not factors)
        return Cost(constant, tuple(term for term in walk.terms if term[1]))

    def requested(self, variables: Mapping[str, Any] | None) -> int:
        total = self.constant
        for coefficient, factors in self.terms:
            product = coefficient
            for name, fallback in factors:
                value = variables.get(name) if variables else None
                # Anything but a count is refused when variables are coerced.
                product *= value if type(value) is int and value >= 0 else fallback
            total += product
        return total


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variable_defaults: Mapping[str, int],
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._variable_defaults = variable_defaults
        self.terms: list[Term] = []

    def selections(
        self, parent: GraphQLNamedType, selection_set: SelectionSetNode, nodes: Term
    ) -> None:
        """Adds the connections below ``parent``, each asked for ``nodes`` times."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(parent, selection, nodes)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                typed = self._schema.get_type(condition.name.value) if condition else parent
                if typed is not None:
                    self.selections(typed, selection.selection_set, nodes)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is None:
                    continue
                typed = self._schema.get_type(fragment.type_condition.name.value)
                if typed is not None:
                    self.selections(typed, fragment.selection_set, nodes)

    def _field(self, parent: GraphQLNamedType, node: FieldNode, nodes: Term) -> None:
        if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return
        definition = parent.fields.get(node.name.value)
        if definition is None:  # __typename and introspection
            return
        below = nodes
        page = definition.args.get(PAGE_ARGUMENT)
        if page is not None:
            default = page.default_value if type(page.default_value) is int else 0
            given = next(
                (
                    argument.value
                    for argument in node.arguments or ()
                    if argument.name.value == PAGE_ARGUMENT
                ),
                None,
            )
            coefficient, factors = nodes
            if isinstance(given, IntValueNode):
                below = (coefficient * max(0, int(given.value)), factors)
            elif isinstance(given, VariableNode):
                name = given.name.value
                below = (
                    coefficient,
                    (*factors, (name, self._variable_defaults.get(name, default))),
                )
            else:
                below = (coefficient * default, factors)
            self.terms.append(below)
        if node.selection_set is not None:
            self.selections(get_named_type(definition.type), node.selection_set, below)
