import Foundation
@testable import RollcallAgent
import RollcallProtocol
import Testing

/// Screen-lock settings from real files: dconf databases compiled by the real `dconf` tool, xfconf XML, KDE's
/// kscreenlockerrc and ~/.xscreensaver, in a private root per test.
@Suite("Screen lock")
struct ScreenLockTests {
    /// A machine tree with GNOME installed, users ada (1000) and bob (1001), and the real GNOME schemas.
    final class Machine {
        let root: URL

        init() throws {
            root = try makeTemporaryDirectory()
            try write("/etc/passwd", """
                root:x:0:0:root:/root:/bin/bash
                sshd:x:105:65534::/run/sshd:/usr/sbin/nologin
                ada:x:1000:1000:Ada Okafor:/home/ada:/bin/bash
                bob:x:1001:1001:Bob Ng:/home/bob:/bin/bash
                nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin

                """)
            try FileManager.default.createDirectory(atPath: root.path + "/home/ada", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root.path + "/home/bob", withIntermediateDirectories: true)
            try write("/usr/share/xsessions/gnome.desktop", "[Desktop Entry]\nName=GNOME\nExec=/usr/bin/gnome-session\nDesktopNames=GNOME\n")
            // The installed schemas are the real defaults (Debian's gsettings-desktop-schemas).
            for schema in ["org.gnome.desktop.screensaver", "org.gnome.desktop.session"] {
                let source = "/usr/share/glib-2.0/schemas/\(schema).gschema.xml"
                try write(source, try String(contentsOfFile: source, encoding: .utf8))
            }
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func write(_ path: String, _ text: String) throws {
            let url = URL(fileURLWithPath: root.path + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        /// `dconf compile OUTPUT KEYFILE-DIR`: the database a desktop really reads.
        func compileDconf(_ output: String, keyfiles: [String: String], locks: [String] = []) throws {
            let directory = try makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            for (name, text) in keyfiles { try text.write(toFile: directory.path + "/" + name, atomically: true, encoding: .utf8) }
            if !locks.isEmpty {
                try FileManager.default.createDirectory(atPath: directory.path + "/locks", withIntermediateDirectories: true)
                try (locks.joined(separator: "\n") + "\n").write(toFile: directory.path + "/locks/rollcall", atomically: true, encoding: .utf8)
            }
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: root.path + output).deletingLastPathComponent().path,
                                                    withIntermediateDirectories: true)
            _ = try runProgram("/usr/bin/dconf", ["compile", root.path + output, directory.path])
        }

        func settings() -> [ScreenLockSettings] {
            InventoryCollector(root: FileSystemRoot(root.path)).collect().posture?.screenLock ?? []
        }
    }

    static let systemKeyfile = """
        [org/gnome/desktop/session]
        idle-delay=uint32 300

        [org/gnome/desktop/screensaver]
        lock-enabled=true
        lock-delay=uint32 0
        """

    @Test("a system dconf lock wins over the user's own database; unlocked keys come from the user")
    func systemLockWinsOverUser() throws {
        let machine = try Machine()
        try machine.write("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n")
        try machine.compileDconf("/etc/dconf/db/local", keyfiles: ["00-school": Self.systemKeyfile],
                                 locks: ["/org/gnome/desktop/screensaver/lock-enabled"])
        try machine.compileDconf("/home/ada/.config/dconf/user", keyfiles: ["user": """
            [org/gnome/desktop/screensaver]
            lock-enabled=false

            [org/gnome/desktop/session]
            idle-delay=uint32 1800
            """])
        let all = machine.settings()
        let machineWide = try #require(all.first { $0.desktop == "gnome" && $0.user == nil })
        #expect(machineWide.lockEnabled == SourcedValue(true, source: "/etc/dconf/db/local (locked)", locked: true))
        #expect(machineWide.idleDelaySeconds == SourcedValue(300, source: "/etc/dconf/db/local"))
        #expect(machineWide.lockDelaySeconds == SourcedValue(0, source: "/etc/dconf/db/local"))

        let ada = try #require(all.first { $0.desktop == "gnome" && $0.user == "ada" })
        #expect(ada.lockEnabled == SourcedValue(true, source: "/etc/dconf/db/local (locked)", locked: true))
        #expect(ada.idleDelaySeconds == SourcedValue(1800, source: "~ada/.config/dconf/user"))
        // bob has no database of his own: the system's values reach him unchanged.
        let bob = try #require(all.first { $0.desktop == "gnome" && $0.user == "bob" })
        #expect(bob.idleDelaySeconds?.value == 300)
        #expect(!all.contains { $0.user == "root" || $0.user == "nobody" || $0.user == "sshd" })
    }

