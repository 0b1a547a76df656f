"""The ``liaowang`` program's entry point.

The command line imports numpy, pydantic, pySigma and the protocol analyzers: some hundred
thousand objects that live as long as the process. Imported with the cyclic collector on, its
full passes walked them again and again (40 ms of a 0.3 s start-up); imported with it off,
they are then frozen out of its sight, still freed by reference counting.
"""

from __future__ import annotations

import gc


def main() -> int:
    gc.disable()
    try:
        from console.cli import command
    finally:
        gc.freeze()
        gc.enable()
    return command()
