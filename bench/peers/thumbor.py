"""thumbor, the Python image server (Tornado + Pillow), as the pipeline's peer.

Installed from PyPI into a virtualenv of its own, ``.pictor/peers/thumbor-venv`` (made
with this interpreter's base Python, so nothing goes into the project's ``.venv``).
Its wheels carry their C extensions and Pillow brings libjpeg and libwebp, so no
system library is needed.

Served on a free localhost port with a minimal configuration: the file loader reading
the benchmark's photos, no storage of originals, no result storage, no detectors, no
optimizers; the service's encoder settings where thumbor has them (JPEG Q82 not
progressive with optimized Huffman tables, WebP Q80; metadata not kept).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import peers
from harness.net import free_port

VERSION = "7.8.0"
VENV = peers.PEERS_DIR / "thumbor-venv"
_MARKER = VENV / "pictor-installed.json"
_BIN = VENV / "bin"


@dataclass(frozen=True)
class Installed:
    thumbor: str
    pillow: str


def installed() -> Installed | None:
    """The versions of a completed install of the pinned thumbor, or None."""
    facts = peers.read_marker(_MARKER)
    if not facts or facts.get("thumbor") != VERSION or not (_BIN / "thumbor").exists():
        return None
    return Installed(facts["thumbor"], facts.get("pillow", "?"))


def install() -> Installed:
    """``python -m venv`` + ``pip install thumbor==VERSION``; raises PeerUnavailable with
    the error when that fails here."""
    return peers.installed_once("thumbor", installed, _MARKER, _install)


def _install(log: Path) -> Installed:
    # A venv is not relocatable, so it is made in place; the marker says it is whole.
    peers.run_logged([sys.executable, "-m", "venv", "--clear", VENV], log)
    pip = [str(_BIN / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    peers.run_logged([*pip, "install", "-q", f"thumbor=={VERSION}"], log)
    version = peers.run_logged([_BIN / "thumbor", "--version"], log).strip()
    if VERSION not in version:
        raise peers.PeerUnavailable(f"installed thumbor says {version!r}, not {VERSION}")
    pillow = peers.run_logged(
        [_BIN / "python", "-c", "import PIL; print(PIL.__version__)"], log
    ).strip()
    peers.write_marker(_MARKER, {"thumbor": VERSION, "pillow": pillow})
    return Installed(VERSION, pillow)


def config(photos: Path, threadpool: int) -> str:
    return "\n".join(
        [
            "LOADER = 'thumbor.loaders.file_loader'",
            f"FILE_LOADER_ROOT_PATH = {str(photos)!r}",
            "STORAGE = 'thumbor.storages.no_storage'",
            "RESULT_STORAGE = None",
            "DETECTORS = []",
            "OPTIMIZERS = []",
            f"QUALITY = {peers.JPEG_QUALITY}",
            f"WEBP_QUALITY = {peers.WEBP_QUALITY}",
            "PROGRESSIVE_JPEG = False",
            "RESPECT_ORIENTATION = True",
            "PRESERVE_EXIF_INFO = False",
            "AUTO_WEBP = False",
            f"ENGINE_THREADPOOL_SIZE = {threadpool}",
            "MAX_WAIT_SECONDS_BEFORE_SERVER_SHUTDOWN = 0",
            "MAX_WAIT_SECONDS_BEFORE_IO_SHUTDOWN = 0",
            "",
        ]
    )


@asynccontextmanager
async def serving(photos: Path, processes: int, threadpool: int = 0) -> AsyncIterator[peers.Server]:
    """thumbor serving the files in ``photos`` on a free port, ``processes`` forked
    workers sharing the listening socket; stopped (every process) on the way out."""
    if installed() is None:
        raise peers.PeerUnavailable(f"thumbor {VERSION} is not installed in {VENV}")
    with tempfile.TemporaryDirectory(prefix="pictor-thumbor-") as folder:
        conf = Path(folder) / "thumbor.conf"
        conf.write_text(config(photos, threadpool))
        port = free_port()
        command = [
            str(_BIN / "thumbor"),
            *("--conf", str(conf), "--ip", "127.0.0.1", "--port", str(port)),
            *("--processes", str(processes), "--log-level", "warning"),
        ]
        server = peers.Server.start(
            "thumbor", command, f"http://127.0.0.1:{port}", cwd=Path(folder)
        )
        try:
            await server.ready("/healthcheck")
            # With more than one, the workers are forked: wait until all are there.
            await server.spawned(processes + 1 if processes > 1 else 1)
            yield server
        finally:
            server.stop()
