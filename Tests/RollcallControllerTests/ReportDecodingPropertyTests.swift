import Foundation
@testable import RollcallController
import RollcallProtocol
import Testing

/// A deterministic generator (SplitMix64), so a failing input can be reproduced from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Report decoder under generated input")
struct ReportDecodingPropertyTests {
    static let valid = Array(try! RollcallJSON.encoder().encode(sampleReport()))

    /// One mutation of a valid report: what a flaky network, a buggy agent or a pupil with curl might send.
    static func mutate(_ bytes: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        let interesting: [[UInt8]] = [
            Array("null".utf8), Array("-1".utf8), Array("1e400".utf8), Array("\"\\ud800\"".utf8), Array("[]".utf8), Array("{}".utf8),
            Array("\"".utf8), Array("\\".utf8), [0x00], [0xFF, 0xFE], Array("18446744073709551616".utf8), Array("true".utf8),
        ]
        for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
            let index = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.removeSubrange(index...)
            case 2: bytes.insert(contentsOf: interesting.randomElement(using: &random)!, at: index)
            case 3: bytes.remove(at: index)
            case 4:
                let end = min(bytes.count, index + Int.random(in: 1...64, using: &random))
                bytes.replaceSubrange(index..<end, with: interesting.randomElement(using: &random)!)
            default:
                let end = min(bytes.count, index + Int.random(in: 1...200, using: &random))
                bytes.insert(contentsOf: bytes[index..<end], at: index)
            }
        }
        return bytes
    }

    @Test("3,000 mutated reports each decode or get a 4xx with a message, never a crash or a 5xx", arguments: [1, 2, 3])
    func mutatedReports(seed: UInt64) {
        var random = SeededGenerator(state: seed)
        var refused = 0, accepted = 0
        for _ in 0..<1_000 {
            let body = Self.mutate(Self.valid, using: &random)
            do {
                _ = try ReportDecoding.decode(Data(body))
                accepted += 1
            } catch {
                refused += 1
                #expect((400..<500).contains(Int(error.status.code)), "seed \(seed): \(error.code)")
                #expect(!error.message.isEmpty && error.message.utf8.count < 2_000, "seed \(seed): message of \(error.message.utf8.count) bytes")
            }
        }
        #expect(refused > 500, "the mutations break most reports (refused \(refused), accepted \(accepted))")
    }

    @Test("random bytes and random JSON values are refused with a 4xx", arguments: [7, 8])
    func randomInput(seed: UInt64) {
        var random = SeededGenerator(state: seed)
        func value(depth: Int) -> Any {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &random) {
            case 0: return Int.random(in: Int.min...Int.max, using: &random)
            case 1: return String((0..<Int.random(in: 0...20, using: &random)).map { _ in Character(Unicode.Scalar(UInt8.random(in: 32...126, using: &random))) })
            case 2: return Bool.random(using: &random)
            case 3: return NSNull()
            case 4: return (0..<Int.random(in: 0...4, using: &random)).map { _ in value(depth: depth + 1) }
            default:
                let keys = ["schemaVersion", "reportID", "collectedAt", "agent", "hardware", "software", "absent", "x"]
                var object: [String: Any] = [:]
                for _ in 0..<Int.random(in: 0...6, using: &random) { object[keys.randomElement(using: &random)!] = value(depth: depth + 1) }
                if Bool.random(using: &random) { object["schemaVersion"] = 1 }
                return object
            }
        }
        for round in 0..<1_000 {
            let body: Data
            if round % 2 == 0 {
                body = Data((0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
            } else {
                body = (try? JSONSerialization.data(withJSONObject: [value(depth: 0)], options: [.fragmentsAllowed])) ?? Data()
            }
            do {
                _ = try ReportDecoding.decode(body)
                Issue.record("seed \(seed) round \(round): random input was accepted as a report")
            } catch {
                #expect((400..<500).contains(Int(error.status.code)))
            }
        }
    }
}
