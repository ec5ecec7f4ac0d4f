import RollcallProtocol

/// Reads the SMBIOS identity the kernel exports under `/sys/class/dmi/id`.
///
/// Serial numbers and the product UUID are readable by root only. Manufacturers leave placeholders such as
/// "To Be Filled By O.E.M." in unset fields; those are reported absent (with the placeholder in the reason) so the
/// equipment register never matches two machines on a junk serial.
struct SystemIdentityCollector {
    static let directory = "/sys/class/dmi/id"

    func collect(_ reader: FactReader) -> SystemIdentity {
        var identity = SystemIdentity()
        guard reader.root.isDirectory(Self.directory) else {
            reader.note(
                "system", Self.directory,
                "no DMI/SMBIOS tables exported by the firmware (usual for microVMs such as Firecracker and for many ARM boards)")
            return identity
        }
        func dmi(_ field: String, _ file: String) -> String? {
            let path = "\(Self.directory)/\(file)"
            guard let raw = reader.value("system.\(field)", at: path) else { return nil }
            if Self.isPlaceholder(raw) {
                reader.note("system.\(field)", path, "placeholder value '\(raw)' left by the manufacturer")
                return nil
            }
            return raw
        }
        identity.vendor = dmi("vendor", "sys_vendor")
        identity.product = dmi("product", "product_name")
        identity.version = dmi("version", "product_version")
        identity.serial = dmi("serial", "product_serial")
        identity.uuid = dmi("uuid", "product_uuid")
        identity.family = dmi("family", "product_family")
        identity.sku = dmi("sku", "product_sku")
        identity.boardVendor = dmi("boardVendor", "board_vendor")
        identity.boardName = dmi("boardName", "board_name")
        identity.boardSerial = dmi("boardSerial", "board_serial")
        identity.chassisSerial = dmi("chassisSerial", "chassis_serial")
        identity.assetTag = dmi("assetTag", "chassis_asset_tag")
        identity.biosVendor = dmi("biosVendor", "bios_vendor")
        identity.biosVersion = dmi("biosVersion", "bios_version")
        identity.biosDate = dmi("biosDate", "bios_date")
        if let code = dmi("chassisType", "chassis_type").flatMap({ Int($0) }) {
            identity.chassisType = code
            identity.chassisTypeName = Self.chassisTypeName(code)
        }
        return identity
    }

    /// Values firmware vendors ship in fields they did not fill in (compared case-insensitively).
    static let placeholders: Set<String> = [
        "to be filled by o.e.m.", "to be filled by oem", "default string", "system serial number",
        "system product name", "system manufacturer", "system version", "not specified", "not applicable",
        "none", "n/a", "na", "oem", "o.e.m.", "invalid", "unknown", "base board serial number",
        "chassis serial number", "asset tag", "no asset tag", "asset-1234567890", "type1productconfigid",
        "0", "00000000", "0000000000", "0123456789", "1234567890", "123456789", "xxxxxxxxxxxx",
        "03000200-0400-0500-0006-000700080009", "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ]

    static func isPlaceholder(_ value: String) -> Bool {
        let lowered = value.lowercased()
        if placeholders.contains(lowered) { return true }
        // A value made of one repeated character ("            ", "FFFFFFFF", "........").
        if let first = lowered.first, lowered.allSatisfy({ $0 == first }), lowered.count > 2 { return true }
        return false
    }

    /// SMBIOS 3.x, table 17 (System Enclosure or Chassis Types).
    static func chassisTypeName(_ code: Int) -> String {
        let names = [
            1: "Other", 2: "Unknown", 3: "Desktop", 4: "Low Profile Desktop", 5: "Pizza Box", 6: "Mini Tower",
            7: "Tower", 8: "Portable", 9: "Laptop", 10: "Notebook", 11: "Hand Held", 12: "Docking Station",
            13: "All in One", 14: "Sub Notebook", 15: "Space-saving", 16: "Lunch Box", 17: "Main Server Chassis",
            18: "Expansion Chassis", 19: "SubChassis", 20: "Bus Expansion Chassis", 21: "Peripheral Chassis",
            22: "RAID Chassis", 23: "Rack Mount Chassis", 24: "Sealed-case PC", 25: "Multi-system Chassis",
            26: "Compact PCI", 27: "Advanced TCA", 28: "Blade", 29: "Blade Enclosure", 30: "Tablet",
            31: "Convertible", 32: "Detachable", 33: "IoT Gateway", 34: "Embedded PC", 35: "Mini PC", 36: "Stick PC",
        ]
        return names[code] ?? "Type \(code)"
    }
}
