"""Host probe: fill the MLPerf system description (systems/<system>.json) from this machine.

Everything read from the host goes through small parsers (cpuinfo, meminfo, os-release,
nvidia-smi CSV, rocm-smi JSON) so they can be tested on sample text. Fields that cannot be
probed get "N/A"; `--system-json FILE` overrides any of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlperf_rules import SYSTEM_TYPES
from mlperf_rules import common as rules_common

from ..errors import UserError, choices

if TYPE_CHECKING:
    from ..matrix import Cell
    from ..options import RunOptions

# The fields, which of them need a value, and the accepted values all come from the rulebook.
SYSTEM_FIELDS = rules_common.SYSTEM_FIELDS
MAY_BE_EMPTY = frozenset(SYSTEM_FIELDS) - frozenset(rules_common.SYSTEM_FIELDS_NON_EMPTY)
INTEGER_FIELDS = ("number_of_nodes", "accelerators_per_node", "host_processors_per_node",
                  "host_processor_core_count")
VALID_STATUS = rules_common.SYSTEM_STATUS
VALID_SYSTEM_TYPES = tuple(SYSTEM_TYPES)
NOT_PROBED = "N/A"

NVIDIA_QUERY = "name,memory.total,clocks.max.sm,pcie.link.gen.max,pcie.link.width.max"

Runner = Callable[[list[str]], str | None]


def parse_cpuinfo(text: str) -> dict:
    """Model name, sockets, cores per socket and max MHz from /proc/cpuinfo."""
    model, sockets, cores, logical = "", set(), 0, 0
    for line in text.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            logical += 1
        elif key == "model name" and not model:
            model = re.sub(r"\s+", " ", value)
        elif key == "physical id":
            sockets.add(value)
        elif key == "cpu cores" and value.isdigit():
            cores = int(value)
    return {"model": model, "sockets": max(len(sockets), 1),
            "cores_per_socket": cores or max(logical // max(len(sockets), 1), 1)}


def parse_meminfo(text: str) -> int:
    """MemTotal in bytes."""
    m = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.M)
    return int(m.group(1)) * 1024 if m else 0


def parse_os_release(text: str) -> str:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values.get("PRETTY_NAME") or " ".join(filter(None, (values.get("NAME"), values.get("VERSION_ID"))))


def parse_nvidia_smi(text: str) -> list[dict]:
    """Rows of `nvidia-smi --query-gpu=<NVIDIA_QUERY> --format=csv,noheader,nounits`."""
    gpus = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 2 or not cells[0]:
            continue
        name, mem, clock, gen, width = (cells + [""] * 5)[:5]
        gpus.append({"name": name, "memory_bytes": _number(mem) * 1024 ** 2,
                     "max_clock_mhz": _number(clock), "pcie_gen": _number(gen),
                     "pcie_width": _number(width)})
    return gpus


def parse_rocm_smi(text: str) -> list[dict]:
    """Cards of `rocm-smi --showproductname --showmeminfo vram --json`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    gpus = []
    for card, fields in sorted(data.items()):
        if not card.startswith("card") or not isinstance(fields, dict):
            continue
        name = next((fields[k] for k in ("Card Series", "Card series", "Card Model", "Card model")
                     if fields.get(k)), card)
        mem = next((v for k, v in fields.items() if "VRAM Total Memory" in k), "0")
        gpus.append({"name": str(name).strip(), "memory_bytes": _number(mem),
                     "max_clock_mhz": 0, "pcie_gen": 0, "pcie_width": 0})
    return gpus


def _number(text) -> int:
    m = re.search(r"\d+(\.\d+)?", str(text))
    return int(float(m.group(0))) if m else 0


def human_bytes(n: int, *, decimal: bool = False) -> str:
    """`64 GB` style sizes (binary units unless decimal, as disks are sold)."""
    base = 1000 if decimal else 1024
    units = ("B", "KB", "MB", "GB", "TB", "PB")
    value, unit = float(n), 0
    while value >= base and unit < len(units) - 1:
        value, unit = value / base, unit + 1
    return f"{value:.0f} {units[unit]}" if value >= 10 or unit == 0 else f"{value:.1f} {units[unit]}"


