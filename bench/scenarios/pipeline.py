"""Renditions per second for 12 MP JPEGs (8 each: four sizes, JPEG and WebP), four ways
on the same files:

(a) the media worker end to end: upload, confirm, until the last READY over uploadStatus;
(b) ``renditions.process`` in this process, on as many threads as the worker takes
    photos at once: libvips through pyvips with no I/O, queue or database;
(c) the ``vipsthumbnail`` CLI (no Python), two processes at once: one decode per photo
    (shrunk once to 1080 wide, every rendition from that, as (b) does), the ceiling (a)
    and (b) are judged against; and a decode per rendition, as plain use would be;
(d) thumbor (peer, Pillow): the same renditions over HTTP, two clients at once.

And the peak resident memory of each, against vipsthumbnail's.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyvips

from bench import machine, peers
from bench.accounts import sign_up_many
from bench.peers import (
    JPEG_QUALITY,
    THUMB,
    WEBP_EFFORT,
    WEBP_QUALITY,
    WIDTHS,
    PeerUnavailable,
    Server,
)
from bench.peers import thumbor as thumbor_peer
from bench.report import Figure
from bench.run import BenchRun
from bench.stats import (
    CpuMeter,
    ResidentMemorySampler,
    children_cpu_seconds,
    describe_cpu,
    percentile,
    resident_kib,
)
from bench.uploads import UploadWatch
from harness import photos
from harness.accounts import Person
from infra.local import stack

# The function the media worker runs on each photo, timed here without the worker.
from media_svc.renditions import process

NAME = "pipeline"
RENDITIONS_PER_PHOTO = 8
CREATE_POST = """
mutation { createPost(caption: "bench pipeline", contentType: "image/jpeg") {
  post { id } uploadUrl uploadHeaders { name value } } }
