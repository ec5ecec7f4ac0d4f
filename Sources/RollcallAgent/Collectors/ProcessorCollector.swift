import RollcallProtocol

/// CPU model, counts and instruction set from `/proc/cpuinfo`; memory from `/proc/meminfo`.
///
/// The architecture comes from what the CPU says about itself (the `lm` long-mode flag on x86, `CPU architecture`
/// on ARM), not from the agent's own build, so a 32-bit userland on a 64-bit CPU is still reported as `x86_64`.
struct ProcessorCollector {
    /// `cpuinfo` is the text of `/proc/cpuinfo`, read once by the caller (the virtualization check needs it too).
    func collect(cpuinfo: String?) -> Processor {
        cpuinfo.map(Self.parse(cpuinfo:)) ?? Processor()
    }

    static func parse(cpuinfo text: String) -> Processor {
        var processor = Processor()
        var logical = 0
        var sockets = Set<String>()
        var cores = Set<String>()
        var physicalID = "0"
        var coresPerSocket: Int?
        var flags: Set<Substring> = []
        var armArchitecture: String?
        var armImplementer: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: " \t")
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            switch key {
            case "processor":
                logical += 1
            case "model name", "Model Name", "cpu model":
                if processor.model == nil { processor.model = String(value) }
            case "vendor_id":
                if processor.vendor == nil { processor.vendor = String(value) }
            case "physical id":
                physicalID = String(value)
                sockets.insert(physicalID)
            case "core id":
                cores.insert("\(physicalID):\(value)")
            case "cpu cores":
                coresPerSocket = Int(value)
            case "flags":
                if flags.isEmpty { flags = Set(value.split(separator: " ")) }
            case "CPU architecture":
                armArchitecture = String(value)
            case "CPU implementer":
                armImplementer = armImplementer ?? String(value)
            default:
                break
            }
        }
        processor.threads = logical > 0 ? logical : nil
        processor.sockets = sockets.isEmpty ? (logical > 0 ? 1 : nil) : sockets.count
        if !cores.isEmpty {
            processor.cores = cores.count
        } else if let coresPerSocket {
            processor.cores = coresPerSocket * (processor.sockets ?? 1)
        } else if armArchitecture != nil {
            processor.cores = logical  // ARM cores have no SMT in cpuinfo's view
        }
        if processor.vendor != nil {
            processor.architecture = flags.contains("lm") ? "x86_64" : "i686"
        } else if let armArchitecture {
            processor.architecture = armArchitecture == "8" ? "aarch64" : "armv\(armArchitecture)l"
            processor.vendor = armImplementer.map { "ARM implementer \($0)" }
        }
        return processor
    }
}

struct MemoryCollector {
    func collect(_ reader: FactReader) -> Memory {
        guard let text = reader.text("memory", at: "/proc/meminfo") else { return Memory() }
        return Self.parse(meminfo: text)
    }

    static func parse(meminfo text: String) -> Memory {
        var memory = Memory()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let amount = UInt64(parts[1]) else { continue }
            let unit: UInt64 = parts.count >= 3 && parts[2] == "kB" ? 1024 : 1
            switch parts[0] {
            case "MemTotal:": memory.totalBytes = amount * unit
            case "SwapTotal:": memory.swapTotalBytes = amount * unit
            default: break
            }
        }
        return memory
    }
}

extension Substring {
    func trimmingCharacters(in characters: String) -> Substring {
        var result = self
        while let first = result.first, characters.contains(first) { result.removeFirst() }
        while let last = result.last, characters.contains(last) { result.removeLast() }
        return result
    }
}
