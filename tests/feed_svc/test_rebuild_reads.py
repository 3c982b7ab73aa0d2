"""What a timeline rebuild reads from post_svc: each author's newest READY post ids,
for many authors in one call."""

from __future__ import annotations

import httpx

from gateway import ids
from pictor.clients import ServiceClients
from pictor.post.v1 import post_pb2
from tests.feed_svc.conftest import Feeds
from tests.harness import sign_up


async def test_recent_post_ids_are_each_authors_newest_ready_posts(
    http: httpx.AsyncClient, feeds: Feeds, clients: ServiceClients
) -> None:
    ada, bob, quiet, gone = [await sign_up(http, name) for name in ("ada", "bob", "quiet", "gone")]
    posted = {
        person.id: [await feeds.publish(person.id) for _ in range(3)] for person in (ada, bob)
    }
    deleted = await feeds.publish(gone.id)
    await feeds.delete(gone.id, deleted)  # leaves a partition with only its count
    await clients.post.CreatePost(  # PENDING: not on the profile grid
        post_pb2.CreatePostRequest(
            author_id=ids.decode("User", quiet.id), caption="", content_type="image/jpeg"
        )
    )
    authors = [ids.decode("User", person.id) for person in (ada, bob, quiet, gone)]

    response = await clients.post.RecentPostIds(
        post_pb2.RecentPostIdsRequest(author_ids=authors, limit=2)
    )

    found = {
        ids.encode("User", entry.author_id): [ids.encode("Post", p) for p in entry.post_ids]
        for entry in response.authors
    }
    assert found == {
        ada.id: posted[ada.id][::-1][:2],
        bob.id: posted[bob.id][::-1][:2],
        quiet.id: [],
        gone.id: [],
    }