"""
CONFIRM = "mutation($id: ID!) { confirmUpload(postId: $id) { id } }"
RENDITIONS = "query($id: ID!) { post(id: $id) { media { renditions { name width } } } }"
PUT_CONCURRENCY = 4
CLI_PROCESSES = 2
PROCESSES = ("media_worker", "media_svc", "post_svc", "gateway", "minio", "cassandra")
# thumbor: two clients, each a request at a time, against two forked thumbor processes
# (one per core) that each work on one image at a time (no engine thread pool: Pillow
# holds the GIL for much of the work, so threads in one process do not add up).
THUMBOR_CLIENTS = 2
THUMBOR_PROCESSES = 2


@dataclass(frozen=True)
class Photos:
    count: int
    width: int
    height: int


FULL = Photos(count=20, width=4000, height=3000)
SMOKE = Photos(count=1, width=1200, height=900)


@dataclass(frozen=True)
class Rate:
    renditions: int
    seconds: float
    cpu: dict[str, float]
    # Peak resident memory of what did the work (MiB), and what that figure covers.
    peak_mib: float | None = None
    memory: str = ""

    @property
    def per_second(self) -> float:
        return self.renditions / self.seconds

    def figure(
        self,
        metric: str,
        baseline: float | None,
        concurrency: int,
        notes: str,
        details: dict[str, object] | None = None,
    ) -> Figure:
        """Renditions per second, with the cores each process used in the notes."""
        return Figure(
            scenario=NAME,
            metric=metric,
            value=self.per_second,
            unit="/s",
            baseline=baseline,
            concurrency=concurrency,
            notes=f"{notes}; {describe_cpu(self.cpu)}",
            details={
                "renditions": self.renditions,
                "seconds": round(self.seconds, 4),
                "cpu_cores": {name: round(share, 3) for name, share in self.cpu.items()},
                **(details or {}),
            },
        )


async def run(bench: BenchRun) -> list[Figure]:
    wanted = SMOKE if bench.smoke else FULL
    bench.say(f"{NAME}: {wanted.count} photos of {wanted.width}x{wanted.height}")
    files = await asyncio.to_thread(photos.photo_files, wanted.count, wanted.width, wanted.height)
    originals = await asyncio.to_thread(lambda: [path.read_bytes() for path in files])
    average_mb = sum(map(len, originals)) / len(originals) / 1e6
    threads = bench.target.media.worker_concurrency

    bench.say(f"{NAME}: (a) through the media worker")
    worker, photo_seconds = await _through_worker(bench, originals)
    bench.say(f"{NAME}: (b) renditions.process in-process on {threads} threads")
    in_process = await asyncio.to_thread(
        _in_process, originals, threads, bench.target.media.max_pixels
    )
    bench.say(f"{NAME}: (c) vipsthumbnail, {CLI_PROCESSES} processes")
    cli, cli_note = await _vipsthumbnail(bench, files)
    bench.say(f"{NAME}: (d) thumbor, {THUMBOR_CLIENTS} clients")
    thumbor = await _thumbor(bench, files)

    ceiling = cli.decoded_once.per_second if cli else None
    photo_notes = (
        f"{wanted.count} x {wanted.width}x{wanted.height} Q{photos.PHOTO_QUALITY}, "
        f"avg {average_mb:.1f} MB"
    )
    return [
        worker.figure(
            "media worker, end to end (renditions/s)",
            ceiling,
            threads,
            f"{photo_notes}; first confirm to last READY {worker.seconds:.1f}s; "
            f"confirm to READY p50 {percentile(photo_seconds, 0.5):.2f}s, "
            f"max {max(photo_seconds):.2f}s",
            {"confirm_to_ready_seconds": photo_seconds},
        ),
        in_process.figure(
            "renditions.process in-process (renditions/s)",
            ceiling,
            threads,
            f"worker/in-process {worker.per_second / in_process.per_second:.2f}x",
        ),
        *_cli_figures(cli, cli_note, ceiling),
        _thumbor_figure(thumbor, worker, in_process, ceiling),
        *_memory_figures(worker, in_process, cli, thumbor, threads),
    ]


def _cli_figures(cli: CliRates | None, cli_note: str, ceiling: float | None) -> list[Figure]:
    if cli is None:
        return [Figure(NAME, "vipsthumbnail CLI (renditions/s)", None, "/s", notes=cli_note)]
    versions = f"libvips {cli_note} (Debian) here, {machine.pyvips_libvips()} in pyvips-binary"
    libvips: dict[str, object] = {"libvips": cli_note}
    return [
        cli.decoded_once.figure(
            "vipsthumbnail CLI, one decode per photo (renditions/s)",
            None,
            CLI_PROCESSES,
            versions,
            libvips,
        ),
        cli.decoded_each.figure(
            "vipsthumbnail CLI, a decode per rendition (renditions/s)",
            ceiling,
            CLI_PROCESSES,
            "8 shrink-on-load JPEG decodes per photo",
            libvips,
        ),
    ]


def _memory_figures(
    worker: Rate, in_process: Rate, cli: CliRates | None, thumbor: ThumborRun, threads: int
) -> list[Figure]:
    """Peak resident memory of each way, against vipsthumbnail's (one decode per photo)."""
    ceiling = cli.decoded_once if cli else None
    rows = [
        ("media worker, peak resident memory", worker, threads),
        ("renditions.process in-process, peak resident memory", in_process, threads),
        ("vipsthumbnail CLI, one decode per photo, peak resident memory", ceiling, CLI_PROCESSES),
        ("thumbor, peak resident memory", thumbor.rate, THUMBOR_PROCESSES),
    ]
    return [
        Figure(
            scenario=NAME,
            metric=metric,
            value=rate.peak_mib if rate else None,
            unit="MiB",
            baseline=None if rate is ceiling or ceiling is None else ceiling.peak_mib,
            concurrency=concurrency,
            notes=rate.memory if rate else "not measured: see its renditions/s row",
        )
        for metric, rate, concurrency in rows
    ]


# ---------------------------------------------------------------- (a) the worker


async def _through_worker(bench: BenchRun, originals: list[bytes]) -> tuple[Rate, list[float]]:
    async with bench.graphql() as anonymous, httpx.AsyncClient(timeout=60) as storage:
        (author,) = await sign_up_many(anonymous, bench.allowance, "bench.pipeline", 1)
        slots = asyncio.Semaphore(PUT_CONCURRENCY)

        async def uploaded(original: bytes) -> str:
            async with slots:
                created = (await author.client.data(CREATE_POST))["createPost"]
                headers = {header["name"]: header["value"] for header in created["uploadHeaders"]}
                put = await storage.put(created["uploadUrl"], content=original, headers=headers)
                put.raise_for_status()
                post_id: str = created["post"]["id"]
                return post_id

        post_ids = list(await asyncio.gather(*(uploaded(original) for original in originals)))
        assert author.client.token is not None
        watches = [
            UploadWatch(bench.target.gateway_url, author.client.token, id_) for id_ in post_ids
        ]
        await asyncio.gather(*(watch.open() for watch in watches))
        try:
            return await _confirm_and_wait(bench, author, post_ids, watches)
        finally:
            await asyncio.gather(*(watch.close() for watch in watches))


