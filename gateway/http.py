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
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutionResult,
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
from gateway.errors import ErrorCode, classify

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# Documents kept parsed and validated, by query text.
DOCUMENTS_CACHED = 1024
_tracer = trace.get_tracer("pictor.gateway")


@dataclass(frozen=True)
class Prepared:
    """A query text, parsed and validated: the document, or why it cannot run."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]

    def operation_type(self, name: str | None) -> OperationType | None:
        """The type of the operation that ``name`` selects (None when it selects none)."""
        assert self.document is not None
        operations = [
            definition
            for definition in self.document.definitions
            if isinstance(definition, OperationDefinitionNode)
        ]
        if name is None:
            return operations[0].operation if len(operations) == 1 else None
        for operation in operations:
            if operation.name is not None and operation.name.value == name:
                return operation.operation
        return None


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
        self._rules = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)
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
            return Prepared(None, (error,))
        # The limits walk fragments and expect a valid document: they run second.
        errors = validate(self._schema, document, self._rules) or validate(
            self._schema, document, self._limits
        )
        return Prepared(document if not errors else None, tuple(errors))


@dataclass(frozen=True)
class GraphQLRequest:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


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


def respond(
    request: Request,
    body: Mapping[str, Any],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    media_type = GRAPHQL_RESPONSE if wants_graphql_response(request) else JSON
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def refuse(request: Request, message: str, status: int = 400) -> Response:
    error = {"message": message, "extensions": {"code": ErrorCode.BAD_USER_INPUT.value}}
    return respond(request, {"errors": [error]}, status)


async def read_request(request: Request) -> GraphQLRequest:
    """The query, variables and operation name of a JSON POST or a GET."""
    if request.method == "GET":
        params = request.query_params
        variables = params.get("variables")
        return _checked(
            {
                "query": params.get("query"),
                "variables": _json(variables.encode()) if variables else None,
                "operationName": params.get("operationName"),
            }
        )
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in (JSON, GRAPHQL_RESPONSE):
        raise BadRequest(f"unsupported content type {media_type!r}; send {JSON}", 415)
    return _checked(_json(await request.body()))


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None


def _checked(body: Any) -> GraphQLRequest:
    if not isinstance(body, dict):
        raise BadRequest("a GraphQL request is a JSON object")
    query, variables, name = body.get("query"), body.get("variables"), body.get("operationName")
    if not isinstance(query, str) or not query:
        raise BadRequest("the request has no query")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("variables must be a JSON object")
    if name is not None and not isinstance(name, str):
        raise BadRequest("operationName must be a string")
    return GraphQLRequest(query, variables, name)


class Executor:
    def __init__(
        self,
        schema: GraphQLSchema,
        documents: Documents,
        executor_class: type[Any],
        report_backend_calls: bool,
    ) -> None:
        self._schema = schema
        self._documents = documents
        self._executor_class = executor_class
        self._report_backend_calls = report_backend_calls

    async def respond(self, request: Request, graphql: GraphQLRequest, context: Any) -> Response:
        prepared = self._documents.prepare(graphql.query)
        if prepared.document is None:
            status = 400 if wants_graphql_response(request) else 200
            return respond(request, {"errors": [error_json(e) for e in prepared.errors]}, status)
        operation = prepared.operation_type(graphql.operation_name)
        if operation is OperationType.SUBSCRIPTION:
            return refuse(request, "subscriptions are served over WebSocket (graphql-transport-ws)")
        if operation is not OperationType.QUERY and request.method == "GET":
            return refuse(request, "only queries may be sent with GET; POST mutations", 405)

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
                    is_awaitable=optimized_is_awaitable,
                    operation_extensions=None,
                )
            )
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [error_json(error) for error in result.errors]
        status = 200
        # Errors without a path came before execution (variables, operation name).
        if result.data is None and all(error.path is None for error in result.errors or ()):
            status = 400 if wants_graphql_response(request) else 200
        else:
            body["data"] = result.data
        if counted is not None:
            body["extensions"] = {
                "backendCalls": {"total": sum(counted.values()), "byMethod": dict(counted)}
            }
        return respond(request, body, status)
