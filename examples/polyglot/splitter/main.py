"""Splits a text into paragraphs and publishes one `part_created` event per paragraph, with its file."""

from __future__ import annotations

from ion_module import Module, run


def split(text: str, max_parts: int) -> list[str]:
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) > max_parts:  # fold the tail into the last part rather than drop it
        paragraphs = [*paragraphs[: max_parts - 1], "\n\n".join(paragraphs[max_parts - 1 :])]
    return paragraphs


def handle(module: Module) -> None:
    received = module.input_files()
    if not received:
        raise ValueError("the event carries no file: publish it with -f FILE")
    source = received[0]
    max_parts = int(module.data.get("max_parts", "10"))
    parts = split(module.read_input_text(source), max_parts)
    for index, part in enumerate(parts, start=1):
        name = f"parts/part-{index}.txt"
        module.write_file(name, part + "\n")
        module.publish("part_created", files=[name], data={"index": index, "total": len(parts), "source": source})
    module.insight({"received": received, "parts": len(parts)})


if __name__ == "__main__":
    run(handle)