async def _confirm_and_wait(
    bench: BenchRun, author: Person, post_ids: list[str], watches: list[UploadWatch]
) -> tuple[Rate, list[float]]:
    """Every photo confirmed at once, timed until the last READY arrives."""
    meter = CpuMeter(bench.target.pids(*PROCESSES))
    confirmed_at: dict[str, float] = {}

    async def confirm(post_id: str) -> None:
        confirmed_at[post_id] = time.perf_counter()
        await author.client.data(CONFIRM, {"id": post_id})

    # Wall time, idle threads included: the worker's thread waits while libvips' own
    # threads (which py-spy does not see) decode and encode.
    worker_pid = bench.target.pids("media_worker")
    profiled = bench.profiler.profiling(f"{NAME}: media worker", worker_pid, idle=True)
    idle_kib = sum(resident_kib(pid) or 0 for pid in worker_pid.values())
    with ResidentMemorySampler(worker_pid) as memory:
        async with profiled:
            meter.start()
            first_confirm = time.perf_counter()
            await asyncio.gather(*(confirm(post_id) for post_id in post_ids))
            within = 120 + 10 * len(post_ids)
            statuses = await asyncio.gather(*(watch.finished(within) for watch in watches))
            last_ready = max(watch.finished_at or 0.0 for watch in watches)
            cpu = meter.stop()
    failed = [
        watch.message for watch, status in zip(watches, statuses, strict=True) if status != "READY"
    ]
    if failed:
        raise RuntimeError(f"{len(failed)} photos FAILED, first because: {failed[0]}")
    made = 0
    for post_id in post_ids:
        media = (await author.client.data(RENDITIONS, {"id": post_id}))["post"]["media"]
        made += len(media["renditions"])
        sizes = {rendition["name"]: rendition["width"] for rendition in media["renditions"]}
        if sizes != {"thumb": THUMB, **WIDTHS}:
            raise RuntimeError(f"the worker made {sizes}, not what the peers are asked for")
    photo_seconds = [
        round((watch.finished_at or 0.0) - confirmed_at[post_id], 4)
        for watch, post_id in zip(watches, post_ids, strict=True)
    ]
    rate = Rate(
        made,
        last_ready - first_confirm,
        cpu,
        memory.peak_total_kib / 1024,
        _grown("the media_worker process", idle_kib, memory.peak_total_kib),
    )
    return rate, photo_seconds


def _grown(process: str, before_kib: int, peak_kib: int) -> str:
    return (
        f"{process}, {before_kib / 1024:.0f} MiB before the photos "
        f"(+{(peak_kib - before_kib) / 1024:.0f} MiB)"
    )


# ---------------------------------------------------------------- (b) in-process


def _in_process(originals: list[bytes], threads: int, max_pixels: int) -> Rate:
    # As the worker does: every upload is unique, libvips' cache would only hold memory.
    cache_max = pyvips.cache_get_max()
    pyvips.cache_set_max(0)
    meter = CpuMeter()
    before_kib = resident_kib(os.getpid()) or 0
    try:
        with ResidentMemorySampler({"bench": os.getpid()}) as memory:
            meter.start()
            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                # Each photo's renditions are counted and dropped, as the worker
                # stores and drops them.
                made = sum(
                    pool.map(
                        lambda data: len(process(data, max_pixels).renditions),
                        originals,
                    )
                )
            seconds = time.perf_counter() - began
            cpu = meter.stop()
    finally:
        pyvips.cache_set_max(cache_max)
    return Rate(
        made,
        seconds,
        cpu,
        memory.peak_total_kib / 1024,
        _grown("this (the bench) process", before_kib, memory.peak_total_kib),
    )


# ---------------------------------------------------------------- (c) vipsthumbnail


def _cli_outputs(libvips: str) -> list[tuple[str, str]]:
    """(size, output format) per rendition, with the service's encoder settings."""
    major, minor = (int(part) for part in libvips.split(".")[:2])
    # libvips 8.15 replaced `strip` with `keep`.
    no_metadata = "keep=none" if (major, minor) >= (8, 15) else "strip"
    jpeg = f"jpg[Q={JPEG_QUALITY},optimize_coding,{no_metadata}]"
    webp = f"webp[Q={WEBP_QUALITY},effort={WEBP_EFFORT},{no_metadata}]"
    sizes = [("thumb", f"{THUMB}x{THUMB}")] + [
        (name, f"{width}x>") for name, width in WIDTHS.items()
    ]
    return [(size, f"%s_{name}.{encoding}") for name, size in sizes for encoding in (jpeg, webp)]


