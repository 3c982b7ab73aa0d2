"""The schema, assembled: types, root operations and the extensions that guard them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from functools import lru_cache

import strawberry
from graphql import (
    ASTValidationRule,
    GraphQLError,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.file_uploads import Upload
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from gateway.backend_calls import BackendCallsReport
from gateway.compiled import PlannedExecutor
from gateway.config import GatewaySettings
from gateway.engagement import EngagementMutation
from gateway.errors import ErrorCodes
from gateway.http import validation_errors
from gateway.mutations import Mutation
from gateway.notifications import NotificationMutation, NotificationQuery, NotificationSubscription
from gateway.profiles import ProfileMutation
from gateway.queries import Query
from gateway.subscriptions import Subscription
from gateway.tracing import ResolverTracing
from gateway.types.post import Post
from gateway.types.user import User
from gateway.uploads import UPLOAD

# The root types, each the merge of the modules that add root fields.
Queries = merge_types("Query", (Query, NotificationQuery))
Mutations = merge_types(
    "Mutation", (Mutation, EngagementMutation, NotificationMutation, ProfileMutation)
)
Subscriptions = merge_types("Subscription", (Subscription, NotificationSubscription))


class PictorSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Expected errors (bad input, not found...) are answers, not incidents;
        ErrorCodes logs the unexpected ones, with their traceback, where it masks them."""


def limit_rules(settings: GatewaySettings) -> list[type[ASTValidationRule]]:
    """The depth and alias limits as validation rules, built once."""
    return [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]


class _Parsed(ParserCache):
    """Parsed documents, cached. A document that does not parse is left to
    Strawberry's own parse, which reports the error as a result; raised from here it
    would skip the extensions' handling of results (ErrorCodes) and reach the client
    without a code."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


class _Validated(SchemaExtension):
    """Validation as on the JSON path (``gateway.http.validation_errors``), cached by
    document."""

    def __init__(self, limits: tuple[type[ASTValidationRule], ...]) -> None:
        self._limits = limits

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        context.pre_execution_errors = _validated(
            context.schema._schema, context.graphql_document, self._limits
        )
        yield


_validated = lru_cache(maxsize=256)(validation_errors)


def build_schema(settings: GatewaySettings) -> strawberry.Schema:
    limits = tuple(limit_rules(settings))
    diagnostics = [BackendCallsReport] if settings.report_backend_calls else []
    return PictorSchema(
        query=Queries,
        mutation=Mutations,
        subscription=Subscriptions,
        types=[User, Post],
        execution_context_class=PlannedExecutor,
        config=StrawberryConfig(scalar_map={Upload: UPLOAD}),
        # Factories, not instances: each operation gets fresh extensions, so concurrent
        # requests never share per-operation state (strawberry#4369). The parser and
        # validation caches live at module level and are shared all the same.
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: _Parsed(maxsize=256),
            lambda: _Validated(limits),
            ResolverTracing,
            ErrorCodes,
            *diagnostics,
        ],
    )
