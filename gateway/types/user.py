from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import described, ids
from gateway.context import Context, Info
from gateway.selection import names_below
from gateway.types.media import Media
from gateway.types.node import Node
from gateway.types.page import PageInfo
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2

if TYPE_CHECKING:
    from gateway.types.post import PostConnection

PostConnectionType = Annotated["PostConnection", strawberry.lazy("gateway.types.post")]


COUNTS = frozenset({"followerCount", "followingCount", "postCount"})


def asks_for_counts(asked: frozenset[str]) -> bool:
    """Whether the field names asked below a field (``names_below``) include a count:
    users are then read with their counts in the same call."""
    return not COUNTS.isdisjoint(asked)


async def shown_users(
    context: Context, user_ids: list[int], with_counts: bool
) -> dict[int, User | None]:
    """Users by id as a page shows them (None for an account that is gone), in one
    call, with their counts or not; none read when none asked."""
    profiles = await context.profiles(user_ids, with_counts) if user_ids else {}
    return {
        user_id: User.from_proto(profile, with_counts=with_counts) if profile is not None else None
        for user_id, profile in profiles.items()
    }


async def shown_authors(
    context: Context, author_ids: list[int], asked: frozenset[str]
) -> dict[int, User | None]:
    """The authors of a page's posts or comments, as ``shown_users``, when ``asked``
    (``names_below``) names ``author``; none read otherwise."""
    if "author" not in asked:
        return {}
    return await shown_users(context, list(dict.fromkeys(author_ids)), asks_for_counts(asked))


@strawberry.type
class User(Node):
    id: strawberry.ID
    username: str
    display_name: str | None
    bio: str | None
    user_id: strawberry.Private[int]
    # The counts when the user was read with them; else loaded if a query asks.
    counts: strawberry.Private[graph_pb2.User | None]
    avatar_media: strawberry.Private[post_pb2.Media | None] = None

    @classmethod
    def from_proto(cls, user: graph_pb2.User, *, with_counts: bool = False) -> User:
        """``with_counts``: the proto carries the counts (not a profile-only read)."""
        return cls(
            id=strawberry.ID(ids.encode("User", user.id)),
            user_id=user.id,
            username=user.username,
            display_name=user.display_name or None,
            bio=user.bio or None,
            counts=user if with_counts else None,
            avatar_media=user.avatar if user.HasField("avatar") else None,
        )

    async def _counts(self, context: Context) -> graph_pb2.User:
        if self.counts is None:
            self.counts = await context.user_counts.load(self.user_id) or graph_pb2.User()
        return self.counts

    @described.field("The same pipeline and renditions as a post's photo; null until set.")
    async def avatar(self, info: Info) -> Media | None:
        if self.avatar_media is None:
            return None
        urls: dict[str, str] = {}
        if "url" in names_below(info):
            # Every avatar on a page signed in one call (a DataLoader).
            keys = [rendition.object_key for rendition in self.avatar_media.renditions]
            signed = await info.context.signed_urls.load_many(keys)
            urls = dict(zip(keys, signed, strict=True))
        return Media.from_proto(self.avatar_media, urls)

    @strawberry.field
    async def follower_count(self, info: Info) -> int:
        return (await self._counts(info.context)).follower_count

    @strawberry.field
    async def following_count(self, info: Info) -> int:
        return (await self._counts(info.context)).following_count

    @strawberry.field
    async def post_count(self, info: Info) -> int:
        return (await self._counts(info.context)).post_count

    @described.field("True when the signed-in viewer follows this user (false when anonymous).")
    async def viewer_follows(self, info: Info) -> bool:
        return await info.context.viewer_follows.load(self.user_id)

    @described.field("Profile grid, newest first. Only READY posts.")
    async def posts(
        self, info: Info, first: int | None = 12, after: str | None = None
    ) -> PostConnectionType:
        from gateway.types.post import PostConnection

        context = info.context
        response = await context.clients.post.ListUserPosts(
            post_pb2.ListUserPostsRequest(
                user_id=self.user_id, page=context.page_request(first, after, default=12)
            )
        )
        return await PostConnection.of(
            info,
            [(edge.cursor, edge.post) for edge in response.edges],
            PageInfo.after(response.edges, response.page.next_page_token),
        )

    @strawberry.field
    async def followers(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        context = info.context
        request = graph_pb2.ListFollowersRequest(
            user_id=self.user_id, page=context.page_request(first, after, default=20)
        )
        return await UserConnection.of(info, await context.clients.graph.ListFollowers(request))

    @strawberry.field
    async def following(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        context = info.context
        request = graph_pb2.ListFollowingRequest(
            user_id=self.user_id, page=context.page_request(first, after, default=20)
        )
        return await UserConnection.of(info, await context.clients.graph.ListFollowing(request))


@strawberry.type
class UserEdge:
    cursor: str
    node: User


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo

    @classmethod
    async def of(
        cls,
        info: Info,
        listed: graph_pb2.ListFollowersResponse
        | graph_pb2.ListFollowingResponse
        | post_pb2.ListLikesResponse,
    ) -> UserConnection:
        """A page of followers or followed users, as listed by graph_svc, or of who
        liked a post (post_svc)."""
        with_counts = asks_for_counts(names_below(info))
        users = await info.context.profiles([edge.user_id for edge in listed.edges], with_counts)
        # An account deleted between the edge read and the user read is left out.
        built = [
            UserEdge(cursor=edge.cursor, node=User.from_proto(user, with_counts=with_counts))
            for edge in listed.edges
            if (user := users[edge.user_id]) is not None
        ]
        return cls(edges=built, page_info=PageInfo.after(listed.edges, listed.page.next_page_token))
