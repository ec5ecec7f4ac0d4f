#!/usr/bin/env python3
"""A generated estate the size of 50 schools, written straight into a Rollcall controller store (Python 3 stdlib only).

    estate.py postures --agent PATH --out FILE
        Captures real posture facts: builds small machine trees (the storage layouts of Tests/Fixtures/encryption, a
        GNOME desktop with users, dconf databases compiled by the real `dconf` tool, logind sessions) and runs
        `rollcall-agent inventory --root TREE` on each; keeps the `posture` part of each snapshot, unchanged. Needs
        /usr/bin/dconf and the GNOME schemas in /usr/share/glib-2.0/schemas. bench/estate-postures.json holds the
        result, so the benchmark itself does not need the agent.

    estate.py fill --store FILE --postures FILE [--devices N --accounts N --usb N --incidents N --packages N --seed N]
        Fills a store whose schema the controller has created (run any store command first) with devices, posture
        facts, installed packages, directory accounts and their last sync, USB storage events, approved media,
        incidents and a year of daily compliance history; one transaction per table. Prints a JSON summary.

Timestamps are integer milliseconds since 1970, relative to now (the pages judge "stale" and "last 30 days" against
the clock). Distributions, all from a fixed seed:
  - devices: 50 schools × 500; 55% laptops (chassis 10/9), the rest desktops (3) and mini PCs (35). 89% seen in
    the last 7 days (most within a day), 10% stale (8-200 days), 1% enrolled but never reported (no posture, no
    packages).
  - posture: screen lock set by the school and locked (70%), schema defaults (12%), a user who turned locking off
    (7%), a 30-minute idle delay (6%), whether it locks not known (2%), no desktop (3%); storage LUKS2 root,
    LVM on LUKS, LVM on LUKS1 with swap (together 78% of laptops), unencrypted (17%), only /home encrypted (5%).
  - packages: a common base taken from a real dpkg list plus a per-device mix, with the licence sample's
    products (Chrome, LibreOffice, Zoom, Teams, SMART Notebook) and a few commercial-looking ones on some machines.
  - accounts: 8% staff, 92% pupils over 50 schools; year-group posixGroups and a staff groupOfNames; passwords
    up to 2 years old (staff ones over 180 days are overdue), 4% stale (no log-on for 120+ days), 1.5% disabled.
  - USB: spread over 12 months, few in August; each insertion an `add` (8% found `present` when the agent
    started), 92% of them followed by their `remove`; 64% of insertions are approved models; unapproved sticks
    blocked (85%), a few block errors; a tenth of the machines take 60% of the insertions.
  - incidents: 70% unapproved USB storage (each linked to its event, worded as the controller words them), the rest
    other e-safety categories; 12% open (and all of the last week's), the closed ones with actions and an outcome.
  - compliance history: one row per day for the last 365 days (the overview's trend chart).
Not generated: report bodies (`reports`; no measured page reads them: a device's detail page would), HR people,
offboarding plans, the equipment register and the audit log beyond what the setup commands write.
"""
import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid

DAY_MS = 86_400_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------------------------------------------------------------------------------------------------------
# Posture capture

STORAGE = ["luks2-root", "lvm-on-luks", "lvm-on-luks1-swap-lv", "unencrypted", "encrypted-home-only"]

SYSTEM_KEYFILE = """[org/gnome/desktop/session]
idle-delay=uint32 {idle}

[org/gnome/desktop/screensaver]
lock-enabled={lock}
lock-delay=uint32 {delay}
"""

# name -> (system keyfile values or None, system locks, per-user keyfiles {user: text}, desktop installed)
SCREEN = {
    "school-locked": (dict(idle=300, lock="true", delay=0),
                      ["/org/gnome/desktop/screensaver/lock-enabled", "/org/gnome/desktop/session/idle-delay"], {}, True),
    "schema-defaults": (None, [], {}, True),
    "user-lock-off": (dict(idle=300, lock="true", delay=0), [],
                      {"pupil": "[org/gnome/desktop/screensaver]\nlock-enabled=false\n"}, True),
    "idle-30-min": (dict(idle=1800, lock="true", delay=30), [], {}, True),
    "uncompiled": (dict(idle=300, lock="true", delay=0), [], {}, True),  # profile names a db that was never compiled
    "no-desktop": (None, [], {}, False),
}


def run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def write(root, path, text):
    full = root + path
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w", encoding="utf-8") as handle:
        handle.write(text)


