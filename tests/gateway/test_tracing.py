"""Which resolvers get a span (in-process, a small schema of the same shapes as ours:
object fields, plain attributes, async scalar resolvers, lists of objects)."""

from __future__ import annotations

import strawberry
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.tracing import ResolverTracing


@strawberry.type
class Rendition:
    name: str

    @strawberry.field
    async def url(self) -> str:
        return f"https://cdn.example/{self.name}"


@strawberry.type
class Author:
    username: str


@strawberry.type
class Post:
    caption: str
    renditions: list[Rendition]

    @strawberry.field
    async def author(self) -> Author:
        return Author(username="ada")


@strawberry.type
class Query:
    @strawberry.field
    async def feed(self) -> list[Post]:
        return [
            Post(caption=f"post {n}", renditions=[Rendition(name="thumb"), Rendition(name="large")])
            for n in range(3)
        ]

    @strawberry.field
    def version(self) -> str:
        return "1"


QUERY = "{ version feed { caption author { username } renditions { name url } } }"


async def test_spans_cover_root_fields_and_object_resolvers_only() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    schema = strawberry.Schema(
        query=Query, extensions=[lambda: ResolverTracing(tracer_provider=provider)]
    )

    result = await schema.execute(QUERY)

    assert result.errors is None
    assert result.data is not None
    assert [post["renditions"][1]["url"] for post in result.data["feed"]] == [
        "https://cdn.example/large"
    ] * 3
    assert [post["author"]["username"] for post in result.data["feed"]] == ["ada"] * 3
    resolved = sorted(
        span.name for span in exporter.get_finished_spans() if "Resolving" in span.name
    )
    # Root fields, and author (an object) once per post; no span for url (a scalar)
    # or for plain attributes.
    assert resolved == [
        "GraphQL Resolving: author",
        "GraphQL Resolving: author",
        "GraphQL Resolving: author",
        "GraphQL Resolving: feed",
        "GraphQL Resolving: version",
    ]
    names = {span.name for span in exporter.get_finished_spans()}
    assert "GraphQL Query" in names
