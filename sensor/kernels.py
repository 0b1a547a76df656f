"""The sensor's compiled loops: built ahead of time into an extension module, or by numba's JIT.

The loops over whole blocks (indexing a pcap file, decoding headers, the flow table) are
numba functions. Loading them through numba at run time costs about 1.5 s at every start:
numba itself, its code generator and, through a BLAS check, ``scipy.linalg``. That is a third
of a flow-metering replay of a million packets. ``python -m sensor.kernels build`` (run by
``make``) compiles the entry points ahead of time with numba's ``pycc`` into
``sensor/_kernels_<key>.so``, whose import takes a tenth of a second and no numba. The key is
made from the sources of the kernel modules and the versions of numpy and Python, so an edit
or an upgrade makes the sensor fall back to the JIT until the next build.

Kernels run without numba's reference counting (``_nrt=False``, and ``use_nrt`` off in the
built module): they allocate nothing, their callers pass every array in. With it, every helper
a loop called for every packet took and dropped an atomic reference to each array it was
passed, inlined (``inline="always"``) or not, and those counts cost more than the decoding did:
164 ns a packet against 78 without, on a block of the benchmark's packets. Without it,
``inline="always"`` is also the only way a built module inlines a helper (pycc links the
helpers in after it has optimised the entry points), and an array row is copied element by
element (a view would need a count).

Kernel modules decorate their functions with :func:`njit` from here instead of numba's. Until a
kernel is first called nothing is compiled or imported; then an entry point is taken from the
built module when there is one, and otherwise every kernel becomes a numba function (the
module globals are swapped, so that kernels calling kernels find numba functions).
``LIAOWANG_KERNELS=jit`` forces the JIT.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

KERNEL_MODULES = ("sensor.capture", "sensor.columnar", "sensor.flows", "sensor.live")
ENTRY_POINTS = {   # exported name: (module, function)
    "index_pcap": ("sensor.capture", "_index_pcap"),
    "index_pcapng": ("sensor.capture", "_index_pcapng"),
    "index_ring": ("sensor.live", "_index_ring"),
    "decode": ("sensor.columnar", "_decode"),
    "fill_key": ("sensor.columnar", "fill_key"),
    "update": ("sensor.flows", "_update"),
    "forget": ("sensor.flows", "_forget"),
    "insert_all": ("sensor.flows", "_insert_all"),
}
_EXPORTED = {target: name for name, target in ENTRY_POINTS.items()}
_ALL: list[Kernel] = []
_HERE = Path(__file__).resolve().parent


class Kernel:
    """A function to compile: numba's when JIT-compiled, the built module's otherwise."""

    def __init__(self, function: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func, self.options = function, options
        self.implementation: Callable[..., Any] | None = None
        _ALL.append(self)

    def __call__(self, *args: Any) -> Any:
        if self.implementation is None:
            _resolve()
        if self.implementation is None:   # not an entry point: only the JIT has it
            _jit_all()
        assert self.implementation is not None
        return self.implementation(*args)


def njit(**options: Any) -> Callable[[Callable[..., Any]], Kernel]:
    """``numba.njit(**options)`` without reference counting, compiled when first called (see
    the module's doc)."""
    return lambda function: Kernel(function, {"_nrt": False, **options})


def backend() -> str:
    """``aot`` or ``jit``: what the kernels are, or will be on their first call."""
    return "aot" if _built_module() is not None else "jit"


def module_key() -> str:
    """What the built module is made from: the kernel sources, numpy and Python."""
    digest = hashlib.sha256()
    for path in sorted(_HERE / f"{name.rsplit('.', 1)[1]}.py"
                       for name in (*KERNEL_MODULES, "sensor.kernels")):
        digest.update(path.read_bytes())
    digest.update(importlib.metadata.version("numpy").encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()[:16]


def _built_module() -> Any:
    if os.environ.get("LIAOWANG_KERNELS") == "jit":
        return None
    try:
        return importlib.import_module(f"sensor._kernels_{module_key()}")
    except ImportError:
        return None


def _resolve() -> None:
    built = _built_module()
    if built is None:
        _jit_all()
        return
    for kernel in _ALL:
        name = _EXPORTED.get((kernel.py_func.__module__, kernel.py_func.__name__))
        if name is not None:
            kernel.implementation = getattr(built, name)


def _jit_all() -> None:
    """Every kernel becomes a numba function, in its module's globals too."""
    from numba import njit as numba_njit

    modules = [importlib.import_module(name) for name in KERNEL_MODULES]  # all their kernels
    compiled = {id(kernel): numba_njit(**kernel.options)(kernel.py_func) for kernel in _ALL}
    for kernel in _ALL:
        kernel.implementation = compiled[id(kernel)]
    for module in modules:
        namespace = vars(module)
        for attribute, value in list(namespace.items()):
            if isinstance(value, Kernel):
                namespace[attribute] = compiled[id(value)]


# --- building the module -------------------------------------------------------------------

def build(folder: Path = _HERE) -> Path:
    """Compile the entry points into ``folder`` (unless already built for these sources)."""
    key = module_key()
    existing = sorted(folder.glob(f"_kernels_{key}.*"))
    if existing:
        return existing[0]
    from numba.pycc import CC

    for name in KERNEL_MODULES:
        importlib.import_module(name)
    _jit_all()
    compiler = CC(f"_kernels_{key}")
    compiler.output_dir = str(folder)
    compiler.use_nrt = False
    for exported, signature in _signatures().items():
        module, function = ENTRY_POINTS[exported]
        compiler.export(exported, signature)(getattr(sys.modules[module], function).py_func)
    compiler.compile()
    for stale in folder.glob("_kernels_*"):
        if not stale.name.startswith(f"_kernels_{key}."):
            stale.unlink()
    return next(folder.glob(f"_kernels_{key}.*"))


def _signatures() -> dict[str, Any]:
    """Each entry point's types, as the sensor calls it on a real capture, with every array
    taken in any layout (a column of a record array is strided)."""
    from numba import types

    from sensor.capture import CaptureFile
    from sensor.engine import Sensor

    sensor = Sensor("build")
    for block in CaptureFile(_HERE / "demo" / "demo.pcap").blocks(4096):
        sensor.process_block(block)
    sensor.finish()
    found: dict[str, Any] = {}
    for exported, (module, function) in ENTRY_POINTS.items():
        dispatcher = vars(sys.modules[module])[function]
        if exported in _CALLED_ELSEWHERE:
            dispatcher.compile(_CALLED_ELSEWHERE[exported](types))
        shapes = {tuple(_any_layout(t) for t in sig) for sig in dispatcher.signatures}
        if len(shapes) != 1:
            raise RuntimeError(f"{exported}: not one signature but {sorted(map(str, shapes))}")
        (arguments,) = shapes
        returns = {dispatcher.overloads[sig].signature.return_type
                   for sig in dispatcher.signatures}
        found[exported] = returns.pop()(*arguments)
    return found


def _bytes_row(types: Any) -> tuple[Any, ...]:
    address = types.Array(types.uint8, 1, "A")
    return (types.Array(types.uint8, 2, "A"), types.int64, address, types.int64, address,
            types.int64, types.int64, types.int64)


def _index_change(*extra: str) -> Callable[[Any], tuple[Any, ...]]:
    def arguments(types: Any) -> tuple[Any, ...]:
        words = {"u64": types.Array(types.uint64, 1, "A"), "i64": types.Array(types.int64, 1, "A")}
        return tuple(words[name] for name in ("u64", "i64", "i64", *extra))
    return arguments


def _ring_block(types: Any) -> tuple[Any, ...]:
    column = types.Array(types.int64, 1, "A")
    return (types.Array(types.uint8, 1, "C", readonly=True), types.int64, types.int64,
            column, column, column, column, column)


def _pcapng_chunk(types: Any) -> tuple[Any, ...]:
    def column(kind: Any) -> Any:
        return types.Array(kind, 1, "A")
    return (types.Array(types.uint8, 1, "A", readonly=True), types.int64, types.boolean,
            column(types.int64), column(types.float64), types.int64, column(types.int64),
            column(types.int64), column(types.int32), column(types.int64), column(types.int64),
            column(types.int64))


_CALLED_ELSEWHERE: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "index_pcapng": _pcapng_chunk,             # the demo capture is a pcap file
    "index_ring": _ring_block,                 # a live ring's block, not read from a file
    "fill_key": _bytes_row,                    # a row of the slow path, from Python
    "forget": _index_change("u64"),            # flows that end
    "insert_all": _index_change("u64", "i64"),  # a flow table that grows
}
"""Entry points a short capture may not reach, with the types the sensor calls them with."""


def _any_layout(kind: Any) -> Any:
    from numba import types

    return kind.copy(layout="A") if isinstance(kind, types.Array) else kind


if __name__ == "__main__":
    if sys.argv[1:] != ["build"]:
        raise SystemExit("usage: python -m sensor.kernels build")
    # the kernel modules register with sensor.kernels, not with this __main__ copy of it
    print(f"sensor kernels: {importlib.import_module('sensor.kernels').build()}")
