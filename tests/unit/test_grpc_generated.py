"""The committed gRPC code is what ``make proto`` makes of proto/stockline/v1 now: a proto
changed without regenerating (or generated code edited by hand) fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "stockline" / "entrypoints" / "grpc" / "v1"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("proto_generate", ROOT / "proto" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_generated_code_is_current(tmp_path: Path) -> None:
    made = generator().generate(tmp_path)
    names = sorted(path.name for path in made)
    committed = sorted(path.name for path in COMMITTED.iterdir() if path.is_file()
                       and path.suffix in (".py", ".pyi"))
    assert committed == names, "run `make proto` and commit the result"
    stale = [path.name for path in made
             if path.read_bytes() != (COMMITTED / path.name).read_bytes()]
    assert not stale, f"stale generated code: {stale}; run `make proto` and commit the result"


def test_every_proto_file_is_generated(tmp_path: Path) -> None:
    protos = sorted(p.stem for p in (ROOT / "proto" / "stockline" / "v1").glob("*.proto"))
    made = {path.name for path in generator().generate(tmp_path)}
    for stem in protos:
        assert {f"{stem}_pb2.py", f"{stem}_pb2.pyi", f"{stem}_pb2_grpc.py"} <= made, stem
