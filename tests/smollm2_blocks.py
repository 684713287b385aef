"""SmolLM2 cut to its first blocks: the slow tier's base model where a test checks what a compression method
writes and that its output loads and generates, not what the model answers.

The embedded SmolLM2-135M-Instruct has 30 blocks, and GPTQ, AWQ and SparseGPT spend minutes on them on 2 CPU
cores. :func:`first_blocks_gguf` writes a copy of its GGUF file with the first ``blocks`` blocks only: the same
tokenizer, chat template, embedding, final norm and per-block weights (bytes copied as they are, Q4_1), the same
``llama`` architecture and shapes, and ``llama.block_count`` set to ``blocks``. It loads, de-quantizes and
generates through the same code as the full model, in a fraction of the time. :func:`first_blocks_folder` is that
model de-quantized into a model folder, for tests that need not read a GGUF file (half a minute a load, nearly all
of it the tokenizer, whatever the number of blocks). Both are written once into the folder given (the root
conftest's fixtures give pytest's cache folder).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BLOCKS = 2
"""Blocks kept by default: two, so that what one block hands the next is exercised."""
PROJECTIONS = 7
"""Linear projections per block (q, k, v, o, gate, up, down): the layers a quantizer or pruner replaces."""
EMBEDDING_PARAMETERS = 49152 * 576
"""The token embedding (tied to the LM head, so counted once)."""
BLOCK_PARAMETERS = 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536 + 2 * 576
"""One block: q and o (576 x 576), k and v (576 x 192, grouped-query attention), gate, up and down (576 x 1536)
and two RMS norms."""
_BLOCK_TENSOR = re.compile(r"blk\.(\d+)\.")


def first_blocks_gguf(folder: Path, blocks: int = BLOCKS) -> Path:
    """A GGUF file in ``folder`` holding SmolLM2 with its first ``blocks`` blocks.

    Written once per installed SmolLM2 file (its size and modification time name the copy): the first pytest-xdist
    worker to ask writes it while the others wait (ten seconds)."""
    import trust_smollm2

    source = Path(trust_smollm2.gguf_path())
    stat = source.stat()
    target = folder / f"{source.stem}-{stat.st_size}-{stat.st_mtime_ns}-{blocks}-blocks.gguf"
    with _building(target) as partial:
        if partial is not None:
            _write_first_blocks(source, blocks, partial)
    return target


def first_blocks_folder(folder: Path, blocks: int = BLOCKS) -> Path:
    """A model folder in ``folder`` (float32 safetensors and tokenizer, as transformers saves them) holding the
    model of :func:`first_blocks_gguf`, de-quantized the way the pruners and quantizers de-quantize a GGUF file
    (``trust_transformers.source.dense_folder``): for tests of what a method does to a model, without the half
    minute transformers takes to read a GGUF file's tokenizer (three times) on every load."""
    import transformers

    from trust_transformers.source import classify, dense_folder

    gguf_file = first_blocks_gguf(folder, blocks)
    target = folder / f"{gguf_file.stem}-transformers-{transformers.__version__}"  # what wrote it
    with _building(target) as partial:
        if partial is not None:
            source = classify(str(gguf_file))
            assert source is not None, gguf_file
            dense_folder(source, partial)
    return target


@contextmanager
def _building(target: Path) -> Iterator[Path | None]:
    """Under a lock beside ``target``: None when ``target`` exists, else a path to write it at, moved into place
    once the block ends without an error (so an interrupted write never passes for a finished one)."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock"):
        if target.exists():
            yield None
            return
        partial = target.with_name(f"{target.name}.part")
        if partial.is_dir():
            shutil.rmtree(partial)
        partial.unlink(missing_ok=True)
        yield partial
        os.replace(partial, target)


def _write_first_blocks(source: Path, blocks: int, out: Path) -> None:
    """Copy the GGUF file ``source`` to ``out`` with blocks ``0 .. blocks - 1`` only: every metadata key (the block
    count changed) and the kept tensors' bytes as they are."""
    import gguf

    reader = gguf.GGUFReader(source, "r")
    architecture = reader.get_field(gguf.Keys.General.ARCHITECTURE).contents()
    block_count = gguf.Keys.LLM.BLOCK_COUNT.format(arch=architecture)
    writer = gguf.GGUFWriter(out, architecture, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        value = blocks if field.name == block_count else field.contents()
        writer.add_key_value(field.name, value, kind, sub_type=sub_type)
    kept = [tensor for tensor in reader.tensors if _block(tensor.name) < blocks]
    for tensor in kept:
        writer.add_tensor_info(
            tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in kept:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()


def float32_parameter_bytes(blocks: int = BLOCKS) -> int:
    """Bytes of SmolLM2's parameters in float32 with its first ``blocks`` blocks (538_060_032 with all 30)."""
    return 4 * (EMBEDDING_PARAMETERS + blocks * BLOCK_PARAMETERS + 576)


def float32_block_bytes(blocks: int = BLOCKS) -> int:
    """Bytes of the parameters of SmolLM2's first ``blocks`` blocks in float32 (what a method compresses; the
    embedding, 113 MB of the 141 MB of two blocks, stays as it is)."""
    return 4 * blocks * BLOCK_PARAMETERS


def _block(name: str) -> int:
    """The block a tensor belongs to; -1 for the embedding, the final norm and the head (always kept)."""
    found = _BLOCK_TENSOR.match(name)
    return int(found[1]) if found else -1
