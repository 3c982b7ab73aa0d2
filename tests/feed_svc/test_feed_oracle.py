"""Random histories of follows, unfollows, posts, deletes, threshold crossings and quiet
spells over five users, run against the real stack; once the events have settled,
every user's whole home feed must equal the oracle's: the READY, undeleted posts of
the people they follow now, newest first, each once.

CI runs the "ci" Hypothesis profile; ``HYPOTHESIS_PROFILE=long make test`` runs more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import httpx
from hypothesis import given
from hypothesis import strategies as st

from feed_svc.keys import last_seen_key
from gateway import ids
from tests.feed_svc.conftest import Feeds
from tests.harness import IsolatedStack, Person, data, sign_up

USERS = 5  # with the test threshold of 3 followers, enough to cross it both ways
FORTNIGHT_MS = 14 * 24 * 3600 * 1000

# One step of a history: a follow edge (follower, followee), a user's post, the
# nth of a user's posts deleted, a user gone quiet, a user's read.
Follow = tuple[Literal["follow", "unfollow"], tuple[int, int]]
Delete = tuple[Literal["delete"], tuple[int, int]]
OneUser = tuple[Literal["post", "quiet", "read"], int]
Action = Follow | Delete | OneUser

user = st.integers(min_value=0, max_value=USERS - 1)
pair = st.tuples(user, user).filter(lambda p: p[0] != p[1])
action: st.SearchStrategy[Action] = st.one_of(
    st.tuples(st.sampled_from(["follow", "unfollow"]), pair),
    st.tuples(st.just("post"), user),
    st.tuples(st.just("delete"), st.tuples(user, st.integers(min_value=0, max_value=5))),
    st.tuples(st.sampled_from(["quiet", "read"]), user),
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
    test_stack: IsolatedStack, feeds: Feeds, history: list[Action]
) -> None:
    async with httpx.AsyncClient(base_url=test_stack.gateway_url, timeout=20) as http:
        people: list[Person] = [await sign_up(http, "oracle") for _ in range(USERS)]
        oracle = Oracle()
        for step in history:
            await apply(step, people, oracle, feeds)
        await feeds.settle()
        for index, person in enumerate(people):
            assert await feeds.read_all(person.client, page_size=3) == oracle.feed(index), (
                f"user {index}'s feed after {history}"
            )


async def apply(step: Action, people: list[Person], oracle: Oracle, feeds: Feeds) -> None:
    match step:
        case ("follow" | "unfollow") as name, (a, b):
            data(
                await people[a].client.execute(
                    f"mutation($id: ID!) {{ {name}(userId: $id) {{ id }} }}", {"id": people[b].id}
                )
            )
            (oracle.follows.add if name == "follow" else oracle.follows.discard)((a, b))
        case "post", int(author):
            oracle.posts[await feeds.publish(people[author].id)] = author
        case "delete", (author, nth):
            theirs = [p for p, a in oracle.posts.items() if a == author and p not in oracle.deleted]
            if theirs:
                post = theirs[nth % len(theirs)]
                await feeds.delete(people[author].id, post)
                oracle.deleted.add(post)
        case "quiet", int(who):
            # Time passes for this user: not seen for two weeks.
            viewer = ids.decode("User", people[who].id)
            await feeds.redis.set(last_seen_key(viewer), int(time.time() * 1000) - FORTNIGHT_MS)
        case "read", int(who):
            await feeds.read_all(people[who].client)
