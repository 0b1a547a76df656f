"""The sensor's loops run from the module built ahead of time, without numba, and give the same
events as numba's JIT on real captures of every link type."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sensor import kernels
from tests.utils.pcaps import PCAPS, manifest


def biggest(rows: list[dict[str, str]], most: int = 60_000) -> Path:
    """The capture with the most packets, up to ``most``."""
    fitting = [row for row in rows if int(row["packets"]) <= most]
    return PCAPS / max(fitting, key=lambda row: int(row["packets"]))["path"]


PER_LINK_TYPE = {kind: biggest([r for r in manifest() if r["linktype"] == kind])
                 for kind in {row["linktype"] for row in manifest()}}
GTP = biggest([r for r in manifest() if "gtpv1-u" in r["protocols_found"]])
REPLAY = """
import sys
from console.cli import main
code = main(["replay", *sys.argv[1:]])
print("numba" in sys.modules)
sys.exit(code)
"""


def replay(captures: list[Path], out: Path, cwd: Path, backend: str | None = None
           ) -> tuple[bytes, bool]:
    """The JSON lines of a replay, and whether it imported numba."""
    env = dict(os.environ)
    env.pop("LIAOWANG_KERNELS", None)
    if backend:
        env["LIAOWANG_KERNELS"] = backend
    done = subprocess.run([sys.executable, "-c", REPLAY, *map(str, captures), "--jsonl",
                           str(out)], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return out.read_bytes(), done.stdout.strip().splitlines()[-1] == "True"


def test_the_module_built_for_these_sources_is_there() -> None:
    assert kernels.backend() == "aot", "run `python -m sensor.kernels build` (make does it)"


def test_built_and_jit_loops_give_the_same_events(tmp_path: Path) -> None:
    captures = sorted({*PER_LINK_TYPE.values(), GTP})
    assert len(PER_LINK_TYPE) >= 4
    built, numba_for_built = replay(captures, tmp_path / "built.jsonl", tmp_path)
    jit, numba_for_jit = replay(captures, tmp_path / "jit.jsonl", tmp_path, "jit")
    assert (numba_for_built, numba_for_jit) == (False, True)
    assert built.count(b'"dataset":"flow"') > 1000
    assert built == jit


def test_an_edited_kernel_source_changes_the_key(tmp_path: Path, monkeypatch) -> None:
    key = kernels.module_key()
    copy = tmp_path / "sensor"
    copy.mkdir()
    for name in (*(module.rsplit(".", 1)[1] for module in kernels.KERNEL_MODULES), "kernels"):
        (copy / f"{name}.py").write_bytes((Path(kernels.__file__).parent / f"{name}.py")
                                          .read_bytes())
    monkeypatch.setattr(kernels, "_HERE", copy)
    assert kernels.module_key() == key
    flows = copy / "flows.py"
    flows.write_text(flows.read_text() + "\n# an edit\n")
    assert kernels.module_key() != key
