"""What the demo data is, decided before anything is written: the accounts, who follows
whom, how many photos each account posts and which photo and caption each post gets.

Pure and deterministic: the same number of users always gives the same plan, so a
second seed run can compare the plan with what the stack already holds and add only
the difference. User ``i`` has the same name whatever the number of users.

- Popularity is Zipf-like: each account gets a random rank and is chosen as a followee
  with weight ``1 / rank ** ZIPF_EXPONENT``, so a handful of accounts are followed by
  most people and the long tail by a few each (preferential attachment's shape).
- Each account follows between ``FOLLOWING_MIN`` and ``FOLLOWING_MAX`` others (fewer
  in a small graph), skewed toward the low end.
- Posting is skewed too, and the popular post more; every account's home feed then
  holds at least ``feed_target`` posts (the plan adds posts to followees where needed).
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass
from functools import cached_property

FOLLOWING_MIN = 50
FOLLOWING_MAX = 300
# u ** 3 for u uniform in [0, 1): median a tenth of the way up the range, mean a quarter.
FOLLOWING_SKEW = 3.0
ZIPF_EXPONENT = 1.0
# Three pages of the GraphQL feed's default 12.
FEED_TARGET = 36
# Posts drawn per account before the feeds are topped up; sized so that the default
# 2,000 users take about 800 photos, which the media worker on 2 cores turns into
# renditions in a little over 2 minutes.
POSTS_PER_USER = 0.4
# Who posts: popularity ** DAMPING (the popular post more) times a Pareto(ALPHA)
# keenness (a few post a lot whoever follows them).
POSTING_POPULARITY_DAMPING = 0.5
POSTING_PARETO_ALPHA = 1.1
# No account posts more than this (a few profile grids run to several pages).
POSTS_MAX = 40

FIRST_NAMES = [
    "ada",
    "grace",
    "alan",
    "edsger",
    "barbara",
    "donald",
    "ken",
    "dennis",
    "margaret",
    "linus",
    "guido",
    "bjarne",
    "john",
    "frances",
    "katherine",
    "tim",
    "radia",
    "vint",
    "sophie",
    "hedy",
    "annie",
    "karen",
    "niklaus",
    "leslie",
    "shafi",
    "whitfield",
    "martin",
    "tony",
    "judea",
    "robin",
    "yukihiro",
    "james",
    "jean",
    "ivan",
    "mary",
    "evelyn",
    "carol",
    "lynn",
    "anita",
    "adele",
    "gerald",
    "butler",
    "david",
    "joan",
    "marian",
    "hal",
    "fernando",
    "ole",
    "kristen",
    "jim",
    "larry",
    "sergey",
    "susan",
    "erna",
    "guy",
    "rob",
    "brian",
    "peter",
    "dana",
    "manuel",
    "lorinda",
    "roberta",
]
LAST_NAMES = [
    "lovelace",
    "hopper",
    "turing",
    "dijkstra",
    "liskov",
    "knuth",
    "thompson",
    "ritchie",
    "hamilton",
    "torvalds",
    "van",
    "rossum",
    "stroustrup",
    "backus",
    "allen",
    "johnson",
    "berners-lee",
    "perlman",
    "cerf",
    "wilson",
    "lamarr",
    "easley",
    "jones",
    "wirth",
    "lamport",
    "goldwasser",
    "diffie",
    "hellman",
    "fowler",
    "hoare",
    "pearl",
    "milner",
    "matsumoto",
    "gosling",
    "sammet",
    "sutherland",
    "keller",
    "clarke",
    "conway",
    "borg",
    "goldberg",
    "steele",
    "kahan",
    "cherry",
    "norvig",
    "page",
    "brin",
    "kare",
    "hoover",
    "bell",
]
CAPTION_MOMENTS = (
    "Morning light",
    "Late afternoon",
    "Golden hour",
    "Blue hour",
    "First snow",
    "After the rain",
    "Sunday walk",
    "Quiet evening",
    "Somewhere new",
    "Back again",
)
CAPTION_PLACES = (
    "over the harbour",
    "in the old town",
    "on the ridge",
    "by the lake",
    "at the market",
    "on the way home",
    "from the balcony",
    "in the park",
    "along the coast",
    "under the bridge",
)


@dataclass(frozen=True)
class PlannedPost:
    author: int
    # The author's n-th post (0-based): a re-run uploads only numbers it has not reached.
    number: int
    photo: int
    caption: str


@dataclass(frozen=True)
class DemoPlan:
    usernames: list[str]
    display_names: list[str]
    # followees of each user, by index
    following: list[list[int]]
    posts: list[int]
    feed_target: int
    seed: int

    @cached_property
    def followers(self) -> list[int]:
        counts = [0] * len(self.usernames)
        for followees in self.following:
            for followee in followees:
                counts[followee] += 1
        return counts

    def feed_sizes(self) -> list[int]:
        """Posts each user's home feed will hold once everything is READY."""
        return [sum(self.posts[f] for f in followees) for followees in self.following]

    @property
    def edges(self) -> int:
        return sum(len(followees) for followees in self.following)

    def upload_order(self, photos: int) -> list[PlannedPost]:
        """Every planned post, shuffled so consecutive uploads (hence feeds) mix authors."""
        rng = random.Random(self.seed + 1)
        posts = [
            PlannedPost(
                author=author,
                number=number,
                photo=(author * 37 + number * 11) % photos,
                caption=caption(author, number),
            )
            for author, count in enumerate(self.posts)
            for number in range(count)
        ]
        rng.shuffle(posts)
        return posts