async def _vipsthumbnail(bench: BenchRun, files: list[Path]) -> tuple[CliRates | None, str]:
    """The CLI's rates and its libvips version; None and why when it is not here."""
    if shutil.which("vipsthumbnail") is None:
        if bench.smoke:
            return None, "vipsthumbnail not installed (smoke runs never install it)"
        bench.say(f"{NAME}: installing vipsthumbnail (apt-get install libvips-tools)")
        await asyncio.to_thread(stack.install_debian_package, "vipsthumbnail", "libvips-tools")
    libvips = await asyncio.to_thread(machine.vipsthumbnail_libvips)
    if libvips is None:
        raise RuntimeError("vipsthumbnail is on PATH but does not report its libvips version")
    outputs = _cli_outputs(libvips)
    decoded_once = await asyncio.to_thread(_thumbnail_all, files, outputs, True)
    decoded_each = await asyncio.to_thread(_thumbnail_all, files, outputs, False)
    return CliRates(decoded_once, decoded_each), libvips


@dataclass(frozen=True)
class CliRates:
    # JPEG decoded once per photo to 1080 wide (as renditions.process does), every
    # rendition made from that.
    decoded_once: Rate
    # Every rendition from the JPEG, with shrink-on-load: 8 decodes per photo.
    decoded_each: Rate


def _thumbnail_all(files: list[Path], outputs: list[tuple[str, str]], decode_once: bool) -> Rate:
    lanes = [lane for lane in (files[i::CLI_PROCESSES] for i in range(CLI_PROCESSES)) if lane]
    with (
        tempfile.TemporaryDirectory(prefix="pictor-bench-cli-") as folder,
        tempfile.TemporaryDirectory(prefix="pictor-bench-decoded-") as decoded,
    ):
        in_folder = [(size, f"{folder}/{name}") for size, name in outputs]
        meter = CpuMeter()
        meter.start()
        children_before = children_cpu_seconds()
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            peaks = list(
                pool.map(
                    lambda lane: _thumbnail_lane(
                        lane, in_folder, Path(decoded) if decode_once else None
                    ),
                    lanes,
                )
            )
        seconds = time.perf_counter() - began
        cpu = meter.stop()
        cpu["vipsthumbnail"] = (children_cpu_seconds() - children_before) / seconds
        made = len(list(Path(folder).iterdir()))
    expected = len(files) * RENDITIONS_PER_PHOTO
    if made != expected:
        raise RuntimeError(f"vipsthumbnail wrote {made} files, not {expected}")
    # The lanes run side by side: at most the sum of their largest runs at once.
    peak = sum(peaks) / 1024
    return Rate(
        made,
        seconds,
        cpu,
        peak,
        f"{len(lanes)} processes at once, {max(peaks) / 1024:.0f} MiB at most each",
    )


def _thumbnail_lane(files: list[Path], outputs: list[tuple[str, str]], decoded: Path | None) -> int:
    """One process at a time, each making one size and format of every file in the lane
    (vipsthumbnail makes one output per input per run). With ``decoded``, the photos
    are first shrunk once to 1080 wide into uncompressed .v files there, which the
    renditions are then made from. Returns the largest peak memory of its runs (KiB)."""
    peak = 0
    if decoded is not None:
        large = f"{WIDTHS['large']}x>"
        peak = _vipsthumbnail_run(large, f"{decoded}/%s.v", files)
        files = [decoded / f"{path.stem}.v" for path in files]
    for size, output in outputs:
        peak = max(peak, _vipsthumbnail_run(size, output, files))
    return peak


def _vipsthumbnail_run(size: str, output: str, files: list[Path]) -> int:
    """Runs one vipsthumbnail; returns its peak resident memory in KiB (its own
    getrusage, through wait4: no sampling can miss a short-lived process's peak)."""
    command = ["vipsthumbnail", "--size", size, "--output", output, *map(str, files)]
    if not size.endswith(">"):
        command += ["--smartcrop", "centre"]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise subprocess.CalledProcessError(
                process.returncode, command, stderr=errors.read().decode(errors="replace")
            )
    return int(usage.ru_maxrss)


# ---------------------------------------------------------------- (d) thumbor


@dataclass(frozen=True)
class ThumborRun:
    rate: Rate | None
    # The versions when measured, else why not.
    note: str
    versions: dict[str, str]


