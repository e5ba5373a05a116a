"""The memory this process can take (io/memory.py): the system's, capped by its cgroups."""

import os
import sys

import pytest

from enhance_lib.io import memory


def test_available_memory_is_what_this_machine_has():
    available = memory.available_memory()
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/meminfo")
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    assert 0 < available <= total


def test_cgroup_limit_caps_the_available_memory(tmp_path, monkeypatch):
    # A v2 cgroup "/job" limited to 1 GB of which 300 MB are used, under an unlimited root.
    root = tmp_path / "sys"
    (root / "job").mkdir(parents=True)
    (root / "memory.max").write_text("max\n")
    (root / "memory.current").write_text("5000000000\n")
    (root / "job" / "memory.max").write_text("1000000000\n")
    (root / "job" / "memory.current").write_text("300000000\n")
    (tmp_path / "cgroup").write_text("0::/job\n")
    real_open = open

    def fake_open(name, *args, **kwargs):
        name = os.fspath(name)
        if name == "/proc/self/cgroup":
            name = tmp_path / "cgroup"
        elif name.startswith("/sys/fs/cgroup"):
            name = str(root) + name[len("/sys/fs/cgroup"):]
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    assert memory._cgroup_room() == [700_000_000]
