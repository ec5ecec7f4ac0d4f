#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
public import Logging
public import RollcallProtocol
import Synchronization

/// Turns what the watcher sees into USB events in the outbox, and blocks unapproved sticks when the policy says so.
///
/// Runs on the watcher's queue: the event is on disk (the outbox commits with `synchronous=FULL`) before the
/// daemon is woken to deliver it, so a crash or a dead network after that loses nothing.
public final class USBEventRecorder: Sendable {
    private let root: FileSystemRoot
    private let machineID: String
    private let policy: PolicyCache
    private let logger: Logger
    private let doorbell: Doorbell
    /// The recorder's own outbox connection (SQLite allows one per thread of use); used on the watcher queue only.
    private let outbox: Mutex<Outbox>
    /// usb device syspath → the block result, from the disk's arrival to its settled event.
    private let blocked = Mutex<[String: (blocked: Bool, error: String?)]>([:])

    public init(root: FileSystemRoot, machineID: String, outboxPath: String, policy: PolicyCache, doorbell: Doorbell, logger: Logger) throws(SQLiteError) {
        self.root = root
        self.machineID = machineID
        self.policy = policy
        self.doorbell = doorbell
        self.logger = logger
        self.outbox = Mutex(try Outbox(path: outboxPath))
    }

    /// The disk has just appeared: switch it off now, before a desktop can mount it, if the policy says so.
    public func arrived(_ observation: USBStorageObservation) {
        let current = policy.current
        guard current.blockUnapprovedUSBStorage, observation.action != .remove,
              !current.approves(vendorID: observation.vendorID, productID: observation.productID, serial: observation.serial) else { return }
        let result = USBBlocker(root: root).block(usbSysPath: observation.usbSysPath, port: observation.port)
        blocked.withLock { $0[observation.usbSysPath] = result }
        if let error = result.error {
            logger.error("Could not block unapproved USB storage", metadata: [
                "agent.usb.device": "\(observation.vendorID):\(observation.productID)", "agent.usb.port": "\(observation.port)",
                "agent.reason": "\(error)",
            ])
        }
    }

    /// Queues the event and wakes the daemon to deliver it.
    public func record(_ observation: USBStorageObservation) {
        let current = policy.current
        let block = observation.action == .remove ? nil : blocked.withLock { $0.removeValue(forKey: observation.usbSysPath) }
        let console = SessionCollector().collect(FactReader(root: root)).filter(\.isConsole).map(\.user)
        let event = USBStorageEvent(
            machineID: machineID, agentVersion: InventoryCollector.agentVersion,
            action: USBStorageEvent.Action(rawValue: observation.action.rawValue) ?? .add, occurredAt: observation.seenAt,
            vendorID: observation.vendorID, productID: observation.productID, vendor: observation.vendor, model: observation.model,
            serial: observation.serial, capacityBytes: observation.capacityBytes,
            volumes: observation.volumes,
            port: observation.port, idPath: observation.idPath, blockDevice: observation.blockDevice,
            consoleUsers: Array(Set(console)).sorted(),
            approvedByAgentPolicy: current.approves(vendorID: observation.vendorID, productID: observation.productID, serial: observation.serial),
            blocked: block?.blocked ?? false, blockError: block?.error)
        do {
            let body = try RollcallJSON.encoder().encode(event)
            try outbox.withLock { try $0.enqueue(reportID: event.eventID, kind: USBStorageEvent.outboxKind, body: Array(body)) }
        } catch {
            logger.error("Could not queue a USB event", metadata: ["agent.reason": "\(error)"])
            return
        }
        logger.notice("USB storage \(observation.action.rawValue)", metadata: [
            "agent.usb.event": "\(event.eventID)", "agent.usb.device": "\(event.vendorID):\(event.productID)",
            "agent.usb.port": "\(event.port)", "agent.usb.approved": "\(event.approvedByAgentPolicy)", "agent.usb.blocked": "\(event.blocked)",
        ])
        doorbell.ring()
    }
}

extension USBStorageEvent {
    /// The outbox `kind` of USB events (inventory snapshots are `inventory`).
    static let outboxKind = "usb-event"
}

/// Switches a USB device off through its `authorized` attribute (the kernel's USB authorisation, as USBGuard
/// uses): the device's drivers are unbound, its disk disappears, and it stays off until unplugged.
struct USBBlocker {
    let root: FileSystemRoot

    func block(usbSysPath: String, port: String) -> (blocked: Bool, error: String?) {
        let candidates = (port.isEmpty ? [] : ["/sys/bus/usb/devices/\(port)/authorized"]) + (usbSysPath.isEmpty ? [] : [usbSysPath + "/authorized"])
        var lastError = "the USB device of this disk was not found"
        for path in candidates {
            let fd = open(root.hostPath(path), O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                lastError = "\(path): \(ReadFailure(errno: errno).reason)"
                continue
            }
            let written = write(fd, "0", 1)
            let code = errno
            close(fd)
            if written == 1 { return (true, nil) }
            lastError = "\(path): \(String(cString: strerror(code)))"
        }
        return (false, lastError)
    }
}
