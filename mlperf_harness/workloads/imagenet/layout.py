"""val_map.txt, read and checked with the standard library only: the harness reads the dataset through it, and
the host runs the declaration's dataset check (check_dataset) before any container starts."""

from pathlib import Path

from mlperf_harness.errors import UsageError

VAL_MAP = "val_map.txt"


def parse_val_map(val_map: Path) -> list[tuple[str, int]]:
    """(file name, label) per `<file> <label>` line of the official val_map.txt."""
    pairs = []
    for n, line in enumerate(val_map.read_text().splitlines(), start=1):
        cols = line.split()
        if not cols:
            continue
        if len(cols) != 2 or not cols[1].isdigit():
            raise UsageError(f"{val_map}:{n}: expected '<file> <label>', got {line!r}", "fix val_map.txt")
        pairs.append((cols[0], int(cols[1])))
    return pairs


def val_map_entries(dataset_dir: Path, count: int | None) -> list[tuple[Path, int]]:
    """(image path, label) of the first `count` entries of val_map.txt (all by default); each of those images must
    exist (the ones after `count` are not read, so they may be absent)."""
    dataset_dir = Path(dataset_dir)
    val_map = dataset_dir / VAL_MAP
    if not val_map.is_file():
        raise UsageError(
            f"no val_map.txt in {dataset_dir}",
            "point --dataset-dir at the ImageNet validation directory, or make a demo one with "
            "`python -m mlperf_harness demo-data DIR`",
        )
    entries = [(dataset_dir / name, label) for name, label in parse_val_map(val_map)]
    if not entries:
        raise UsageError(f"{val_map} lists no images", "fill val_map.txt with '<file> <label>' lines")
    if count is not None:
        if not 0 < count <= len(entries):
            raise UsageError(f"--count {count} is outside 1..{len(entries)}", f"the dataset has {len(entries)} images")
        entries = entries[:count]
    missing = [path.name for path, _ in entries if not path.is_file()]
    if missing:
        used = f"the first {count} " if count is not None else ""
        raise UsageError(
            f"{len(missing)} of {used}{len(entries)} images listed in {val_map} are missing from {dataset_dir} "
            f"(first: {missing[0]})",
            "complete the dataset or trim val_map.txt",
        )
    return entries


def check_dataset(dataset_dir: Path, count: int | None = None) -> None:
    """The declaration's dataset check: val_map.txt reads and the images the run would use exist."""
    val_map_entries(dataset_dir, count)
