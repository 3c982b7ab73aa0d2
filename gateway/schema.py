"""The schema, assembled: types, root operations and the extensions that guard them."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule, GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from gateway.backend_calls import BackendCallsReport
from gateway.compiled import PlannedExecutor
from gateway.config import GatewaySettings
from gateway.errors import ErrorCodes
from gateway.mutations import Mutation
from gateway.queries import Query
from gateway.subscriptions import Subscription
from gateway.tracing import ResolverTracing
from gateway.types.post import Post
from gateway.types.user import User


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


def build_schema(settings: GatewaySettings) -> strawberry.Schema:
    diagnostics = [BackendCallsReport] if settings.report_backend_calls else []
    return PictorSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Post],
        execution_context_class=PlannedExecutor,
        # Factories, not instances: each operation gets fresh extensions, so concurrent
        # requests never share per-operation state (strawberry#4369). The parser and
        # validation caches live at module level and are shared all the same.
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
            lambda: ValidationCache(maxsize=256),
            ResolverTracing,
            ErrorCodes,
            *diagnostics,
        ],
    )
