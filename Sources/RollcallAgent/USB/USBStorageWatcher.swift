#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
import CUdev
public import RollcallProtocol
#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// A USB mass-storage device as udev describes it, before the agent decides what it means.
public struct USBStorageObservation: Sendable, Equatable {
    public enum Action: String, Sendable { case add, present, remove }

    public var action: Action
    public var seenAt: Date
    public var vendorID: String
    public var productID: String
    public var vendor: String?
    public var model: String?
    public var serial: String?
    public var capacityBytes: UInt64?
    /// Partitions, or the disk itself when it has no partition table.
    public var volumes: [USBStorageEvent.Volume] = []
    /// The USB device's kernel name (`2-1.4`): its port.
    public var port: String
    /// `/sys/devices/…/2-1.4`, as udev gives it.
    public var usbSysPath: String
    public var idPath: String?
    public var blockDevice: String
}

/// Watches the kernel's device events through libudev for USB mass storage being plugged in and out.
///
/// One observation per stick: the disk's `add` opens it, and the partitions that follow within
/// ``settleSeconds`` are added to it (udev announces a stick as a USB device, an interface, a SCSI host, target and
/// device, the disk, then each partition); a disk without a partition table is reported at once. The agent also lists what is already plugged in when it starts, so a
/// stick inserted while it was stopped is not missed. Between events the monitor's socket is idle: no polling.
///
/// `@unchecked Sendable`: the udev context, monitor and enumerations are C handles that libudev does not make
/// thread-safe, and every one is created, used and freed on ``queue`` only (or in `deinit`, when no block on the
/// queue can hold the watcher any more: the blocks capture it weakly).
public final class USBStorageWatcher: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible {
        case udevUnavailable(String)