    @Test("with no database setting a key, the installed schema's default applies and says so")
    func schemaDefaults() throws {
        let machine = try Machine()
        let ada = try #require(machine.settings().first { $0.desktop == "gnome" && $0.user == "ada" })
        // org.gnome.desktop.screensaver lock-enabled defaults to true, org.gnome.desktop.session idle-delay to 300.
        #expect(ada.lockEnabled == SourcedValue(true, source: "schema default (org.gnome.desktop.screensaver)"))
        #expect(ada.idleDelaySeconds == SourcedValue(300, source: "schema default (org.gnome.desktop.session)"))
    }

    @Test("keyfiles edited after the last `dconf update` are reported as not in force")
    func uncompiledKeyfilesAreNoted() throws {
        let machine = try Machine()
        try machine.write("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n")
        try machine.compileDconf("/etc/dconf/db/local", keyfiles: ["00-school": Self.systemKeyfile])
        let past = Date().addingTimeInterval(-3600)
        try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: machine.root.path + "/etc/dconf/db/local")
        try machine.write("/etc/dconf/db/local.d/01-later", "[org/gnome/desktop/session]\nidle-delay=uint32 60\n")
        let machineWide = try #require(machine.settings().first { $0.desktop == "gnome" && $0.user == nil })
        #expect(machineWide.idleDelaySeconds?.value == 300)
        #expect(machineWide.notes.contains { $0.contains("01-later") && $0.contains("dconf update") })
    }

    @Test("MATE stores minutes and can switch the screensaver off altogether")
    func mateMinutesAndActivation() throws {
        let machine = try Machine()
        try machine.write("/usr/share/xsessions/mate.desktop", "[Desktop Entry]\nName=MATE\nDesktopNames=MATE\n")
        try machine.write("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n")
        try machine.compileDconf("/etc/dconf/db/local", keyfiles: ["00-mate": """
            [org/mate/session]
            idle-delay=8

            [org/mate/screensaver]
            lock-enabled=true
            lock-delay=1
            idle-activation-enabled=true
            """])
        try machine.compileDconf("/home/ada/.config/dconf/user", keyfiles: ["user": "[org/mate/screensaver]\nidle-activation-enabled=false\n"])
        let all = machine.settings()
        let machineWide = try #require(all.first { $0.desktop == "mate" && $0.user == nil })
        #expect(machineWide.idleDelaySeconds?.value == 480)
        #expect(machineWide.lockDelaySeconds?.value == 60)
        let ada = try #require(all.first { $0.desktop == "mate" && $0.user == "ada" })
        #expect(ada.idleDelaySeconds?.value == 0)
        #expect(ada.idleDelaySeconds?.source.contains("idle-activation-enabled false") == true)
    }

    @Test("XFCE: the user's xfconf channel over /etc/xdg, except properties the system locks")
    func xfceChannels() throws {
        let machine = try Machine()
        try machine.write("/usr/share/xsessions/xfce.desktop", "[Desktop Entry]\nName=Xfce Session\nExec=startxfce4\n")
        try machine.write("/usr/bin/xfce4-screensaver", "")
        try machine.write("/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml", """
            <?xml version="1.0" encoding="UTF-8"?>
            <channel name="xfce4-screensaver" version="1.0">
              <property name="lock" type="empty">
                <property name="enabled" type="bool" value="true" locked="*"/>
              </property>
              <property name="saver" type="empty">
                <property name="idle-activation" type="empty">
                  <property name="delay" type="int" value="10"/>
                </property>
              </property>
            </channel>
            """)
        try machine.write("/home/ada/.config/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml", """
            <?xml version="1.0" encoding="UTF-8"?>
            <channel name="xfce4-screensaver" version="1.0">
              <property name="lock" type="empty">
                <property name="enabled" type="bool" value="false"/>
                <property name="saver-activation" type="empty">
                  <property name="delay" type="int" value="2"/>
                </property>
              </property>
              <property name="saver" type="empty">
                <property name="idle-activation" type="empty">
                  <property name="delay" type="int" value="20"/>
                </property>
              </property>
            </channel>
            """)
        let ada = try #require(machine.settings().first { $0.desktop == "xfce" && $0.user == "ada" })
        #expect(ada.lockEnabled == SourcedValue(true, source: "/etc/xdg/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml (locked)", locked: true))
        #expect(ada.idleDelaySeconds == SourcedValue(1200, source: "~ada/.config/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml"))
        #expect(ada.lockDelaySeconds?.value == 120)
        let bob = try #require(machine.settings().first { $0.desktop == "xfce" && $0.user == "bob" })
        #expect(bob.idleDelaySeconds?.value == 600)
        #expect(bob.lockDelaySeconds == SourcedValue(0, source: "xfce4-screensaver default"))
    }

