import Foundation
@testable import RollcallAgent
import Testing

@Suite("Outbox")
struct OutboxTests {
    @Test("queued reports survive closing and reopening the file, in order")
    func survivesReopen() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("outbox.sqlite").path
        let ids = (0..<3).map { _ in UUID() }
        do {
            let outbox = try Outbox(path: path)
            for id in ids { try outbox.enqueue(reportID: id, kind: "inventory", body: Array("{\"id\":\"\(id)\"}".utf8)) }
        }
        let reopened = try Outbox(path: path)
        #expect(try reopened.status().pendingReportIDs == ids.map(\.uuidString))
        let first = try #require(try reopened.nextPending())
        #expect(first.reportID == ids[0])
        #expect(String(decoding: first.body, as: UTF8.self).contains(ids[0].uuidString))
    }

    @Test("the daemon and `status` opening a new outbox at the same moment both succeed (20 rounds of 6 openers)")
    func concurrentFirstOpen() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for round in 0..<20 {
            let path = directory.appendingPathComponent("outbox-\(round).sqlite").path
            let failures = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        do {
                            _ = try Outbox(path: path).status()
                            return nil
                        } catch {
                            return "\(error)"
                        }
                    }
                }
                return await group.compactMap { $0 }.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(failures.isEmpty, "round \(round): \(failures)")
        }
    }

    @Test("acknowledged reports leave; failures are counted; rejected ones are kept aside and not resent")
    func lifecycle() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outbox = try Outbox(path: directory.appendingPathComponent("outbox.sqlite").path)
        let (a, b, c) = (UUID(), UUID(), UUID())
        for id in [a, b, c] { try outbox.enqueue(reportID: id, kind: "inventory", body: [1, 2, 3]) }
        try outbox.recordFailure(a, error: "Cannot reach the controller")
        #expect(try outbox.nextPending()?.attempts == 1)
        try outbox.acknowledge(a)
        try outbox.reject(b, reason: "controller refused report (400)")
        let status = try outbox.status()
        #expect(status.pending == 1 && status.rejected == 1)
        #expect(status.lastUploadReportID == a.uuidString)
        #expect(status.lastError == nil)
        #expect(try outbox.nextPending()?.reportID == c)
    }

    @Test("the same report id queued twice is stored once")
    func idempotentEnqueue() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outbox = try Outbox(path: directory.appendingPathComponent("outbox.sqlite").path)
        let id = UUID()
        try outbox.enqueue(reportID: id, kind: "inventory", body: [1])
        try outbox.enqueue(reportID: id, kind: "inventory", body: [1])
        #expect(try outbox.status().pending == 1)
    }

    @Test("beyond the limit, the oldest pending snapshots are superseded by newer ones")
    func trimsOldSnapshots() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outbox = try Outbox(path: directory.appendingPathComponent("outbox.sqlite").path, maxPendingSnapshots: 2)
        let ids = (0..<4).map { _ in UUID() }
        for id in ids { try outbox.enqueue(reportID: id, kind: "inventory", body: [0]) }
        #expect(try outbox.status().pendingReportIDs == ids.suffix(2).map(\.uuidString))
    }

    @Test("an outbox file that is not SQLite is refused with the path in the message")
    func corruptFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("outbox.sqlite").path
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        #expect { _ = try Outbox(path: path) } throws: { "\($0)".contains("SQLite error") }
    }

    @Test("backoff grows exponentially to its cap and jitters within half to all of the ceiling")
    func backoff() {
        let backoff = Backoff(baseSeconds: 5, capSeconds: 300)
        #expect((1...8).map { backoff.ceiling(afterFailures: $0) } == [5, 10, 20, 40, 80, 160, 300, 300])
        var generator = SystemRandomNumberGenerator()
        for failures in 1...10 {
            let delay = backoff.delay(afterFailures: failures, using: &generator)
            let ceiling = backoff.ceiling(afterFailures: failures)
            #expect(delay >= ceiling / 2 && delay <= ceiling)
        }
    }
}