        public var description: String {
            switch self {
            case .udevUnavailable(let what): "Cannot watch USB devices: \(what). Is this a system with udev (systemd-udevd running)?"
            }
        }
    }

    /// How long to wait after a disk appears for its partitions before reporting it.
    public let settleSeconds: Double
    private let queue = DispatchQueue(label: "rollcall.usb-watcher")
    private let onObservation: @Sendable (USBStorageObservation) -> Void
    /// Called on the watcher's queue as soon as the disk appears, before the settle wait: the place to block it.
    private let onArrival: @Sendable (USBStorageObservation) -> Void

    // Touched on `queue` only.
    private var udev: OpaquePointer?
    private var monitor: OpaquePointer?
    private var source: (any DispatchSourceRead)?
    private var pending: [String: USBStorageObservation] = [:]

    public init(settleSeconds: Double = 0.3, onArrival: @escaping @Sendable (USBStorageObservation) -> Void = { _ in },
                onObservation: @escaping @Sendable (USBStorageObservation) -> Void) {
        self.settleSeconds = settleSeconds
        self.onArrival = onArrival
        self.onObservation = onObservation
    }

    deinit {
        // stop() has run or start() never did; freeing here covers a watcher dropped without stop(). No block on the
        // queue is running: each holds the watcher strongly while it runs, and deinit means none does.
        source?.cancel()
        if let monitor { udev_monitor_unref(monitor) }
        if let udev { udev_unref(udev) }
    }

    /// Starts listening, then lists the sticks already present (listening first, so none slips between the two).
    /// Returns those present; later ones arrive through `onObservation`.
    public func start() throws(Failure) -> [USBStorageObservation] {
        let result: Result<[USBStorageObservation], Failure> = queue.sync {
            guard let context = udev_new() else { return .failure(.udevUnavailable("udev_new failed")) }
            udev = context
            guard let monitor = udev_monitor_new_from_netlink(context, "udev") else {
                return .failure(.udevUnavailable("cannot open the udev netlink monitor"))
            }
            self.monitor = monitor
            udev_monitor_filter_add_match_subsystem_devtype(monitor, "block", nil)
            guard udev_monitor_enable_receiving(monitor) >= 0 else {
                return .failure(.udevUnavailable("cannot bind the udev monitor: \(String(cString: strerror(errno)))"))
            }
            let descriptor = udev_monitor_get_fd(monitor)
            let source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            source.setEventHandler { [weak self] in self?.receive() }
            source.resume()
            self.source = source
            return .success(enumeratePresent())
        }
        return try result.get()
    }

    /// Stops listening. Observations still settling are dropped: the agent lists present sticks at its next start.
    public func stop() {
        queue.sync {
            source?.cancel()
            source = nil
            pending.removeAll()
            if let monitor { udev_monitor_unref(monitor) }
            monitor = nil
            if let udev { udev_unref(udev) }
            udev = nil
        }
    }

    // MARK: On the queue

    private func receive() {
        guard let monitor else { return }
        while let device = udev_monitor_receive_device(monitor) {
            defer { udev_device_unref(device) }
            handle(device, action: udev_device_get_action(device).map { String(cString: $0) } ?? "")
        }
    }

    private func handle(_ device: OpaquePointer, action: String) {
        let devtype = Self.string(udev_device_get_devtype(device))
        let syspath = Self.string(udev_device_get_syspath(device)) ?? ""
        switch (action, devtype) {
        case ("add", "disk"):
            guard var observation = describe(disk: device, action: .add) else { return }
            observation.volumes = Self.ownFilesystem(device)
            pending[syspath] = observation
            onArrival(observation)
            // Without a partition table (a filesystem on the whole disk, or a blank stick) no partition will follow.
            if udev_device_get_property_value(device, "ID_PART_TABLE_TYPE") == nil {
                settle(syspath)
            } else {
                queue.asyncAfter(deadline: .now() + settleSeconds) { [weak self] in self?.settle(syspath) }
            }
        case ("add", "partition"):
            guard let parent = udev_device_get_parent_with_subsystem_devtype(device, "block", "disk"),
                  let parentPath = Self.string(udev_device_get_syspath(parent)), pending[parentPath] != nil else { return }
            pending[parentPath]?.volumes.append(Self.volume(device))
        case ("remove", "disk"):
            pending[syspath] = nil
            if let observation = describe(disk: device, action: .remove) { onObservation(observation) }
        default:
            return
        }
    }

    private func settle(_ syspath: String) {
        guard let observation = pending.removeValue(forKey: syspath) else { return }
        onObservation(observation)
    }

    private func enumeratePresent() -> [USBStorageObservation] {
        guard let udev, let enumerate = udev_enumerate_new(udev) else { return [] }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, "block")
        udev_enumerate_add_match_property(enumerate, "DEVTYPE", "disk")
        udev_enumerate_scan_devices(enumerate)
        var found: [USBStorageObservation] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            entry = udev_list_entry_get_next(current)
            guard let path = udev_list_entry_get_name(current), let disk = udev_device_new_from_syspath(udev, path) else { continue }
            defer { udev_device_unref(disk) }
            guard var observation = describe(disk: disk, action: .present) else { continue }
            observation.volumes = Self.ownFilesystem(disk) + partitions(of: disk)
            found.append(observation)
        }
        return found
    }

    private func partitions(of disk: OpaquePointer) -> [USBStorageEvent.Volume] {
        guard let udev, let enumerate = udev_enumerate_new(udev) else { return [] }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_parent(enumerate, disk)
        udev_enumerate_add_match_property(enumerate, "DEVTYPE", "partition")
        udev_enumerate_scan_devices(enumerate)
        var volumes: [USBStorageEvent.Volume] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            entry = udev_list_entry_get_next(current)
            guard let path = udev_list_entry_get_name(current), let partition = udev_device_new_from_syspath(udev, path) else { continue }
            defer { udev_device_unref(partition) }
            volumes.append(Self.volume(partition))
        }
        return volumes.sorted { $0.name < $1.name }
    }

    /// A block disk whose ancestors include a USB device: its identity from the USB device's attributes, with
    /// udev's properties (from the stick's SCSI inquiry) as the fallback.
    private func describe(disk: OpaquePointer, action: USBStorageObservation.Action) -> USBStorageObservation? {
        let property = { (name: String) in Self.string(udev_device_get_property_value(disk, name)) }
        // The parent is borrowed from the disk: it lives as long as the disk and is not unref'd here.
        let usb = udev_device_get_parent_with_subsystem_devtype(disk, "usb", "usb_device")
        guard usb != nil || property("ID_BUS") == "usb" else { return nil }
        let attribute = { (name: String) in usb.flatMap { Self.string(udev_device_get_sysattr_value($0, name)) } }
        guard let vendorID = (attribute("idVendor") ?? property("ID_VENDOR_ID"))?.lowercased(),
              let productID = (attribute("idProduct") ?? property("ID_MODEL_ID"))?.lowercased() else { return nil }
        let sectors = Self.string(udev_device_get_sysattr_value(disk, "size")).flatMap { UInt64($0) }
        return USBStorageObservation(
            action: action, seenAt: Date(), vendorID: vendorID, productID: productID,
            vendor: attribute("manufacturer") ?? property("ID_VENDOR"), model: attribute("product") ?? property("ID_MODEL"),
            serial: attribute("serial") ?? property("ID_SERIAL_SHORT"), capacityBytes: sectors.map { $0 * 512 },
            port: usb.flatMap { Self.string(udev_device_get_sysname($0)) } ?? "",
            usbSysPath: usb.flatMap { Self.string(udev_device_get_syspath($0)) } ?? "",
            idPath: property("ID_PATH"), blockDevice: Self.string(udev_device_get_sysname(disk)) ?? "")
    }

    /// A stick formatted without a partition table carries its filesystem on the disk itself.
    private static func ownFilesystem(_ disk: OpaquePointer) -> [USBStorageEvent.Volume] {
        guard udev_device_get_property_value(disk, "ID_FS_TYPE") != nil else { return [] }
        return [volume(disk)]
    }

    private static func volume(_ device: OpaquePointer) -> USBStorageEvent.Volume {
        let property = { (name: String) in string(udev_device_get_property_value(device, name)) }
        return USBStorageEvent.Volume(
            name: string(udev_device_get_sysname(device)) ?? "", filesystem: property("ID_FS_TYPE"), label: property("ID_FS_LABEL"),
            uuid: property("ID_FS_UUID"), sizeBytes: string(udev_device_get_sysattr_value(device, "size")).flatMap { UInt64($0) }.map { $0 * 512 })
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        pointer.map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    }
}
