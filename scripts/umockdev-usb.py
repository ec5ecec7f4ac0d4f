#!/usr/bin/python3
"""Replay USB storage hot-plug through umockdev for a program that uses libudev.

Run it under umockdev's preload (the sender of uevents must be preloaded too):

    umockdev-wrapper /usr/bin/python3 scripts/umockdev-usb.py \
        [--coldplug FILE ...] -- CMD ARGS...

Use Debian's /usr/bin/python3 (it has the `gi` bindings and the UMockdev
typelib from gir1.2-umockdev-1.0), not a pyenv/venv python.

What it does:

1. Creates a `UMockdev.Testbed`, adds every block of each `--coldplug` FILE
   (before CMD starts, so CMD's udev_enumerate sees them), then prints
   `testbed <root dir>` on stdout and flushes.
2. Starts CMD (stdin /dev/null, stdout/stderr inherited) with
   UMOCKDEV_DIR=<root dir> (Python's os.environ does not see the variable the
   testbed sets in the C environment, so it is passed explicitly) and the
   inherited LD_PRELOAD.
3. Reads commands, one a line, from its own stdin; each is answered with one
   line on stdout once it is done:

       add FILE        -> added NAME T_LAST_NS T_FIRST_NS T_DONE_NS
       remove FILE     -> removed NAME T_NS
       wait-listener [TIMEOUT_S]
                       -> listening N   (N uevent sockets bound in the testbed)
                          or `timeout 0`
       sleep SECONDS   -> slept
       quit / EOF      -> SIGTERM to CMD, wait up to 10 s, then SIGKILL;
                          exit with CMD's exit code

   `add` adds FILE's blocks one at a time in file order (parents first); each
   add sends an `add` uevent. T_LAST_NS is time.time_ns() taken just before the
   last block (the disk or partition) is added, T_FIRST_NS just before the
   first, T_DONE_NS just after the last add returned. umockdev writes a block's
   sysfs files first and sends its uevent last, synchronously, so the last
   uevent left between T_LAST_NS and T_DONE_NS (the writes take 2-20 ms on a
   VM disk): latency from T_LAST_NS is an upper bound, from T_DONE_NS a lower
   bound. `remove` sends `remove` uevents children first and deletes each
   device from the testbed, so the same FILE can be added again. T_NS is taken
   just before the first remove uevent (if nothing of FILE was present, the
   answer is still `removed` and nothing is sent). FILE may contain spaces.
   NAME is FILE's base name without `.umockdev`. Errors are answered
   `error <message>` (the driver keeps going).

   Events sent before CMD's netlink socket is bound are lost: wait until CMD
   says it listens (or use `wait-listener`) before the first `add`.

If CMD exits by itself, the driver exits with CMD's exit code (a signal N
gives 128+N). SIGTERM/SIGKILL go to CMD only, not to its children.

Known limits (umockdev 0.17.16, Debian 12):
* A second add of a device that is present aborts umockdev (GLib error);
  the driver answers `error ...` instead. The fixtures in Tests/Fixtures/usb
  all sit on port usb2/2-1 as sdb, so only one of them can be plugged at once.
* remove_device() leaves /sys/block/NAME and /sys/dev/block/M:m behind and
  the next add of the same device would abort; the driver removes them.
* uevents are only sent when the sending process runs under the preload
  (add_from_string() checks it, uevent() fails with "No such device").
* Do not put the testbed under /dev: with TMPDIR=/dev/shm the run aborted
  here with "libumockdev-preload fd_map_add(): overflow".
* Writes through the preload hit plain files: writing "0" over "1" + newline
  without O_TRUNC leaves "0" + newline; a shorter value over a longer one
  leaves its tail.
"""

import os
import select
import signal
import subprocess
import sys
import time

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402


def usage(msg):
    sys.stderr.write(
        "umockdev-usb: %s\nusage: umockdev-wrapper /usr/bin/python3 %s "
        "[--coldplug FILE ...] -- CMD ARGS...\n" % (msg, sys.argv[0])
    )
    sys.exit(2)