    @Test("KDE: kscreenlockerrc, with [$i] in /etc/xdg making a value immutable")
    func kdeKiosk() throws {
        let machine = try Machine()
        try machine.write("/usr/share/wayland-sessions/plasmawayland.desktop", "[Desktop Entry]\nName=Plasma (Wayland)\nDesktopNames=KDE\n")
        try machine.write("/etc/xdg/kscreenlockerrc", "[Daemon][$i]\nAutolock=true\nTimeout=5\n")
        try machine.write("/home/ada/.config/kscreenlockerrc", "[Daemon]\nAutolock=false\nTimeout=30\nLockGrace=10\n")
        let ada = try #require(machine.settings().first { $0.desktop == "kde" && $0.user == "ada" })
        #expect(ada.lockEnabled == SourcedValue(true, source: "/etc/xdg/kscreenlockerrc (immutable)", locked: true))
        #expect(ada.idleDelaySeconds == SourcedValue(300, source: "/etc/xdg/kscreenlockerrc (immutable)", locked: true))
        #expect(ada.lockDelaySeconds == SourcedValue(10, source: "~ada/.config/kscreenlockerrc"))
    }

    @Test("xscreensaver: ~/.xscreensaver over the app-defaults, durations as H:MM:SS")
    func xscreensaverResources() throws {
        let machine = try Machine()
        try machine.write("/usr/bin/xscreensaver", "")
        try machine.write("/etc/X11/app-defaults/XScreenSaver", "*timeout:\t\t0:10:00\n*lock:\t\t\tFalse\n*lockTimeout:\t\t0:00:00\n")
        try machine.write("/home/bob/.xscreensaver", "# XScreenSaver Preferences File\ntimeout:\t0:05:00\nlock:\t\tTrue\nlockTimeout:\t0:02:00\nmode:\t\trandom\n")
        let all = machine.settings()
        let machineWide = try #require(all.first { $0.desktop == "xscreensaver" && $0.user == nil })
        #expect(machineWide.lockEnabled == SourcedValue(false, source: "/etc/X11/app-defaults/XScreenSaver"))
        let bob = try #require(all.first { $0.desktop == "xscreensaver" && $0.user == "bob" })
        #expect(bob.lockEnabled == SourcedValue(true, source: "~bob/.xscreensaver"))
        #expect(bob.idleDelaySeconds?.value == 300)
        #expect(bob.lockDelaySeconds?.value == 120)
        // ada has no ~/.xscreensaver: the machine-wide entry stands for her.
        #expect(!all.contains { $0.desktop == "xscreensaver" && $0.user == "ada" })
    }

    @Test("logind sessions name who is at the console and their desktop")
    func sessions() throws {
        let machine = try Machine()
        try machine.write("/run/systemd/sessions/2", "# This is private data. Do not parse.\nUID=1000\nUSER=ada\nACTIVE=1\nSTATE=active\nREMOTE=0\nTYPE=wayland\nCLASS=user\nSEAT=seat0\nTTY=tty2\nDESKTOP=GNOME\n")
        try machine.write("/run/systemd/sessions/7", "UID=1001\nUSER=bob\nACTIVE=1\nSTATE=active\nREMOTE=1\nTYPE=tty\nCLASS=user\nREMOTE_HOST=10.0.0.5\n")
        try machine.write("/run/systemd/sessions/2.ref", "")
        let facts = try #require(InventoryCollector(root: FileSystemRoot(machine.root.path)).collect().posture)
        #expect(facts.sessions.map(\.user) == ["ada", "bob"])
        #expect(facts.sessions.filter(\.isConsole).map(\.user) == ["ada"])
        #expect(facts.sessions.first?.desktop == "GNOME")
    }

    @Test("a damaged dconf database is a note, not a crash")
    func damagedDatabase() throws {
        let machine = try Machine()
        try machine.write("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n")
        try machine.write("/etc/dconf/db/local", "GVariant\0\0\0\0\0\0\0\0\u{ff}\u{ff}\u{ff}\u{7f}\0\0\0\0")
        let machineWide = try #require(machine.settings().first { $0.desktop == "gnome" && $0.user == nil })
        #expect(machineWide.notes.contains { $0.hasPrefix("/etc/dconf/db/local is damaged") })
        #expect(machineWide.lockEnabled?.source == "schema default (org.gnome.desktop.screensaver)")
    }
}
