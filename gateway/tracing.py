"""Spans for the resolvers worth a span, and no cost for the others.

Strawberry's ``OpenTelemetryExtension.resolve`` is a coroutine function, so every field
of every result, a plain attribute included, becomes a coroutine and then a task that
graphql-core gathers; and every resolver of ours gets a span, the signed ``url`` of
each rendition too. A home feed page is about 600 fields, 96 of them URLs: profiled
(``python -m bench feed_read --profile``), that was the largest share of the gateway's
CPU per read.

``ResolverTracing`` resolves every field it does not trace synchronously, as if no
extension were there, and traces only the resolvers whose span says something: root
fields (the operation's steps) and resolvers that return objects (``author``,
``posts``, ``followers``...). A resolver that returns a scalar (``url``,
``viewerFollows``) loads through a DataLoader whose one batched gRPC call has its own
span from the gRPC client instrumentation, so a span per field would add hundreds of
spans and nothing to read in them.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo, get_named_type, is_leaf_type
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.extensions.utils import is_introspection_field
from strawberry.resolvers import is_default_resolver


def traced(info: GraphQLResolveInfo[Any]) -> bool:
    """Whether this field's resolution gets a span of its own; the cheap checks first,
    as this runs for every field of every result."""
    field = info.parent_type.fields.get(info.field_name)
    if field is None or field.resolve is None or is_default_resolver(field.resolve):
        return False  # a plain attribute: no resolver of ours
    schema = info.schema
    root = info.parent_type in (schema.query_type, schema.mutation_type, schema.subscription_type)
    if not root and is_leaf_type(get_named_type(info.return_type)):
        return False
    return not is_introspection_field(info)


class ResolverTracing(OpenTelemetryExtension):
    def resolve(  # sync, or the base's coroutine when traced
        self, _next: Any, root: Any, info: GraphQLResolveInfo[Any], *args: Any, **kwargs: Any
    ) -> Any:
        if not traced(info):
            return _next(root, info, *args, **kwargs)
        return super().resolve(_next, root, info, *args, **kwargs)
