"""Helpers for Ion modules written in Python: read inputs, write outputs and events, finish.

    from ion_module import run

    def handle(module):
        text = module.read_input_text("input.txt")
        module.write_file("upper.txt", text.upper())
        module.publish("text_uppercased", files=["upper.txt"], data={"chars": len(text)})

    run(handle)
"""

from ion_module.module import Module, ModuleError
from ion_module.runner import run
from ion_module.sidecar import SidecarClient, SidecarError, SidecarUnavailable

__all__ = ["Module", "ModuleError", "SidecarClient", "SidecarError", "SidecarUnavailable", "run"]
