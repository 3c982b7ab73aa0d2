"""Generates the committed Python stubs from protos/, or checks they are current.

    python -m infra.protos generate   # rewrite pictor/<svc>/v1/*_pb2*.py[i]
    python -m infra.protos check      # exit 1 if the committed stubs are stale

Messages get ``*_pb2.py`` and mypy-protobuf ``.pyi`` stubs; services get
``*_pb2_grpc.py`` and ``.pyi`` stubs. Imports follow the proto packages
(``pictor.graph.v1``), so the output root is the repository root.
"""

from __future__ import annotations

import filecmp
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "protos"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _proto_files() -> list[Path]:
    return sorted(PROTO_ROOT.rglob("*.proto"))


def _generated_files(root: Path) -> set[Path]:
    """Generated stubs and the package markers beside them, relative to root."""
    found: set[Path] = set()
    for proto in _proto_files():
        package_dir = proto.parent.relative_to(PROTO_ROOT)
        stem = proto.stem
        found.update(package_dir / f"{stem}{suffix}" for suffix in GENERATED_SUFFIXES)
        for parent in [package_dir, *package_dir.parents][:-1]:
            found.add(parent / "__init__.py")
    return {path for path in found if (root / path).exists()}


def _generate(out: Path) -> None:
    bin_dir = Path(sys.executable).parent
    well_known = resources.files("grpc_tools") / "_proto"
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        "--mypy_opt=quiet",
        "--mypy_grpc_opt=quiet",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *(str(p.relative_to(PROTO_ROOT)) for p in _proto_files()),
    ]
    subprocess.run(command, check=True, cwd=PROTO_ROOT)
    for proto in _proto_files():
        package_dir = out / proto.parent.relative_to(PROTO_ROOT)
        while package_dir != out:
            (package_dir / "__init__.py").touch()
            package_dir = package_dir.parent
    # The root package (pictor/) is hand-written; keep its own __init__.py.
    for top in {p.relative_to(PROTO_ROOT).parts[0] for p in _proto_files()}:
        (out / top / "__init__.py").unlink()


def _stale(fresh: Path) -> list[str]:
    wanted = _generated_files(fresh)
    present = {
        path.relative_to(ROOT)
        for path in ROOT.glob("pictor/*/v1/*")
        if path.name.endswith(GENERATED_SUFFIXES)
    }
    problems = [f"missing {path}" for path in sorted(wanted) if not (ROOT / path).exists()]
    problems += [f"not generated from any proto: {path}" for path in sorted(present - wanted)]
    problems += [
        f"differs: {path}"
        for path in sorted(wanted)
        if (ROOT / path).exists() and not filecmp.cmp(fresh / path, ROOT / path, shallow=False)
    ]
    return problems


def main(argv: list[str]) -> int:
    if argv not in (["generate"], ["check"]):
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        _generate(fresh)
        if argv == ["check"]:
            problems = _stale(fresh)
            for problem in problems:
                print(f"protos: {problem}", file=sys.stderr)
            if problems:
                print("protos: stubs are stale; run `make protos` and commit", file=sys.stderr)
                return 1
            print("protos: stubs match protos/")
            return 0
        for path in ROOT.glob("pictor/*/v1/*"):
            if path.name.endswith(GENERATED_SUFFIXES):
                path.unlink()
        for path in _generated_files(fresh):
            (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh / path, ROOT / path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
