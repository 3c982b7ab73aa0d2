"""Peak resident memory of media_svc and the gateway while one photo streams through
``uploadPost`` (GraphQL multipart: the gateway reads the file part and streams it to
media_svc in 256 KiB gRPC messages; media_svc writes it to S3 as a multipart upload
of 5 MiB parts).

A small and a large upload are measured in turn, a few times each: if the growth
(peak minus the resident memory just before) follows the file's size, something
holds whole files. The allocator makes single tries noisy, so the worst try counts.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

from bench.accounts import sign_up_many
from bench.report import Figure
from bench.run import BenchRun
from bench.stats import ResidentMemorySampler
from bench.uploads import UploadWatch
from harness import photos
from harness.accounts import Person

NAME = "upload_memory"
UPLOAD_POST = """
mutation($caption: String!, $file: Upload!) {
  uploadPost(caption: $caption, file: $file) { id media { status } }
}
"""
PROCESSES = ("media_svc", "gateway")
MIB = 1024 * 1024
# Room under media_svc's limit, and under the gateway's body limit for the envelope.
_UNDER_LIMIT = 64 * 1024
# How long memory is watched before an upload (its baseline) and after it.
QUIET_SECONDS = 0.3
SAMPLE_INTERVAL = 0.01
# Past one S3 part, so the first multipart upload's set-up is not measured.
WARM_UP_BYTES = 6 * MIB
FULL_TRIES = 3


@dataclass(frozen=True)
class Try:
    seconds: float
    # Per process, in KiB: the median before the upload, and the peak while it streamed.
    before: dict[str, int]
    peak: dict[str, int]

    def growth(self, name: str) -> int:
        return self.peak[name] - self.before[name]


@dataclass(frozen=True)
class Measured:
    size: int
    tries: list[Try]

    @property
    def label(self) -> str:
        return f"{self.size / MIB:.1f} MiB"

    def worst(self, name: str) -> Try:
        return max(self.tries, key=lambda one: one.growth(name))


async def run(bench: BenchRun) -> list[Figure]:
    pids = bench.target.pids(*PROCESSES)
    missing = sorted(set(PROCESSES) - set(pids))
    if missing:
        raise RuntimeError(f"no running process for {', '.join(missing)}; cannot watch memory")
    if bench.smoke:
        sizes, tries = [MIB], 1
    else:
        sizes, tries = [2 * MIB, bench.target.media.max_upload_bytes - _UNDER_LIMIT], FULL_TRIES
    bench.say(f"{NAME}: making JPEGs of {', '.join(f'{size / MIB:.1f}' for size in sizes)} MiB")
    files = [await asyncio.to_thread(photos.noisy_jpeg, size) for size in sizes]
    measured = [Measured(len(data), []) for data in files]
    async with bench.graphql() as anonymous:
        (author,) = await sign_up_many(anonymous, bench.allowance, "bench.uploader", 1)
        post_ids = []
        if not bench.smoke:
            warm_up = await asyncio.to_thread(photos.noisy_jpeg, WARM_UP_BYTES)
            post_ids.append(await _upload(author, warm_up))
        for number in range(tries):
            bench.say(f"{NAME}: try {number + 1} of {tries}")
            for data, sized in zip(files, measured, strict=True):
                post_id, one = await _measure(author, data, pids)
                post_ids.append(post_id)
                sized.tries.append(one)
        # The worker processes them after; let it finish before the next scenario.
        await _settled(bench, author, post_ids)
    return _figures(measured)


async def _measure(author: Person, data: bytes, pids: dict[str, int]) -> tuple[str, Try]:
    with ResidentMemorySampler(pids, SAMPLE_INTERVAL) as sampler:
        await asyncio.sleep(QUIET_SECONDS)
        began = time.perf_counter()
        post_id = await _upload(author, data)
        ended = time.perf_counter()
        await asyncio.sleep(QUIET_SECONDS)
    before = {name: int(statistics.median(sampler.between(name, 0, began))) for name in pids}
    peak = {name: max(sampler.between(name, began, ended + QUIET_SECONDS)) for name in pids}
    return post_id, Try(ended - began, before, peak)


async def _upload(author: Person, data: bytes) -> str:
    post = (
        await author.client.upload(
            UPLOAD_POST, {"caption": "bench upload"}, "file", ("photo.jpg", data, "image/jpeg")
        )
    )["uploadPost"]
    if post["media"]["status"] not in ("PROCESSING", "READY"):
        raise RuntimeError(f"the upload ended {post['media']['status']}")
    post_id: str = post["id"]
    return post_id


async def _settled(bench: BenchRun, author: Person, post_ids: list[str]) -> None:
    assert author.client.token is not None
    for post_id in post_ids:
        watch = UploadWatch(bench.target.gateway_url, author.client.token, post_id)
        try:
            await watch.open()
            await watch.finished(within=120)
        finally:
            await watch.close()


def _mib(kib: int) -> float:
    return kib / 1024


def _figures(measured: list[Measured]) -> list[Figure]:
    figures = []
    for name in PROCESSES:
        for sized in measured:
            worst = sized.worst(name)
            growths = ", ".join(f"+{_mib(one.growth(name)):.1f}" for one in sized.tries)
            seconds = statistics.median(one.seconds for one in sized.tries)
            figures.append(
                Figure(
                    scenario=NAME,
                    metric=f"{name} RSS peak, {sized.label} upload",
                    value=_mib(worst.peak[name]),
                    unit="MiB",
                    baseline=_mib(worst.before[name]),
                    concurrency=1,
                    notes=(
                        f"+{_mib(worst.growth(name)):.1f} MiB over before (tries: {growths}); "
                        f"upload p50 {seconds:.2f}s ({sized.size / MIB / seconds:.0f} MiB/s)"
                    ),
                    details={
                        "file_bytes": sized.size,
                        "tries": [
                            {
                                "before_kib": one.before[name],
                                "peak_kib": one.peak[name],
                                "upload_seconds": round(one.seconds, 4),
                            }
                            for one in sized.tries
                        ],
                    },
                )
            )
        if len(measured) > 1:
            small, large = measured[0], measured[-1]
            figures.append(
                Figure(
                    scenario=NAME,
                    metric=f"{name} RSS growth, {large.label} vs {small.label}",
                    value=_mib(large.worst(name).growth(name)),
                    unit="MiB",
                    baseline=_mib(small.worst(name).growth(name)),
                    concurrency=1,
                    notes=(
                        f"worst tries; a ratio near {large.size / small.size:.0f} "
                        "would mean whole files held in memory"
                    ),
                )
            )
    return figures