def username(index: int) -> str:
    return f"{FIRST_NAMES[index % len(FIRST_NAMES)]}.{index + 1:04d}"


def display_name(index: int) -> str:
    first = FIRST_NAMES[index % len(FIRST_NAMES)].capitalize()
    last = LAST_NAMES[(index // len(FIRST_NAMES) + index * 7) % len(LAST_NAMES)]
    return f"{first} {last.title()}"


def caption(author: int, number: int) -> str:
    moment = CAPTION_MOMENTS[(author + number * 3) % len(CAPTION_MOMENTS)]
    place = CAPTION_PLACES[(author * 7 + number) % len(CAPTION_PLACES)]
    return f"{moment} {place} #{number + 1}"


def following_range(users: int) -> tuple[int, int]:
    """How many accounts each user follows: 50 to 300, scaled down in a small graph."""
    others = users - 1
    low = min(FOLLOWING_MIN, max(1, others // 4))
    high = min(FOLLOWING_MAX, max(low, others // 2))
    return low, high


def plan(users: int, feed_target: int = FEED_TARGET, seed: int = 2024) -> DemoPlan:
    if users < 2:
        raise ValueError("a follow graph needs at least 2 users")
    rng = random.Random(seed * 1_000_003 + users)
    ranks = list(range(users))
    rng.shuffle(ranks)
    popularity = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in ranks]
    cumulative = list(itertools.accumulate(popularity))

    low, high = following_range(users)
    following = []
    for user in range(users):
        wanted = low + int((high - low + 1) * rng.random() ** FOLLOWING_SKEW)
        following.append(_weighted_distinct(rng, cumulative, wanted, exclude=user))

    posts = _posts(rng, popularity, users)
    planned = DemoPlan(
        usernames=[username(i) for i in range(users)],
        display_names=[display_name(i) for i in range(users)],
        following=following,
        posts=posts,
        feed_target=feed_target,
        seed=seed,
    )
    _top_up_feeds(planned, popularity)
    return planned


def _weighted_distinct(
    rng: random.Random, cumulative: list[float], count: int, exclude: int
) -> list[int]:
    """``count`` distinct indices drawn by weight (``cumulative`` sums), never ``exclude``."""
    chosen: dict[int, None] = {}
    total = cumulative[-1]
    while len(chosen) < count:
        index = bisect.bisect_right(cumulative, rng.random() * total)
        index = min(index, len(cumulative) - 1)
        if index != exclude:
            chosen[index] = None
    return sorted(chosen)


def _posts(rng: random.Random, popularity: list[float], users: int) -> list[int]:
    """Posts per user: a multinomial draw weighted by popularity (damped) times a
    heavy-tailed keenness, so the popular and a few keen posters post most."""
    weights = [
        p**POSTING_POPULARITY_DAMPING * rng.paretovariate(POSTING_PARETO_ALPHA) for p in popularity
    ]
    cumulative = list(itertools.accumulate(weights))
    posts = [0] * users
    for _ in range(round(users * POSTS_PER_USER)):
        author = min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), users - 1)
        if posts[author] < POSTS_MAX:
            posts[author] += 1
    return posts


def _top_up_feeds(planned: DemoPlan, popularity: list[float]) -> None:
    """Adds posts to followees until every feed holds ``feed_target`` posts: to each
    short feed's most popular followees first, since their posts fill other feeds too.
    Only a feed that cannot be filled otherwise takes an account past ``POSTS_MAX``."""
    followers_of: list[list[int]] = [[] for _ in planned.usernames]
    for user, followees in enumerate(planned.following):
        for followee in followees:
            followers_of[followee].append(user)
    sizes = planned.feed_sizes()
    for user, followees in enumerate(planned.following):
        by_popularity = sorted(followees, key=lambda f: -popularity[f])
        while sizes[user] < planned.feed_target:
            room = [f for f in by_popularity if planned.posts[f] < POSTS_MAX] or by_popularity
            for followee in room[: planned.feed_target - sizes[user]]:
                planned.posts[followee] += 1
                for follower in followers_of[followee]:
                    sizes[follower] += 1