def parse_args(argv):
    coldplug = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            cmd = argv[i + 1:]
            if not cmd:
                usage("no command after --")
            return coldplug, cmd
        if a == "--coldplug":
            if i + 1 >= len(argv):
                usage("--coldplug needs a FILE")
            coldplug.append(argv[i + 1])
            i += 2
            continue
        if a.startswith("--coldplug="):
            coldplug.append(a.split("=", 1)[1])
            i += 1
            continue
        usage("unknown argument %r" % a)
    usage("missing -- CMD")


def read_blocks(path):
    """Blocks of a umockdev description, in file order.

    Returns a list of dicts: devpath (the P: value, /devices/...), text (the
    block, ending in a newline), subsystem (E: SUBSYSTEM), dev (A: dev, as
    "major:minor" or None), node (N: name or None), links (S: names)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = []
    for chunk in text.split("\n\n"):
        lines = [ln for ln in chunk.split("\n") if ln.strip()]
        if not lines:
            continue
        if not lines[0].startswith("P: "):
            raise ValueError("%s: a block does not start with a P: line" % path)
        b = {"devpath": lines[0][3:].strip(), "text": "\n".join(lines) + "\n",
             "subsystem": None, "dev": None, "node": None, "links": []}
        for ln in lines[1:]:
            if ln.startswith("E: SUBSYSTEM="):
                b["subsystem"] = ln.split("=", 1)[1]
            elif ln.startswith("A: dev="):
                b["dev"] = ln.split("=", 1)[1].replace("\\n", "").strip()
            elif ln.startswith("N: "):
                b["node"] = ln[3:].split("=", 1)[0].strip()
            elif ln.startswith("S: "):
                b["links"].append(ln[3:].strip())
        blocks.append(b)
    if not blocks:
        raise ValueError("%s: no device blocks" % path)
    return blocks


def umockdev_version():
    try:
        out = subprocess.run(["umockdev-run", "--version"], capture_output=True,
                             text=True, timeout=10).stdout
        return tuple(int(x) for x in out.strip().split(".")[:3])
    except (OSError, ValueError, subprocess.SubprocessError):
        return (0, 17, 16)


def name_of(path):
    base = os.path.basename(path)
    return base[: -len(".umockdev")] if base.endswith(".umockdev") else base


def exit_code(returncode):
    return 128 - returncode if returncode < 0 else returncode


class Driver:
    def __init__(self):
        self.tb = UMockdev.Testbed.new()
        self.root = self.tb.get_root_dir()
        # umockdev >= 0.18.4 sends the "remove" uevent itself in remove_device()
        # (and removes children too); 0.17.x (Debian 12) does not.
        self.remove_sends_uevent = umockdev_version() >= (0, 18, 4)

    def sysdir(self, devpath):
        return os.path.join(self.root, "sys", devpath.lstrip("/"))

    def add_file(self, path):
        blocks = read_blocks(path)
        # umockdev aborts the whole process (a GLib ERROR) when a device that
        # already exists is added again, so refuse before adding anything.
        for b in blocks:
            if os.path.exists(os.path.join(self.sysdir(b["devpath"]), "uevent")):
                raise ValueError("%s is already in the testbed (remove it first)" % b["devpath"])
        t_first = t_last = None
        for idx, b in enumerate(blocks):
            self.clean_leftovers(b)  # a stale link makes add_from_string abort
            t = time.time_ns()
            if idx == 0:
                t_first = t
            if idx == len(blocks) - 1:
                t_last = t
            if not self.tb.add_from_string(b["text"]):
                raise RuntimeError("add_from_string failed for %s" % b["devpath"])
        # add_from_string() writes the block's sysfs files and sends its uevent
        # last, synchronously: the last uevent was sent between t_last and t_done.
        t_done = time.time_ns()
        return t_first, t_last, t_done

    def remove_file(self, path):
        blocks = read_blocks(path)
        t0 = None
        for b in reversed(blocks):  # children first
            syspath = "/sys" + b["devpath"]
            if not os.path.exists(os.path.join(self.sysdir(b["devpath"]), "uevent")):
                continue
            if t0 is None:
                t0 = time.time_ns()
            if not self.remove_sends_uevent:
                self.tb.uevent(syspath, "remove")
            self.tb.remove_device(syspath)
            self.clean_leftovers(b)
        return t0 if t0 is not None else time.time_ns()

    def clean_leftovers(self, b):
        """Unlink what umockdev 0.17's remove_device() leaves behind and a second
        add of the same block would trip over (an assertion or error() that
        kills the process): /sys/block/NAME, /sys/dev/block/M:m (it reads
        "dev" with its trailing newline, so its own unlink misses), plus the
        /dev node, its /dev/.node entry and the S: links under /dev. Only
        called while the block's device is absent from the testbed."""
        name = os.path.basename(b["devpath"])
        cands = []
        if b["subsystem"] == "block":
            cands.append(os.path.join(self.root, "sys", "block", name))
        if b["subsystem"]:
            cands.append(os.path.join(self.root, "sys", "class", b["subsystem"], name))
            cands.append(os.path.join(self.root, "sys", "bus", b["subsystem"], "devices", name))
        if b["dev"]:
            kind = "block" if b["subsystem"] == "block" else "char"
            cands.append(os.path.join(self.root, "sys", "dev", kind, b["dev"]))
        if b["node"]:
            cands.append(os.path.join(self.root, "dev", b["node"]))
            cands.append(os.path.join(self.root, "dev", ".node", b["node"].replace("/", "_")))
        for link in b["links"]:
            cands.append(os.path.join(self.root, "dev", link))
        for c in cands:
            if os.path.islink(c) or os.path.isfile(c):
                os.unlink(c)

    def listeners(self):
        try:
            return sum(1 for n in os.listdir(self.root) if n.startswith("event"))
        except OSError:
            return 0