def storage_type(path: Path, sys_root: Path = Path("/sys")) -> str:
    """NVMe SSD / SSD / HDD for the block device holding `path`, "N/A" when unknown (overlay, tmpfs)."""
    try:
        dev = os.stat(path).st_dev
        block = (sys_root / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}").resolve()
    except OSError:
        return NOT_PROBED
    if not (block / "queue").exists():
        block = block.parent  # a partition: its disk holds the queue
    rotational = block / "queue" / "rotational"
    if not rotational.exists():
        return NOT_PROBED
    if block.name.startswith("nvme"):
        return "NVMe SSD"
    return "HDD" if rotational.read_text().strip() == "1" else "SSD"


def _run(argv: list[str]) -> str | None:
    if not shutil.which(argv[0]):
        return None
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def probe_gpus(run: Runner = _run) -> list[dict]:
    """NVIDIA GPUs through nvidia-smi, else AMD GPUs through rocm-smi, else none."""
    text = run(["nvidia-smi", f"--query-gpu={NVIDIA_QUERY}", "--format=csv,noheader,nounits"])
    if text:
        return parse_nvidia_smi(text)
    text = run(["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"])
    return parse_rocm_smi(text) if text else []


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def probe_host(path: Path, *, root: Path = Path("/"), run: Runner = _run) -> dict:
    """The hardware and OS fields of the system description, from this host."""
    cpu = parse_cpuinfo(_read(root / "proc" / "cpuinfo"))
    memory = parse_meminfo(_read(root / "proc" / "meminfo"))
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    disk = shutil.disk_usage(existing).total
    gpus = probe_gpus(run)
    fields = {
        "host_processor_model_name": cpu["model"] or NOT_PROBED,
        "host_processors_per_node": str(cpu["sockets"]),
        "host_processor_core_count": str(cpu["cores_per_socket"]),
        "host_memory_capacity": human_bytes(memory) if memory else NOT_PROBED,
        "host_storage_capacity": human_bytes(disk, decimal=True),
        "host_storage_type": storage_type(existing, root / "sys"),
        "operating_system": parse_os_release(_read(root / "etc" / "os-release")) or NOT_PROBED,
        "accelerators_per_node": str(len(gpus)),
        "accelerator_model_name": NOT_PROBED,
        "accelerator_memory_capacity": NOT_PROBED,
        "accelerator_host_interconnect": NOT_PROBED,
    }
    if gpus:
        first = gpus[0]
        fields["accelerator_model_name"] = first["name"]
        if first["memory_bytes"]:
            fields["accelerator_memory_capacity"] = human_bytes(first["memory_bytes"])
        if first["max_clock_mhz"]:
            fields["accelerator_frequency"] = f"{first['max_clock_mhz']} MHz"
        if first["pcie_gen"]:
            fields["accelerator_host_interconnect"] = f"PCIe Gen{first['pcie_gen']} x{first['pcie_width']}"
    return fields


def default_system_name(device: str, backend: str | None = None) -> str:
    """A directory-safe system name: `<host>_<device>_<backend>` (`<host>_<device>` without a backend; no spaces or
    dots, as the checker wants). The backend is part of it because it is part of the description (framework): two
    backends run on one host are two systems, each with its own systems/<name>.json."""
    host = re.sub(r"[^A-Za-z0-9_-]+", "-", os.uname().nodename).strip("-") or "host"
    return "_".join(filter(None, (host, device, re.sub(r"[^A-Za-z0-9_-]+", "-", backend or ""))))


def refuse_system_clash(opts: RunOptions, cell: Cell, system_name: str) -> None:
    """Plan phase, before any container: UserError when the tree's systems/<system_name>.json (the round's layout)
    describes another system than this run would write: another framework (backend), device (other_software_stack),
    system_type or --system-json field. A resumed run or a rerun of the same cell writes the same description and
    passes. --force does not lift it: it replaces results, not the system the other results were measured on."""
    layout = opts.round.submission.layout
    path = Path(opts.submission_dir) / opts.division / opts.submitter / layout.system_file(system_name)
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # none (or unreadable: the writer and `submission check` say so)
    if not isinstance(existing, dict):
        return
    overrides = {k: field_text(v) for k, v in load_overrides(opts.system_json).items()}
    expected = {"system_type": opts.category, "other_software_stack": software_stack(cell.device)}
    expected.update(overrides)
    differ = [f"{key} '{existing.get(key)}' (this run: '{value}')" for key, value in expected.items()
              if key in existing and str(existing[key]) != value]
    framework = str(existing.get("framework", ""))
    if "framework" not in overrides and framework and framework.split()[0] != cell.backend:
        differ.insert(0, f"framework '{framework}' (this run: {cell.backend})")
    if differ:
        raise UserError(f"{path} already describes system {system_name} differently: {'; '.join(differ)}; its results "
                        f"are that system's, so pass another --system-name for this run (or remove that system)")