def dconf_compile(root, output, keyfile, locks):
    with tempfile.TemporaryDirectory() as keyfiles:
        write(keyfiles, "/00-school", keyfile)
        if locks:
            write(keyfiles, "/locks/rollcall", "\n".join(locks) + "\n")
        os.makedirs(os.path.dirname(root + output), exist_ok=True)
        run(["/usr/bin/dconf", "compile", root + output, keyfiles])


def machine_tree(root, storage, screen, session):
    shutil.copytree(os.path.join(ROOT, "Tests/Fixtures/encryption", storage), root, symlinks=True, dirs_exist_ok=True)
    system, locks, users, desktop = SCREEN[screen]
    write(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"
          "sshd:x:105:65534::/run/sshd:/usr/sbin/nologin\n"
          "pupil:x:1000:1000:Pupil:/home/pupil:/bin/bash\n"
          "teacher:x:1001:1001:Teacher:/home/teacher:/bin/bash\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    os.makedirs(root + "/home/pupil", exist_ok=True)
    os.makedirs(root + "/home/teacher", exist_ok=True)
    if not desktop:
        return
    write(root, "/usr/share/xsessions/gnome.desktop", "[Desktop Entry]\nName=GNOME\nExec=/usr/bin/gnome-session\nDesktopNames=GNOME\n")
    for schema in ["org.gnome.desktop.screensaver", "org.gnome.desktop.session"]:
        source = "/usr/share/glib-2.0/schemas/%s.gschema.xml" % schema
        with open(source, encoding="utf-8") as handle:
            write(root, source, handle.read())
    if system is not None:
        write(root, "/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n")
        keyfile = SYSTEM_KEYFILE.format(**system)
        if screen == "uncompiled":
            write(root, "/etc/dconf/db/local.d/00-school", keyfile)
        else:
            dconf_compile(root, "/etc/dconf/db/local", keyfile, locks)
    for user, text in users.items():
        dconf_compile(root, "/home/%s/.config/dconf/user" % user, text, [])
    if session:
        write(root, "/run/systemd/sessions/2", "UID=1000\nUSER=pupil\nACTIVE=1\nIS_DISPLAY=1\nSTATE=active\nREMOTE=0\n"
              "TYPE=x11\nCLASS=user\nSCOPE=session-2.scope\nSEAT=seat0\nDESKTOP=GNOME\nVTNR=2\n")


def capture_postures(agent, out):
    variants = []
    for storage in STORAGE:
        for screen in SCREEN:
            for session in ([False, True] if SCREEN[screen][3] else [False]):
                with tempfile.TemporaryDirectory(prefix="rollcall-posture-") as root:
                    machine_tree(root, storage, screen, session)
                    snapshot = json.loads(run([agent, "inventory", "--root", root, "--compact"]).stdout)
                facts = snapshot["posture"]
                # Compact, as the controller stores it; byte-for-byte the agent's own encoding of the posture part.
                variants.append({"storage": storage, "screen": screen, "session": session,
                                 "facts": json.dumps(facts, separators=(",", ":"), sort_keys=True, ensure_ascii=False)})
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"capturedWith": os.path.basename(agent), "capturedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   "variants": variants}, handle, indent=1)
        handle.write("\n")
    print("%d posture variants written to %s" % (len(variants), out))


# ---------------------------------------------------------------------------------------------------------------
# Filling the store

MODELS = [  # vendor, product as SMBIOS gives it, chassis type, weight
    ("HP", "HP EliteBook 840 14 inch G10 Notebook PC", 10, 18),
    ("LENOVO", "ThinkPad L14 Gen 4", 10, 14),
    ("Dell Inc.", "Latitude 3540", 9, 12),
    ("LENOVO", "300w Yoga Gen 4", 31, 11),
    ("Dell Inc.", "OptiPlex 7010", 3, 20),
    ("HP", "HP ProDesk 400 G9 Small Form Factor PC", 3, 13),
    ("LENOVO", "ThinkCentre M70q Gen 4", 35, 12),
]
OSES = [("Ubuntu 22.04.4 LTS", "5.15.0-119-generic", 45), ("Ubuntu 24.04.1 LTS", "6.8.0-49-generic", 25),
        ("Debian GNU/Linux 12 (bookworm)", "6.1.0-27-amd64", 20), ("Linux Mint 21.3", "5.15.0-125-generic", 10)]
SCREEN_WEIGHTS = {"school-locked": 70, "schema-defaults": 12, "user-lock-off": 7, "idle-30-min": 6, "uncompiled": 2, "no-desktop": 3}
LAPTOP_STORAGE = {"luks2-root": 40, "lvm-on-luks": 28, "lvm-on-luks1-swap-lv": 10, "unencrypted": 17, "encrypted-home-only": 5}
DESKTOP_STORAGE = {"luks2-root": 5, "lvm-on-luks": 5, "lvm-on-luks1-swap-lv": 0, "unencrypted": 85, "encrypted-home-only": 5}

# Desktop software on top of the base system: (source, name, version, section, maintainer, share of machines).
DESKTOP = [
    ("dpkg", "google-chrome-stable", "131.0.6778.85-1", "web", "Chrome Linux Team <chromium-dev@chromium.org>", 0.55),
    ("dpkg", "libreoffice-core", "4:7.4.7-1+deb12u5", "editors", "Debian LibreOffice Maintainers <debian-openoffice@lists.debian.org>", 0.92),
    ("dpkg", "libreoffice-writer", "4:7.4.7-1+deb12u5", "editors", "Debian LibreOffice Maintainers <debian-openoffice@lists.debian.org>", 0.92),
    ("dpkg", "libreoffice-calc", "4:7.4.7-1+deb12u5", "editors", "Debian LibreOffice Maintainers <debian-openoffice@lists.debian.org>", 0.90),
    ("dpkg", "libreoffice-impress", "4:7.4.7-1+deb12u5", "editors", "Debian LibreOffice Maintainers <debian-openoffice@lists.debian.org>", 0.88),
    ("snap", "zoom-client", "6.2.11.5069", None, None, 0.06),
    ("flatpak", "us.zoom.Zoom", "6.2.11.5069", None, None, 0.03),
    ("dpkg", "teams-for-linux", "1.11.3", "net", "Ismael Martinez <ismael.martinez@gmail.com>", 0.08),
    ("dpkg", "smart-notebook", "24.1.1010.0", "non-free/education", "SMART Technologies ULC <support@smarttech.com>", 0.18),
    ("dpkg", "firefox-esr", "128.5.0esr-1~deb12u1", "web", "Maintainers of Mozilla-related packages <team+pkg-mozilla@tracker.debian.org>", 0.95),
    ("dpkg", "thunderbird", "1:128.5.0esr-1~deb12u1", "mail", "Christoph Goehre <chris@sigxcpu.org>", 0.25),
    ("dpkg", "gimp", "2.10.34-1+deb12u2", "graphics", "Debian GNOME Maintainers <pkg-gnome-maintainers@lists.alioth.debian.org>", 0.4),
    ("dpkg", "inkscape", "1.2.2-2+b1", "graphics", "Debian Multimedia Maintainers <debian-multimedia@lists.debian.org>", 0.3),
    ("dpkg", "audacity", "3.2.4+dfsg-1", "sound", "Debian Multimedia Maintainers <debian-multimedia@lists.debian.org>", 0.25),
    ("dpkg", "vlc", "3.0.21-0+deb12u1", "video", "Debian Multimedia Maintainers <debian-multimedia@lists.debian.org>", 0.7),
    ("dpkg", "scratch", "1.4.0.6~dfsg1-7", "education", "Debian Edu Packaging Team <debian-edu-pkg-team@lists.alioth.debian.org>", 0.3),
    ("dpkg", "mu-editor", "1.0.3+dfsg-5", "python", "Debian Python Team <team+python@tracker.debian.org>", 0.2),
    ("dpkg", "geogebra", "4.0.34.0+dfsg1-8", "education", "Debian Edu Packaging Team <debian-edu-pkg-team@lists.alioth.debian.org>", 0.2),
    ("dpkg", "code", "1.95.3-1731513102", "devel", "Microsoft Corporation <vscode-linux@microsoft.com>", 0.1),
    ("dpkg", "anydesk", "6.3.3", "non-free", "philandro Software GmbH <info@anydesk.com>", 0.02),
    ("dpkg", "minecraft-launcher", "2.2.1441", "games", "Mojang Studios <launcher@mojang.com>", 0.04),
    ("snap", "spotify", "1.2.50.335", None, None, 0.01),
    ("flatpak", "com.visualstudio.code", "1.95.3", None, None, 0.02),
]
BASE_FALLBACK = [("dpkg", "adduser", "3.134", "admin", "Debian Adduser Developers <adduser@packages.debian.org>"),
                 ("dpkg", "bash", "5.2.15-2+b7", "shells", "Matthias Klose <doko@debian.org>"),
                 ("dpkg", "coreutils", "9.1-1", "utils", "Michael Stone <mstone@debian.org>")]

USB_MODELS = [  # vendor id, product id, vendor, model, capacity, filesystem, weight, approved model
    ("0781", "5567", "SanDisk", "Cruzer Blade", 32_015_679_488, "vfat", 22, True),
    ("0781", "5581", "SanDisk", "Ultra", 64_023_257_088, "exfat", 10, True),
    ("0951", "1666", "Kingston", "DataTraveler 3.0", 31_037_849_600, "vfat", 18, True),
    ("090c", "1000", "Samsung", "Flash Drive FIT", 64_160_400_384, "exfat", 8, True),
    ("058f", "6387", "Alcor Micro Corp.", "Flash Drive", 8_053_063_680, "vfat", 9, False),
    ("13fe", "4200", "Phison Electronics Corp.", "Platinum USB", 15_938_355_200, "vfat", 8, False),
    ("8564", "1000", "Transcend", "JetFlash", 16_008_609_792, "vfat", 6, True),
    ("0930", "6545", "Toshiba Corp.", "TransMemory", 16_131_293_184, "vfat", 5, False),
    ("1058", "25a2", "Western Digital", "Elements 25A2", 1_000_170_586_112, "ntfs", 7, False),
    ("0bc2", "2322", "Seagate", "Expansion Portable", 2_000_398_934_016, "ntfs", 4, False),
    ("152d", "0578", "JMicron", "USB to ATA/ATAPI Bridge", 500_107_862_016, "ext4", 3, False),
]
LABELS = ["STICK", "USB", "KINGSTON", "SANDISK", "ESSENTIALS", "COURSEWORK", "MY_FILES", "Untitled", None, None]
OTHER_CATEGORIES = [("inappropriate-content", 30), ("cyberbullying", 20), ("misuse-of-equipment", 20), ("unauthorised-access", 10),
                    ("data-protection", 8), ("inappropriate-contact", 5), ("other", 7)]
ACTIONS = ["head-teacher", "safeguarding", "referral", "police", "iwf", "it", "disciplinary", "policy-review", "other"]


def pick(rng, weights):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def base_packages():
    """This machine's real dpkg list (names, versions, sections, maintainers), or a tiny fallback."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${Section}\t${Maintainer}\n"],
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return [p + ("amd64",) for p in BASE_FALLBACK]
    packages = []
    for line in out.splitlines():
        status, name, version, arch, section, maintainer = (line.split("\t") + [""] * 6)[:6]
        if status == "installed":
            packages.append(("dpkg", name, version, section or None, maintainer or None, arch or None))
    return packages


def reindexed(db, table, keep=frozenset()):
    """Drops `table`'s indexes but `keep` for the bulk insert; returns a function that recreates them with their own SQL."""
    indexes = [(name, sql) for name, sql in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                                                       (table,)) if name not in keep]
    for name, _ in indexes:
        db.execute('DROP INDEX "%s"' % name)
    return lambda: [db.execute(sql) for _, sql in indexes]


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