def reply(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def stop_child(child):
    if child.poll() is None:
        try:
            child.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    return exit_code(child.returncode)


def main():
    coldplug, cmd = parse_args(sys.argv[1:])
    if "LD_PRELOAD" not in os.environ or "umockdev" not in os.environ.get("LD_PRELOAD", ""):
        sys.stderr.write("umockdev-usb: warning: not running under umockdev-wrapper; "
                         "uevents will not reach the command\n")
    drv = Driver()
    for path in coldplug:
        drv.add_file(path)
    reply("testbed " + drv.root)

    env = dict(os.environ)
    env["UMOCKDEV_DIR"] = drv.root
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
    pidfd = os.pidfd_open(child.pid)

    buf = b""
    stdin_fd = sys.stdin.fileno()
    while True:
        while b"\n" not in buf:
            r, _, _ = select.select([stdin_fd, pidfd], [], [])
            if pidfd in r:
                child.wait()
                sys.exit(exit_code(child.returncode))
            chunk = os.read(stdin_fd, 65536)
            if not chunk:  # EOF
                sys.exit(stop_child(child))
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        text = line.decode("utf-8", "replace").strip()
        if not text:
            continue
        op, _, rest = text.partition(" ")
        rest = rest.strip()
        args = rest.split()
        try:
            if op == "add" and rest:
                t_first, t_last, t_done = drv.add_file(rest)
                reply("added %s %d %d %d" % (name_of(rest), t_last, t_first, t_done))
            elif op == "remove" and rest:
                t = drv.remove_file(rest)
                reply("removed %s %d" % (name_of(rest), t))
            elif op == "sleep" and len(args) == 1:
                time.sleep(float(args[0]))
                reply("slept")
            elif op == "wait-listener" and len(args) <= 1:
                deadline = time.monotonic() + (float(args[0]) if args else 10.0)
                n = drv.listeners()
                while n == 0 and time.monotonic() < deadline and child.poll() is None:
                    time.sleep(0.005)
                    n = drv.listeners()
                reply("listening %d" % n if n else "timeout 0")
            elif op == "quit":
                sys.exit(stop_child(child))
            else:
                reply("error unknown command: %s" % text)
        except (OSError, ValueError, RuntimeError, GLib.Error) as e:
            reply("error %s" % str(e).replace("\n", " "))


if __name__ == "__main__":
    main()
