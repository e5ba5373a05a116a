"""The memory this process can still take: the system's available memory and its cgroups' limits.

The reader refuses an image whose enhancement would not fit
(:func:`enhance_lib.io.fits.check_promises`) before it reads any data, so that a batch on a
cluster node ends that file in one line instead of being killed by the kernel.
"""

import contextlib
import os

__all__ = ["available_memory"]


def available_memory():
    """Bytes this process can still take without swapping, or None when unknown.

    The smaller of the system's available memory (``MemAvailable`` of ``/proc/meminfo``,
    which counts reclaimable caches; else the free pages, ``os.sysconf``) and the room
    left under the memory limit of the process's cgroup and its parents (``memory.max``
    less ``memory.current``; cgroup v1's ``memory.limit_in_bytes`` less
    ``memory.usage_in_bytes``), where there is one.

    Returns
    -------
    int or None
    """
    found = []
    try:
        with open("/proc/meminfo") as f:
            found += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    if not found:  # not Linux: the free pages, if the system says
        with contextlib.suppress(AttributeError, ValueError, OSError):
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    found += _cgroup_room()
    return min(found) if found else None


def _cgroup_room():
    """Bytes left under each memory limit of this process's cgroups (v2 and v1), from its own up."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    room = []
    for line in lines:
        _, controllers, group = line.split(":", 2)
        if controllers == "":  # v2
            root, limit, usage = "/sys/fs/cgroup", "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            root, limit, usage = "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        folder = os.path.normpath(root + "/" + group.strip("/"))
        while folder.startswith(root):
            try:
                with open(os.path.join(folder, limit)) as f_limit, open(os.path.join(folder, usage)) as f_usage:
                    text, used = f_limit.read().strip(), int(f_usage.read())
                if text != "max" and int(text) < 2**60:  # v1 writes "no limit" as a huge number
                    room.append(max(int(text) - used, 0))
            except (OSError, ValueError):
                pass
            folder = os.path.dirname(folder)
    return room
