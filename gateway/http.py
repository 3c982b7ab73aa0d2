"""GraphQL over HTTP (``POST`` with a JSON body, ``GET`` with query parameters),
executed straight on graphql-core.

What Strawberry's view and extensions did per request is done here once per
document: a query text is parsed (with the token limit) and validated (the spec's
rules, then the depth and alias limits) the first time it is seen, and the result
is kept by text, so a known operation goes straight to execution. Execution has no
middleware: nothing wraps every field, the operation gets one span, the backend
calls their own. Responses are encoded with orjson. Uploads (multipart), GraphiQL
and subscriptions stay with Strawberry's view (``gateway.app``).

Media types follow the GraphQL-over-HTTP spec: a client that accepts
``application/graphql-response+json`` gets it, with 4xx for requests that could not
be executed; others get ``application/json`` with 200 for GraphQL errors.

A request may name its operation by hash instead of text (``gateway.persisted``);
its cost (``gateway.cost``) is checked against ``max_query_cost`` before it runs and
reported in ``extensions.cost``. Queries sent with GET may be kept by HTTP caches
when nobody is signed in; a signed-in viewer's answers are ``private, no-store``.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard, cast

import orjson
import redis.asyncio as redis
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    parse,
    specified_rules,
    validate,
)
from opentelemetry import trace
from starlette.requests import Request
from starlette.responses import Response
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.utils.await_maybe import await_maybe

from gateway.backend_calls import counting_calls
from gateway.config import GatewaySettings
from gateway.cost import Cost
from gateway.errors import ErrorCode, classify
from gateway.persisted import (
    PERSISTED_QUERY_NOT_FOUND,
    PersistedQueries,
    PersistedQueryError,
    requested_hash,
)

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Documents kept parsed and validated, by query text.
DOCUMENTS_CACHED = 1024
_tracer = trace.get_tracer("pictor.gateway")
# Strawberry's fast check, typed as the predicate graphql-core asks for (which it is).
_is_awaitable = cast(Callable[[Any], TypeGuard[Awaitable[Any]]], optimized_is_awaitable)


# The spec's rules and Strawberry's own (the limits are given apart: they run second).
SPEC_RULES = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)


def validation_errors(
    schema: GraphQLSchema, document: DocumentNode, limits: Sequence[type[ASTValidationRule]]
) -> list[GraphQLError]:
    """The spec's rules, then the depth and alias limits: the limits walk fragments
    and expect a valid document (an unknown fragment was a KeyError inside the depth
    limiter), so they run only on one that passed."""
    return validate(schema, document, SPEC_RULES) or validate(schema, document, limits)


@dataclass(frozen=True)
class Operation:
    name: str | None
    type: OperationType
    cost: Cost


@dataclass(frozen=True)
class Prepared:
    """A query text, parsed and validated: the document and its operations by name
    (None names the only one), or why it cannot run."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    operations: Mapping[str | None, Operation]


class Documents:
    """Parsed and validated documents by query text, the least recently used dropped."""

    def __init__(
        self,
        schema: GraphQLSchema,
        limits: Sequence[type[ASTValidationRule]],
        max_tokens: int,
        capacity: int = DOCUMENTS_CACHED,
    ) -> None:
        self._schema = schema
        self._limits = tuple(limits)
        self._max_tokens = max_tokens
        self._capacity = capacity
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()

    def prepare(self, query: str) -> Prepared:
        prepared = self._prepared.get(query)
        if prepared is not None:
            self._prepared.move_to_end(query)
            return prepared
        prepared = self._prepare(query)
        self._prepared[query] = prepared
        if len(self._prepared) > self._capacity:
            self._prepared.popitem(last=False)
        return prepared

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self._max_tokens)
        except GraphQLError as error:
            return Prepared(None, (error,), {})
        errors = validation_errors(self._schema, document, self._limits)
        if errors:
            return Prepared(None, tuple(errors), {})
        return Prepared(document, (), self._operations(document))

    def _operations(self, document: DocumentNode) -> dict[str | None, Operation]:
        fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }
        operations: dict[str | None, Operation] = {}
        definitions = [
            definition
            for definition in document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ]
        for definition in definitions:
            name = definition.name.value if definition.name is not None else None
            operation = Operation(
                name, definition.operation, Cost.of(self._schema, definition, fragments)
            )
            if name is not None:
                operations[name] = operation
            if len(definitions) == 1:
                operations[None] = operation
        return operations


@dataclass(frozen=True)
class GraphQLRequest:
    # None only when the operation is named by persisted_hash.
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    persisted_hash: str | None = None