def load_overrides(path: Path | None) -> dict:
    """The JSON object of `--system-json FILE` ({} without a file)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise UserError(f"--system-json {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise UserError(f"--system-json {path}:{e.lineno}: invalid JSON: {e.msg}") from None
    if not isinstance(data, dict):
        raise UserError(f"--system-json {path}: expected a JSON object of system fields")
    return data


def software_stack(device: str) -> str:
    """The default other_software_stack of a system whose results mlperfctl's containers made."""
    return f"mlperfctl container ({device})"


def field_text(value) -> str:
    """A system field as the json holds it: text as it is, lists and objects as JSON, the rest as str()."""
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def system_description(*, division: str, submitter: str, system_name: str, category: str = "edge",
                       device: str = "cpu", framework: str = "", other_software_stack: str = "",
                       status: str = "available", path: Path = Path("."), overrides: dict | None = None,
                       probed: dict | None = None) -> dict:
    """The full system json: defaults, then what the host probe found, then `overrides`.

    `probed` replaces the host probe (tests, or facts gathered elsewhere). Unknown override keys
    and invalid values raise UserError naming the valid choices.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(SYSTEM_FIELDS))
    if unknown:
        raise UserError(f"--system-json: unknown field(s) {', '.join(unknown)} {choices(SYSTEM_FIELDS)}")
    desc = {key: "" for key in SYSTEM_FIELDS}
    desc.update({
        "division": division, "submitter": submitter, "status": status, "system_name": system_name,
        "number_of_nodes": "1", "system_type": category, "framework": framework or NOT_PROBED,
        "other_software_stack": other_software_stack or software_stack(device),
        "host_memory_configuration": NOT_PROBED, "host_networking": NOT_PROBED,
        "host_networking_topology": NOT_PROBED, "host_network_card_count": NOT_PROBED,
        "accelerator_interconnect": NOT_PROBED, "accelerator_memory_configuration": NOT_PROBED,
        "cooling": NOT_PROBED,
    })
    desc.update(probe_host(path) if probed is None else probed)
    desc.update({k: field_text(v) for k, v in overrides.items()})
    problems = validate_system(desc)
    if problems:
        raise UserError("invalid system description: " + "; ".join(problems))
    return desc


def validate_system(desc: dict, *, division: str | None = None, submitter: str | None = None,
                    fields: tuple[str, ...] = SYSTEM_FIELDS) -> list[str]:
    """Every rule the checker applies to a system json, as messages (empty when valid). `fields`: the
    round's required fields (the same 35 in every round of the rulebook)."""
    problems = []
    for key in fields:
        if key not in desc:
            problems.append(f"field {key} is missing")
        elif key not in MAY_BE_EMPTY and not str(desc[key]).strip():
            problems.append(f"field {key} is empty")
    if str(desc.get("status", "")).lower() not in VALID_STATUS:
        problems.append(f"status '{desc.get('status')}' is invalid {choices(VALID_STATUS)}")
    if desc.get("system_type") not in VALID_SYSTEM_TYPES:
        problems.append(f"system_type '{desc.get('system_type')}' is invalid {choices(VALID_SYSTEM_TYPES)}")
    for key in INTEGER_FIELDS:
        if key in desc and not re.fullmatch(r"\d+", str(desc[key]).strip()):
            problems.append(f"field {key} must be an integer, got '{desc[key]}'")
    if division is not None and str(desc.get("division", "")).lower() != division.lower():
        problems.append(f"division '{desc.get('division')}' does not match the directory '{division}'")
    if submitter is not None and str(desc.get("submitter", "")).lower() != submitter.lower():
        problems.append(f"submitter '{desc.get('submitter')}' does not match the directory '{submitter}'")
    is_network = str(desc.get("is_network", "false")).lower() == "true"
    if division is not None and is_network != (division == "network"):
        problems.append(f"is_network={is_network} does not fit division '{division}'")
    return problems
