#!/usr/bin/python3
"""Time from a USB stick's last uevent to the agent's outbox row, over N replayed insertions.

Runs scripts/umockdev-usb.py (under umockdev-wrapper) with CMD as its child, plugs a recorded stick in and out N
times, and after each `add`/`remove` polls the agent's outbox (SQLite, read-only, outside the preload) every
0.5 ms until the new row is there. With --monitor-log, CMD is a bare libudev monitor that prints one line per
event instead, and the time to that line is measured (the floor: libudev delivery alone).

Prints one JSON object: {"add": [ms...], "remove": [ms...]}.
"""
import argparse, json, os, sqlite3, subprocess, sys, time

parser = argparse.ArgumentParser()
parser.add_argument("--stick", required=True)
parser.add_argument("--count", type=int, default=120)
parser.add_argument("--outbox")
parser.add_argument("--monitor-log")
parser.add_argument("cmd", nargs=argparse.REMAINDER)
args = parser.parse_args()
driver_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "umockdev-usb.py")
command = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
driver = subprocess.Popen(["umockdev-wrapper", "/usr/bin/python3", driver_path, "--", *command],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

def send(line):
    driver.stdin.write(line + "\n")
    driver.stdin.flush()
    answer = driver.stdout.readline().split()
    if not answer or answer[0] == "error":
        sys.exit(f"driver: {line}: {answer}")
    return answer

assert driver.stdout.readline().startswith("testbed ")
if send("wait-listener 30")[0] != "listening":
    sys.exit("the command never bound a udev monitor")
time.sleep(1.0)  # let the agent finish its start (first snapshot, enumeration)

def observed():
    if args.outbox:
        db = sqlite3.connect(f"file:{args.outbox}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM outbox WHERE kind = 'usb-event'").fetchone()[0]
        finally:
            db.close()
    with open(args.monitor_log) as log:
        return sum(1 for line in log if line.startswith("EVENT disk"))

def wait_for(previous, since_ns):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if observed() > previous:
            return (time.time_ns() - since_ns) / 1e6
        time.sleep(0.0005)
    sys.exit("no new row within 10 s")

result = {"add": [], "remove": []}
for _ in range(args.count):
    before = observed()
    answer = send(f"add {args.stick}")
    result["add"].append(wait_for(before, int(answer[4])))
    before = observed()
    answer = send(f"remove {args.stick}")
    result["remove"].append(wait_for(before, int(answer[2])))
send("quit") if False else None
driver.stdin.write("quit\n")
driver.stdin.close()
driver.wait(timeout=20)
print(json.dumps(result))