class BadRequest(Exception):
    """A request that is not a GraphQL request at all (HTTP 4xx, BAD_USER_INPUT)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def error_json(error: GraphQLError) -> dict[str, Any]:
    code, message = classify(error)
    formatted: dict[str, Any] = {"message": message}
    if error.locations:
        formatted["locations"] = [
            {"line": location.line, "column": location.column} for location in error.locations
        ]
    if error.path is not None:
        formatted["path"] = error.path
    formatted["extensions"] = {**(error.extensions or {}), "code": code.value}
    return formatted


def wants_graphql_response(request: Request) -> bool:
    return GRAPHQL_RESPONSE in request.headers.get("accept", "")


# Every GET answer says whether and by whom it may be kept; only some may.
NOT_STORED = {"cache-control": "no-store", "vary": "Accept, Authorization"}
# As Apollo Server: the client is about to register the operation, and will retry.
NOT_FOUND_UNCACHED = {
    "cache-control": "private, no-cache, must-revalidate",
    "vary": "Accept, Authorization",
}
SIGNED_IN = {"cache-control": "private, no-store", "vary": "Accept, Authorization"}


def respond(
    request: Request,
    body: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    media_type = GRAPHQL_RESPONSE if wants_graphql_response(request) else JSON
    if headers is None and request.method == "GET":
        headers = NOT_STORED
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def refuse(
    request: Request,
    message: str,
    status: int = 400,
    code: str = ErrorCode.BAD_USER_INPUT.value,
    headers: Mapping[str, str] | None = None,
) -> Response:
    error = {"message": message, "extensions": {"code": code}}
    return respond(request, {"errors": [error]}, status, headers)


async def read_request(request: Request) -> GraphQLRequest:
    """The query, variables, operation name and extensions of a JSON POST or a GET."""
    if request.method == "GET":
        params = request.query_params
        variables, extensions = params.get("variables"), params.get("extensions")
        return checked_request(
            {
                "query": params.get("query"),
                "variables": parsed_json(variables, "variables") if variables else None,
                "operationName": params.get("operationName"),
                "extensions": parsed_json(extensions, "extensions") if extensions else None,
            }
        )
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in (JSON, GRAPHQL_RESPONSE):
        raise BadRequest(f"unsupported content type {media_type!r}; send {JSON}", 415)
    return checked_request(parsed_json(await request.body()))


def parsed_json(raw: bytes | str, what: str = "the body") -> Any:
    """JSON, with orjson's limits (1,024 levels deep, numbers within a double)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"{what} is not valid JSON: {error}") from None


def checked_request(body: Any) -> GraphQLRequest:
    if not isinstance(body, dict):
        raise BadRequest("a GraphQL request is a JSON object")
    query, variables, name = body.get("query"), body.get("variables"), body.get("operationName")
    extensions = body.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest("extensions must be a JSON object")
    try:
        persisted_hash = requested_hash(extensions) if extensions else None
    except ValueError as error:
        raise BadRequest(str(error)) from None
    if query is not None and (not isinstance(query, str) or not query):
        raise BadRequest("the request has no query")
    if query is None and persisted_hash is None:
        raise BadRequest("the request has no query")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("variables must be a JSON object")
    if name is not None and not isinstance(name, str):
        raise BadRequest("operationName must be a string")
    return GraphQLRequest(query, variables, name, persisted_hash)


