"""What a sweep was measured on: CPU, cores, memory, OS, Python, GPUs, and how busy the machine was."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from typing import Any


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python of this machine (and its GPUs, where nvidia-smi says).

    ``load_average`` (1, 5 and 15 minutes, where the OS tells) shows whether other work shared the
    cores while the sweep ran: spreads measured on a busy machine are wider.
    """
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "architecture": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
        "memory_gib": _memory_gib(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    with contextlib.suppress(OSError, AttributeError):
        info["load_average"] = [round(value, 2) for value in os.getloadavg()]
    gpus = _nvidia_gpus()
    if gpus:
        info["gpus"] = gpus
    return info


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Processor", "cpu model") and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _usable_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def _memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return None


def _nvidia_gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if result.returncode != 0:
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def describe_machine(data: dict[str, Any], *, separator: str = ", ") -> str:
    """One line for a chart's or page's footer: the CPU, cores, memory and Python of a results
    file's ``machine``, and the jitpi that measured."""
    machine = data.get("machine", {})
    cores = machine.get("usable_cores") or machine.get("logical_cores")
    parts = [
        machine.get("cpu"),
        f"{cores} cores" if cores else None,
        f"{machine['memory_gib']:g} GiB" if machine.get("memory_gib") else None,
        machine.get("python"),
        f"jitpi {data['jitpi']}" if data.get("jitpi") else None,
    ]
    return separator.join(str(part) for part in parts if part)