def fill(args):
    rng = random.Random(args.seed)
    now = args.now or int(time.time() * 1000)
    with open(args.postures, encoding="utf-8") as handle:
        variants = json.load(handle)["variants"]
    facts_by = {}
    for v in variants:
        facts_by.setdefault((v["storage"], v["screen"]), []).append(v["facts"])

    db = sqlite3.connect(args.store, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "device_posture" not in tables or "dashboard_users" not in tables:
        sys.exit("estate.py: %s has no Rollcall schema: run a store command (rollcall users add ...) first" % args.store)
    summary = {"now": now}
    timings = {}

    def phase(name):
        timings[name] = time.time()

    # Devices, posture, packages ------------------------------------------------------------------------------------
    phase("devices")
    schools = 50
    model_weights = [m[3] for m in MODELS]
    base = base_packages()
    rng.shuffle(base)
    desktop_count = len(DESKTOP)
    base_n = max(0, min(len(base), args.packages - 12)) if args.packages else 0
    common = sorted(base[:base_n], key=lambda p: p[1])
    devices = []  # (id, hostname, laptop, reporting?)
    device_rows, posture_rows, package_count = [], [], 0
    db.execute("BEGIN")
    # The store's triggers count each package into package_catalogue as it is written, and look up the device's
    # other rows with device_packages_by_device_name: that index stays, the others are rebuilt after the bulk insert.
    restore = reindexed(db, "device_packages", keep={"device_packages_by_device_name"})
    insert_device = """INSERT INTO devices (id, hostname, serial, vendor, model, os, kernel, virtualization, first_seen, last_seen,
                       last_collected_at, package_count, last_report_id, machine_id, public_key, enrolled_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"""
    insert_packages = "INSERT INTO device_packages (device_id, source, name, version, architecture, state, section, maintainer) VALUES (?,?,?,?,?,?,?,?)"
    counters = {"stale": 0, "never": 0, "laptops": 0}
    for index in range(args.devices):
        school = index % schools + 1
        vendor, product, chassis, _ = rng.choices(MODELS, weights=model_weights)[0]
        laptop = chassis in (9, 10, 14, 30, 31, 32)
        counters["laptops"] += laptop
        os_name, kernel = rng.choices([(o[0], o[1]) for o in OSES], weights=[o[2] for o in OSES])[0]
        device_id = "%016x" % rng.getrandbits(64)
        hostname = "s%02d-%s-%04d" % (school, "lt" if laptop else "pc", index // schools + 1)
        enrolled = now - rng.randint(30, 3 * 365) * DAY_MS
        roll = rng.random()
        if roll < 0.01:  # enrolled, never reported
            counters["never"] += 1
            devices.append((device_id, hostname, laptop, False))
            device_rows.append((device_id, hostname, None, None, None, None, None, None, enrolled, enrolled, 0, 0, "",
                                uuid.UUID(int=rng.getrandbits(128)).hex, base64.b64encode(rng.getrandbits(256).to_bytes(32, "big")).decode(), enrolled))
            db.execute(insert_device, device_rows[-1])
            continue
        if roll < 0.11:  # stale: not seen for 8-200 days
            counters["stale"] += 1
            last_seen = now - rng.randint(8 * 24, 200 * 24) * 3_600_000 - rng.randint(0, 3_599_999)
        elif roll < 0.80:
            last_seen = now - rng.randint(0, 24 * 3_600_000)
        else:
            last_seen = now - rng.randint(1 * DAY_MS, 7 * DAY_MS - 3_600_000)
        last_seen = max(last_seen, enrolled + 60_000)
        collected = last_seen - rng.randint(500, 20_000)
        serial = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(10))
        # Installed software: the shared base, LTS point releases a few devices are behind on, and the desktop mix.
        behind = rng.random() < 0.12
        mine = [(src, name, (ver + "~old" if behind and i % 17 == 0 else ver), arch, sec, mnt)
                for i, (src, name, ver, sec, mnt, arch) in enumerate(common)]
        if args.packages:
            for src, name, ver, sec, mnt, share in DESKTOP:
                if rng.random() < share:
                    mine.append((src, name, ver, "amd64" if src == "dpkg" else None, sec, mnt))
        package_count += len(mine)
        devices.append((device_id, hostname, laptop, True))
        device_rows.append((device_id, hostname, serial, vendor, product, os_name, kernel, "physical", enrolled, last_seen, collected,
                            len(mine), str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
                            uuid.UUID(int=rng.getrandbits(128)).hex, base64.b64encode(rng.getrandbits(256).to_bytes(32, "big")).decode(), enrolled))
        db.execute(insert_device, device_rows[-1])  # before its packages, as ingest writes them
        db.executemany(insert_packages, [(device_id, src, name, ver, arch, "installed", sec, mnt) for src, name, ver, arch, sec, mnt in mine])
        screen = pick(rng, SCREEN_WEIGHTS)
        storage = pick(rng, LAPTOP_STORAGE if laptop else DESKTOP_STORAGE)
        posture_rows.append((device_id, collected, chassis, rng.choice(facts_by[(storage, screen)])))
    db.executemany("INSERT INTO device_posture (device_id, collected_at, chassis_type, facts) VALUES (?,?,?,?)", posture_rows)
    restore()
    db.execute("COMMIT")
    summary.update(devices=len(device_rows), laptops=counters["laptops"], stale=counters["stale"], never_reported=counters["never"],
                   posture_rows=len(posture_rows), device_packages=package_count)
    reporting = [d for d in devices if d[3]]

    # Directory accounts, memberships and the last sync -------------------------------------------------------------
    phase("accounts")
    first = ["Alys", "Bethan", "Cai", "Dewi", "Eleri", "Ffion", "Gethin", "Huw", "Siân", "Llŷr", "Aoife", "Ciarán", "Zoë", "Amir",
             "Priya", "Kwame", "Olivia", "Noah", "Amelia", "Oliver", "Isla", "George", "Ava", "Muhammad", "Freya", "Leo"]
    last = ["Jones", "Davies", "O'Brien", "Evans", "Kelly", "Smith", "Patel", "Khan", "Williams", "Taylor", "Brown", "Nowak", "Okafor"]
    staff_n = int(args.accounts * 0.08)
    account_rows, memberships = [], []
    kinds = {"staff": 0, "pupils": 0}
    stale_after = 120 * DAY_MS
    for i in range(args.accounts):
        kind = "staff" if i < staff_n else "pupils"
        kinds[kind] += 1
        school = i % schools + 1
        uid = ("t%05d" if kind == "staff" else "p%06d") % i
        dn = "uid=%s,ou=%s,ou=school%02d,dc=trust,dc=sch,dc=uk" % (uid, kind, school)
        name = "%s %s" % (rng.choice(first), rng.choice(last))
        created = now - rng.randint(30, 6 * 365) * DAY_MS
        changed = max(created, now - int(rng.triangular(0, 730, 60) * DAY_MS))
        r = rng.random()
        if r < 0.04:
            last_bind = now - rng.randint(121, 500) * DAY_MS  # stale
        elif r < 0.05:
            last_bind = None  # never logged on
        else:
            last_bind = now - rng.randint(0, 30 * 24) * 3_600_000
        locked = None
        q = rng.random()
        if q < 0.015:
            locked = "000001010000Z"  # disabled by an administrator
        elif q < 0.02:
            locked = time.strftime("%Y%m%d%H%M%SZ", time.gmtime((now - rng.randint(0, 3 * DAY_MS)) / 1000))
        reset = 1 if rng.random() < 0.02 else 0
        key = ("S%07d" if kind == "staff" else "A%09d") % i
        digest = hashlib.sha256(dn.encode()).hexdigest()
        synced = now - 3 * 3_600_000
        account_rows.append((dn, uid, key, kind, name, "%s@school%02d.sch.uk" % (uid, school), created, changed, reset, locked,
                             last_bind, None, digest, synced, synced - rng.randint(0, 200) * DAY_MS))
        if kind == "pupils":
            memberships.append(("cn=year%d-s%02d,ou=groups,dc=trust,dc=sch,dc=uk" % (7 + i % 7, school), "year%d-s%02d" % (7 + i % 7, school), None, uid))
        else:
            memberships.append(("cn=staff-s%02d,ou=groups,dc=trust,dc=sch,dc=uk" % school, "staff-s%02d" % school, dn, None))
    db.execute("BEGIN")
    restore = reindexed(db, "directory_accounts")
    db.executemany("""INSERT INTO directory_accounts (dn, uid, join_key, kind, display_name, mail, created_at, password_changed_at,
                      password_reset, locked_time, last_bind_at, shadow_expire, digest, synced_at, changed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                   account_rows)
    restore()
    restore = reindexed(db, "directory_memberships")
    db.executemany("INSERT INTO directory_memberships (group_dn, group_cn, member_dn, member_uid) VALUES (?,?,?,?)", memberships)
    restore()
    groups = len({m[0] for m in memberships})
    sync = {"url": "ldap://127.0.0.1", "accountsRead": args.accounts, "added": args.accounts, "changed": 0, "unchanged": 0, "removed": 0,
            "groups": groups, "memberships": len(memberships), "lastBindTracked": True, "seconds": 41.2, "skippedUnchanged": False}
    db.execute("INSERT INTO directory_syncs (url, finished_at, summary) VALUES (?,?,?)",
               ("ldap://127.0.0.1", now - 3 * 3_600_000, json.dumps(sync, separators=(",", ":"))))
    db.execute("COMMIT")
    summary.update(accounts=len(account_rows), staff=kinds["staff"], pupils=kinds["pupils"], memberships=len(memberships), groups=groups)

    # Approved media, USB events ----------------------------------------------------------------------------------------
    phase("usb")
    db.execute("BEGIN")
    rules = {}
    for vid, pid, vendor, model, _, _, _, approved in USB_MODELS:
        if approved:
            cur = db.execute("INSERT INTO approved_media (vendor_id, product_id, serial, description, approved_by, approved_at) VALUES (?,?,?,?,?,?)",
                             (vid, pid, None, "%s %s (school stock)" % (vendor, model), "bench", now - 400 * DAY_MS))
            rules[(vid, pid)] = cur.lastrowid
    # Heavy users: a tenth of the reporting machines (sixth-form and staff laptops) take 60% of the insertions.
    heavy = rng.sample(reporting, max(1, len(reporting) // 10))
    year_ms = 365 * DAY_MS
    usb_rows, insertions = [], []
    usb_weights = [m[6] for m in USB_MODELS]
    per_stick = {}
    while len(usb_rows) < args.usb:
        device = rng.choice(heavy) if rng.random() < 0.6 else rng.choice(reporting)
        when = now - int(rng.random() * year_ms)
        month = time.gmtime(when / 1000).tm_mon
        if month == 8 and rng.random() < 0.8:  # the summer holiday
            continue
        vid, pid, vendor, model, capacity, fs, _, approved = rng.choices(USB_MODELS, weights=usb_weights)[0]
        stick = per_stick.setdefault((device[0], vid, pid), "%016X" % rng.getrandbits(64) if rng.random() < 0.9 else None)
        port = "%d-%d" % (rng.randint(1, 4), rng.randint(1, 6))
        users = rng.choice([["pupil"], ["teacher"], [], ["p%06d" % rng.randint(0, args.accounts)]])
        label = rng.choice(LABELS)
        volumes = [{"name": "sdb1", "filesystem": fs, "label": label, "uuid": "%04X-%04X" % (rng.getrandbits(16), rng.getrandbits(16)),
                    "sizeBytes": capacity - 1_048_576}]
        # An insertion, then (mostly) its removal; now and then one found present when the agent started.
        first_action = "present" if rng.random() < 0.08 else "add"
        events = [(first_action, when)]
        if rng.random() < 0.92 and len(usb_rows) + 1 < args.usb:
            events.append(("remove", min(now - 1000, when + rng.randint(60_000, 3 * 3_600_000))))
        for action, at in events:
            blocked = 1 if (not approved and action != "remove" and rng.random() < 0.85) else 0
            block_error = "write /sys/bus/usb/devices/%s/authorized: no such device" % port if (not approved and not blocked and action != "remove" and rng.random() < 0.1) else None
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
            body = {"schemaVersion": 1, "eventID": event_id, "machineID": device[0] * 2, "agentVersion": "0.1.0", "action": action,
                    "occurredAt": iso(at), "vendorID": vid, "productID": pid, "vendor": vendor, "model": model, "serial": stick,
                    "capacityBytes": capacity, "volumes": volumes if action != "remove" else [], "port": port,
                    "idPath": "pci-0000:00:14.0-usb-0:%s:1.0" % port.split("-")[1], "blockDevice": "sdb", "consoleUsers": users,
                    "approvedByAgentPolicy": approved, "blocked": bool(blocked), "blockError": block_error}
            body = {k: v for k, v in body.items() if v is not None}
            usb_rows.append((event_id, device[0], action, at, at + rng.randint(50, 5000), vid, pid, vendor, model, stick, capacity,
                             json.dumps(volumes if action != "remove" else [], separators=(",", ":")), port, ",".join(users),
                             1 if approved else 0, rules.get((vid, pid)), blocked, block_error,
                             json.dumps(body, separators=(",", ":"), sort_keys=True)))
            if action != "remove" and not approved:
                insertions.append((event_id, device, at, vendor, model, vid, pid, stick, port, users, blocked, block_error))
    restore = reindexed(db, "usb_events")
    db.executemany("""INSERT INTO usb_events (id, device_id, action, occurred_at, received_at, vendor_id, product_id, vendor, model, serial,
                      capacity_bytes, volumes, port, console_users, approved, approved_by_rule, blocked, block_error, body)
                      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""", usb_rows)
    restore()
    db.execute("COMMIT")
    summary.update(usb_events=len(usb_rows), usb_unapproved_insertions=len(insertions), approved_media=len(rules))

    # Incidents -----------------------------------------------------------------------------------------------------------
    phase("incidents")
    incident_rows = []
    usb_share = 0.7
    usb_picks = rng.sample(insertions, min(len(insertions), int(args.incidents * usb_share)))
    for event_id, device, at, vendor, model, vid, pid, stick, port, users, blocked, block_error in usb_picks:
        text = "Unapproved USB storage %s %s (%s:%s%s) plugged into port %s of %s" % (vendor, model, vid, pid, ", serial %s" % stick if stick else "", port, device[1])
        text += "; the agent switched it off" if blocked else ("; blocking failed: %s" % block_error if block_error else "; not blocked (the policy only reports)")
        incident_rows.append(["usb-unapproved", at + 2000, at, "rollcall-agent on %s" % device[1], device[1], ", ".join(users) or None, text,
                              device[0], event_id])
    while len(incident_rows) < args.incidents:
        category = pick(rng, dict(OTHER_CATEGORIES))
        at = now - int(rng.random() * year_ms)
        device = rng.choice(reporting) if rng.random() < 0.5 else None
        incident_rows.append([category, at + rng.randint(600_000, 2 * DAY_MS), at, "%s %s" % (rng.choice(first), rng.choice(last)),
                              "School %02d, room %d" % (rng.randint(1, schools), rng.randint(1, 40)), "Year %d pupil" % rng.randint(7, 13),
                              "Reported by a member of staff: %s during a lesson; screenshots kept." % category.replace("-", " "),
                              device[0] if device else None, None])
    final = []
    for kind, opened, occurred, reporter, where, who, text, device_id, event_id in incident_rows:
        open_ = rng.random() < 0.12 or opened > now - 7 * DAY_MS
        actions = None
        if not open_ or rng.random() < 0.5:
            actions = ",".join(a for a in ACTIONS if rng.random() < (0.5 if a in ("it", "head-teacher") else 0.06)) or "it"
        outcome = None if open_ else rng.choice(["Stick returned to its owner; reminder of the USB policy.", "Parents informed; sanction applied.",
                                                  "No further action.", "Referred to the DSL; closed after follow-up."])
        final.append((kind, opened, occurred, reporter, where, who, text, device_id, event_id, actions, outcome,
                       "open" if open_ else "closed", opened if open_ else min(now, opened + rng.randint(1, 20) * DAY_MS)))
    final.sort(key=lambda r: r[1])
    db.execute("BEGIN")
    db.executemany("""INSERT INTO incidents (kind, opened_at, occurred_at, reported_by, location, involved, description, device_id, usb_event_id,
                      action_taken, outcome, status, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""", final)
    db.execute("COMMIT")
    summary.update(incidents=len(final), incidents_open=sum(1 for r in final if r[11] == "open"))

    # A year of daily compliance history, as the overview records it ---------------------------------------------------------
    phase("history")
    db.execute("BEGIN")
    n = len(device_rows)
    for back in range(365, 0, -1):
        day = time.strftime("%Y-%m-%d", time.gmtime((now - back * DAY_MS) / 1000))
        grow = 1 - back / 730
        db.execute("INSERT OR REPLACE INTO compliance_history (day, devices, reporting, screen_lock_pass, encryption_pass, accounts, zombie_accounts, overdue_passwords) VALUES (?,?,?,?,?,?,?,?)",
                   (day, int(n * grow), int(n * grow * 0.9), int(n * grow * 0.8), int(n * grow * 0.85), int(staff_n * 0.95),
                    int(args.accounts * 0.04 * (1 + back / 365)), int(staff_n * 0.2 * (1 + back / 365))))
    db.execute("COMMIT")
    phase("analyze")
    db.execute("ANALYZE")
    phase("end")
    db.close()
    names = list(timings)
    summary["seconds"] = {names[i]: round(timings[names[i + 1]] - timings[names[i]], 1) for i in range(len(names) - 1)}
    summary["store_bytes"] = os.path.getsize(args.store)
    print(json.dumps(summary, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("postures", help="capture real posture facts with rollcall-agent inventory --root")
    p.add_argument("--agent", required=True)
    p.add_argument("--out", required=True)
    f = sub.add_parser("fill", help="fill a Rollcall store with a generated estate")
    f.add_argument("--store", required=True)
    f.add_argument("--postures", default=os.path.join(ROOT, "bench/estate-postures.json"))
    f.add_argument("--devices", type=int, default=25_000)
    f.add_argument("--accounts", type=int, default=60_000)
    f.add_argument("--usb", type=int, default=200_000)
    f.add_argument("--incidents", type=int, default=3_000)
    f.add_argument("--packages", type=int, default=300, help="installed packages per device (0: none)")
    f.add_argument("--seed", type=int, default=2026)
    f.add_argument("--now", type=int, help="now, in ms since 1970 (default: the clock)")
    args = parser.parse_args()
    if args.command == "postures":
        capture_postures(args.agent, args.out)
    else:
        fill(args)


if __name__ == "__main__":
    main()