def _thumbor_paths(files: list[Path]) -> list[tuple[str, str, int, int | None]]:
    """(URL path, content type, width, height or None) of every rendition: thumbor's
    default crop is centred (no /smart/), a 0 height keeps the aspect ratio."""
    sizes = [(f"{THUMB}x{THUMB}", THUMB, THUMB)] + [
        (f"{width}x0", width, None) for width in WIDTHS.values()
    ]
    formats = [("", "image/jpeg"), ("filters:format(webp)/", "image/webp")]
    return [
        (f"/unsafe/{size}/{filters}{path.name}", content_type, width, height)
        for path in files
        for size, width, height in sizes
        for filters, content_type in formats
    ]


async def _thumbor(bench: BenchRun, files: list[Path]) -> ThumborRun:
    """thumbor's rate on the same files, installing it first on a full run."""
    try:
        done = await peers.ready("thumbor", thumbor_peer.installed, thumbor_peer.install, bench)
    except PeerUnavailable as error:
        return ThumborRun(None, str(error), {})
    versions = {"thumbor": done.thumbor, "Pillow": done.pillow}
    try:
        async with thumbor_peer.serving(files[0].parent, THUMBOR_PROCESSES) as server:
            rate = await _through_thumbor(server, files)
    except PeerUnavailable as error:
        return ThumborRun(None, str(error), versions)
    except (httpx.HTTPError, RuntimeError, pyvips.Error) as error:
        # thumbor answered, but not as asked: its figure is missing, ours stand.
        return ThumborRun(None, f"thumbor failed: {type(error).__name__}: {error}", versions)
    return ThumborRun(rate, f"thumbor {done.thumbor}, Pillow {done.pillow}", versions)


async def _through_thumbor(server: Server, files: list[Path]) -> Rate:
    wanted = _thumbor_paths(files)
    queue = list(enumerate(wanted))
    bodies: dict[int, tuple[str, bytes]] = {}
    # A connection per request: a kept-alive one stays with the forked process that
    # accepted it, and both clients' often land on the same one, leaving the other idle.
    limits = httpx.Limits(max_connections=THUMBOR_CLIENTS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as http:

        async def client() -> None:
            while queue:
                index, (path, _, _, _) = queue.pop(0)
                response = await http.get(path, headers={"Connection": "close"})
                if response.status_code != 200:
                    raise RuntimeError(f"thumbor answered {response.status_code} to {path}")
                bodies[index] = (response.headers.get("content-type", ""), response.content)

        serving = server.pids()
        meter = CpuMeter(serving)
        with ResidentMemorySampler(serving) as memory:
            meter.start()
            began = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(THUMBOR_CLIENTS)))
            seconds = time.perf_counter() - began
            cpu = meter.stop()
    for index, (path, content_type, width, height) in enumerate(wanted):
        got_type, body = bodies[index]
        image = pyvips.Image.new_from_buffer(body, "", access="sequential")
        if got_type != content_type or image.width != width or height not in (None, image.height):
            raise RuntimeError(
                f"thumbor made {got_type} {image.width}x{image.height} for {path}, "
                f"not {content_type} {width}x{height or '?'}"
            )
    return Rate(
        len(wanted),
        seconds,
        cpu,
        memory.peak_total_kib / 1024,
        f"its {len(serving)} processes (the parent and its forks) together",
    )


def _thumbor_figure(
    thumbor: ThumborRun, worker: Rate, in_process: Rate, ceiling: float | None
) -> Figure:
    metric = "thumbor, a decode per rendition (renditions/s)"
    if thumbor.rate is None:
        return Figure(NAME, metric, None, "/s", notes=thumbor.note)
    rate = thumbor.rate
    ours = (
        f"ours/thumbor: renditions.process {in_process.per_second / rate.per_second:.2f}x, "
        f"media worker {worker.per_second / rate.per_second:.2f}x"
    )
    setup = (
        f"{thumbor.note}; {THUMBOR_CLIENTS} clients, {THUMBOR_PROCESSES} forked processes, "
        "no thread pool, a connection per request; file loader, no storage, result storage "
        "or detectors; JPEG Q82 optimized, WebP Q80 at Pillow's method 4 (ours: effort 2)"
    )
    return rate.figure(
        metric,
        ceiling,
        THUMBOR_CLIENTS,
        f"{ours}; {setup}",
        {
            "versions": thumbor.versions,
            "processes": THUMBOR_PROCESSES,
            "ours_over_thumbor": {
                "renditions_process": round(in_process.per_second / rate.per_second, 4),
                "media_worker": round(worker.per_second / rate.per_second, 4),
            },
        },
    )
