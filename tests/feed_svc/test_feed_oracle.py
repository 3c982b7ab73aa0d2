"""Random histories of follows, unfollows, posts, deletes, threshold crossings and quiet
spells over five users, run against the real stack; once the events have settled,
every user's whole home feed must equal the oracle's: the READY, undeleted posts of
the people they follow now, newest first, each once.

CI runs the "ci" Hypothesis profile; ``HYPOTHESIS_PROFILE=long make test`` runs more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
from hypothesis import given
from hypothesis import strategies as st

from feed_svc.keys import last_seen_key
from gateway import ids
from tests.feed_svc.conftest import Feeds
from tests.harness import IsolatedStack, Person, data, sign_up

USERS = 5  # with the test threshold of 3 followers, enough to cross it both ways
FORTNIGHT_MS = 14 * 24 * 3600 * 1000

user = st.integers(min_value=0, max_value=USERS - 1)
pair = st.tuples(user, user).filter(lambda p: p[0] != p[1])
action = st.one_of(
    st.tuples(st.just("follow"), pair),
    st.tuples(st.just("unfollow"), pair),
    st.tuples(st.just("post"), user),
    st.tuples(st.just("delete"), st.tuples(user, st.integers(min_value=0, max_value=5))),
    st.tuples(st.just("quiet"), user),
    st.tuples(st.just("read"), user),
)


@dataclass
class Oracle:
    follows: set[tuple[int, int]] = field(default_factory=set)
    posts: dict[str, int] = field(default_factory=dict)  # post id -> author index
    deleted: set[str] = field(default_factory=set)

    def feed(self, reader: int) -> list[str]:
        visible = [
            post
            for post, author in self.posts.items()
            if (reader, author) in self.follows and post not in self.deleted
        ]
        return sorted(visible, key=lambda post: ids.decode("Post", post), reverse=True)


@given(history=st.lists(action, min_size=1, max_size=14))
async def test_every_feed_matches_the_oracle(
    test_stack: IsolatedStack, feeds: Feeds, history: list[tuple[str, object]]
) -> None:
    async with httpx.AsyncClient(base_url=test_stack.gateway_url, timeout=20) as http:
        people: list[Person] = [await sign_up(http, "oracle") for _ in range(USERS)]
        oracle = Oracle()
        for name, argument in history:
            await apply(name, argument, people, oracle, feeds)
        await feeds.settle()
        for index, person in enumerate(people):
            assert await feeds.read_all(person.client, page_size=3) == oracle.feed(index), (
                f"user {index}'s feed after {history}"
            )


async def apply(
    name: str, argument: object, people: list[Person], oracle: Oracle, feeds: Feeds
) -> None:
    if name in ("follow", "unfollow"):
        a, b = argument  # type: ignore[misc]
        data(
            await people[a].client.execute(
                f"mutation($id: ID!) {{ {name}(userId: $id) {{ id }} }}", {"id": people[b].id}
            )
        )
        (oracle.follows.add if name == "follow" else oracle.follows.discard)((a, b))
    elif name == "post":
        oracle.posts[await feeds.publish(people[argument].id)] = argument  # type: ignore[index]
    elif name == "delete":
        author, nth = argument  # type: ignore[misc]
        theirs = [p for p, a in oracle.posts.items() if a == author and p not in oracle.deleted]
        if theirs:
            post = theirs[nth % len(theirs)]
            await feeds.delete(people[author].id, post)
            oracle.deleted.add(post)
    elif name == "quiet":
        # Time passes for this user: not seen for two weeks.
        viewer = ids.decode("User", people[argument].id)  # type: ignore[index]
        await feeds.redis.set(last_seen_key(viewer), int(time.time() * 1000) - FORTNIGHT_MS)
    elif name == "read":
        await feeds.read_all(people[argument].client)  # type: ignore[index]
