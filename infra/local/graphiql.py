"""GraphiQL's browser bundle, fetched from the npm registry so the gateway serves it
itself (no CDN: the page works offline and under a strict Content-Security-Policy).

``npm pack`` downloads each pinned package's tarball (nothing is installed or run);
its sha512 integrity is checked against the pin, and only the files the page loads
are kept, in ``gateway.graphiql.ASSETS``. GraphiQL 3's UMD bundle carries
everything of its own (CodeMirror, graphql-js, graphql-ws) and expects React 18's
UMD builds beside it.

    python -m infra.local.graphiql     # what `make up` and the test suite do
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gateway.graphiql import ASSETS, GRAPHIQL_VERSION, REACT_VERSION


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    # `npm view <name>@<version> dist.integrity`
    integrity: str
    # path in the tarball (under package/) -> file name served by the gateway
    files: dict[str, str]


PACKAGES = (
    Package(
        "graphiql",
        GRAPHIQL_VERSION,
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        {"graphiql.min.js": "graphiql.min.js", "graphiql.min.css": "graphiql.min.css"},
    ),
    Package(
        "react",
        REACT_VERSION,
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        {"umd/react.production.min.js": "react.production.min.js"},
    ),
    Package(
        "react-dom",
        REACT_VERSION,
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        {"umd/react-dom.production.min.js": "react-dom.production.min.js"},
    ),
)


def installed(assets: Path = ASSETS) -> bool:
    return all((assets / name).is_file() for package in PACKAGES for name in package.files.values())


def install(assets: Path = ASSETS) -> Path:
    """The asset folder, filled from the npm registry unless it is already complete."""
    if installed(assets):
        return assets
    print(f"pictor: fetching GraphiQL {GRAPHIQL_VERSION} from the npm registry", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        staging = Path(scratch) / "assets"
        staging.mkdir()
        for package in PACKAGES:
            _unpack(package, _pack(package, Path(scratch)), staging)
        assets.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(assets, ignore_errors=True)
        shutil.move(staging, assets)
    return assets


def _pack(package: Package, into: Path) -> Path:
    spec = f"{package.name}@{package.version}"
    command = ["npm", "pack", "--silent", "--pack-destination", str(into), spec]
    filename = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    tarball = into / filename.strip().splitlines()[-1]
    algorithm, _, expected = package.integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        raise RuntimeError(f"{spec}: the tarball's {algorithm} is not the pinned one")
    return tarball


def _unpack(package: Package, tarball: Path, into: Path) -> None:
    with tarfile.open(tarball) as archive:
        for inside, name in package.files.items():
            member = archive.extractfile(f"package/{inside}")
            if member is None:
                raise RuntimeError(f"{package.name}@{package.version} has no {inside}")
            (into / name).write_bytes(member.read())


if __name__ == "__main__":
    install()