class Executor:
    def __init__(
        self,
        schema: GraphQLSchema,
        documents: Documents,
        executor_class: type[Any],
        settings: GatewaySettings,
    ) -> None:
        self._schema = schema
        self._documents = documents
        self._executor_class = executor_class
        self._report_backend_calls = settings.report_backend_calls
        self._max_cost = settings.max_query_cost
        self._persisted = PersistedQueries(
            ttl_seconds=settings.persisted_query_ttl_seconds,
            persisted_only=settings.persisted_only,
        )
        max_age = settings.public_max_age_seconds
        self._public = {
            "cache-control": f"public, max-age={max_age}" if max_age > 0 else "no-cache",
            "vary": "Accept, Authorization",
        }

    async def respond(self, request: Request, graphql: GraphQLRequest, context: Any) -> Response:
        try:
            query, new = await self._query(request, graphql)
        except PersistedQueryError as error:
            retry = error.code == PERSISTED_QUERY_NOT_FOUND and request.method == "GET"
            return refuse(
                request, str(error), error.status, error.code, NOT_FOUND_UNCACHED if retry else None
            )
        prepared = self._documents.prepare(query)
        if prepared.document is None:
            status = 400 if wants_graphql_response(request) else 200
            return respond(request, {"errors": [error_json(e) for e in prepared.errors]}, status)
        if new and (refused := await self._register(request, graphql, query)) is not None:
            return refused
        extensions: dict[str, Any] = {}
        operation = prepared.operations.get(graphql.operation_name)
        # An unknown or missing operation name is left to execute, which reports it.
        if operation is not None:
            refused = self._refused(request, graphql, operation, extensions)
            if refused is not None:
                return refused
        counted: Counter[str] | None = Counter() if self._report_backend_calls else None
        with (
            _tracer.start_as_current_span(f"graphql {graphql.operation_name or 'operation'}"),
            counting_calls(counted),
        ):
            result: ExecutionResult = await await_maybe(
                execute(
                    self._schema,
                    prepared.document,
                    context_value=context,
                    variable_values=graphql.variables,
                    operation_name=graphql.operation_name,
                    executor_class=self._executor_class,
                    is_awaitable=_is_awaitable,
                    operation_extensions=None,
                )
            )
        if counted is not None:
            extensions["backendCalls"] = {"total": sum(counted.values()), "byMethod": dict(counted)}
        return self._answer(request, result, extensions)

    async def _register(
        self, request: Request, graphql: GraphQLRequest, query: str
    ) -> Response | None:
        """Keeps a new persisted query for every replica; a refusal if Redis is down."""
        assert graphql.persisted_hash is not None
        try:
            await self._persisted.register(request.state.redis, graphql.persisted_hash, query)
        except redis.RedisError:
            return refuse(
                request, "persisted queries are unavailable", 503, ErrorCode.UNAVAILABLE.value
            )
        return None

    def _refused(
        self,
        request: Request,
        graphql: GraphQLRequest,
        operation: Operation,
        extensions: dict[str, Any],
    ) -> Response | None:
        """The refusal of an operation this request may not run, else None (and its cost
        put in ``extensions``)."""
        if operation.type is OperationType.SUBSCRIPTION:
            return refuse(request, "subscriptions are served over WebSocket (graphql-transport-ws)")
        if operation.type is not OperationType.QUERY and request.method == "GET":
            return refuse(request, "only queries may be sent with GET; POST mutations", 405)
        requested = operation.cost.requested(graphql.variables)
        extensions["cost"] = {"requested": requested, "limit": self._max_cost}
        if requested > self._max_cost:
            return self._too_costly(request, requested, extensions)
        return None

    def _answer(
        self, request: Request, result: ExecutionResult, extensions: dict[str, Any]
    ) -> Response:
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [error_json(error) for error in result.errors]
        status = 200
        # Errors without a path came before execution (variables, operation name).
        if result.data is None and all(error.path is None for error in result.errors or ()):
            status = 400 if wants_graphql_response(request) else 200
        else:
            body["data"] = result.data
        if extensions:
            body["extensions"] = extensions
        headers = self._cache_control(request, result) if request.method == "GET" else None
        retry_after = _retry_after(body.get("errors", ()))
        if retry_after is not None:
            headers = {**(headers or {}), "Retry-After": str(retry_after)}
        return respond(request, body, status, headers)

    async def _query(self, request: Request, graphql: GraphQLRequest) -> tuple[str, bool]:
        """The text to run, and whether it is a persisted query to register."""
        if graphql.persisted_hash is None:
            refused = self._persisted.raw_query_refused()
            if refused is not None:
                raise refused
            assert graphql.query is not None
            return graphql.query, False
        try:
            return await self._persisted.query(
                request.state.redis, graphql.persisted_hash, graphql.query
            )
        except redis.RedisError:
            raise PersistedQueryError(
                ErrorCode.UNAVAILABLE.value, "persisted queries are unavailable", 503
            ) from None

    def _too_costly(self, request: Request, requested: int, extensions: dict[str, Any]) -> Response:
        message = (
            f"the query may cost {requested}, over the limit of {self._max_cost}: it counts "
            "the nodes its connections can return (a connection's `first`, times the "
            "pages it is nested in); ask for smaller or fewer nested pages"
        )
        error = {"message": message, "extensions": {"code": ErrorCode.BAD_USER_INPUT.value}}
        status = 400 if wants_graphql_response(request) else 200
        return respond(request, {"errors": [error], "extensions": extensions}, status)

    def _cache_control(self, request: Request, result: ExecutionResult) -> Mapping[str, str]:
        if "authorization" in request.headers:
            return SIGNED_IN
        return NOT_STORED if result.errors else self._public


def _retry_after(errors: Sequence[Mapping[str, Any]]) -> int | None:
    """The longest ``retryAfterSeconds`` among the errors: HTTP's ``Retry-After``."""
    hints = [error["extensions"].get("retryAfterSeconds") for error in errors]
    return max((hint for hint in hints if isinstance(hint, int)), default=None)
