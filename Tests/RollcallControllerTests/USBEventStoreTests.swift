import Foundation
@testable import RollcallController
import RollcallProtocol
import Testing

@Suite("USB events, approved media and incidents")
struct USBEventStoreTests {
    static func event(_ action: USBStorageEvent.Action, vendor: String = "0781", product: String = "5567", serial: String? = "4C530001220528110093",
                      at: Date = Date(timeIntervalSince1970: 1_795_000_000), blocked: Bool = false) -> USBStorageEvent {
        USBStorageEvent(
            machineID: "3d1219c7c4c5404aaa1f6d2a48adfda4", agentVersion: "0.1.0", action: action, occurredAt: at, vendorID: vendor, productID: product,
            vendor: "SanDisk", model: "Cruzer Blade", serial: serial, capacityBytes: 16_008_609_792,
            volumes: [USBStorageEvent.Volume(name: "sdb1", filesystem: "vfat", label: "STUDENT", uuid: "1A2B-3C4D", sizeBytes: 16_000_000_000)],
            port: "2-1", idPath: "pci-0000:00:14.0-usb-0:1:1.0-scsi-0:0:0:0", blockDevice: "sdb", consoleUsers: ["ada"],
            approvedByAgentPolicy: false, blocked: blocked, blockError: nil)
    }

    func ingest(_ store: ControllerStore, _ event: USBStorageEvent) async throws -> ReportReceipt {
        try await store.ingestUSBEvent(event, body: String(decoding: try RollcallJSON.encoder().encode(event), as: UTF8.self), deviceID: "dev-1")
    }

    @Test("an unapproved stick opens one incident naming the stick, the port and who was at the console; a retry stores nothing new")
    func unapprovedOpensIncident() async throws {
        try await withStore { fixture in
            let store = fixture.store
            let add = Self.event(.add, blocked: true)
            #expect(try await ingest(store, add).outcome == .stored)
            #expect(try await ingest(store, add).outcome == .duplicate)
            let incidents = try await store.incidents()
            #expect(incidents.count == 1)
            let incident = try #require(incidents.first)
            #expect(incident.kind == "usb-unapproved" && incident.status == .open && incident.involved == "ada" && incident.usbEventID == add.eventID.uuidString)
            #expect(incident.description == "Unapproved USB storage SanDisk Cruzer Blade (0781:5567, serial 4C530001220528110093) plugged into port 2-1 of dev-1; the agent switched it off")
            let events = try await store.usbEvents()
            #expect(events.count == 1 && events[0].approved == false && events[0].blocked && events[0].incidentID == incident.id)
            let audit = try await store.auditEntries()
            #expect(audit.contains { $0.action == "incident.open" && $0.target == "incident \(incident.id)" && $0.actor == "agent:dev-1" })
        }
    }

    @Test("an approved model, or one stick by serial, raises no incident; another serial of that model still does")
    func approvedMedia() async throws {
        try await withStore { fixture in
            let store = fixture.store
            _ = try await store.approveMedia("0781:5567", serial: "4C530001220528110093", description: "Exams office stick", actor: "tech@school")
            #expect(try await ingest(store, Self.event(.add)).outcome == .stored)
            #expect(try await store.incidents().isEmpty)
            _ = try await ingest(store, Self.event(.add, serial: "OTHER-SERIAL-1"))
            #expect(try await store.incidents().count == 1)
            _ = try await store.approveMedia("0951:1666", serial: nil, description: "Kingston DataTraveler (school stock)", actor: "tech@school")
            _ = try await ingest(store, Self.event(.add, vendor: "0951", product: "1666", serial: "ANY"))
            #expect(try await store.incidents().count == 1)
            #expect(try await store.usbEvents().filter(\.approved).count == 2)
        }
    }

    @Test("a stick still present when the agent restarts is the same insertion; after a removal it is a new one")
    func presentAfterRestart() async throws {
        try await withStore { fixture in
            let store = fixture.store
            let start = Date(timeIntervalSince1970: 1_795_000_000)
            _ = try await ingest(store, Self.event(.add, at: start))
            _ = try await ingest(store, Self.event(.present, at: start.addingTimeInterval(60)))
            #expect(try await store.incidents().count == 1)
            _ = try await ingest(store, Self.event(.remove, at: start.addingTimeInterval(120)))
            #expect(try await store.incidents().count == 1)
            _ = try await ingest(store, Self.event(.present, at: start.addingTimeInterval(180)))
            #expect(try await store.incidents().count == 2)
        }
    }

    @Test("approvals are checked, audited, revocable, and change the policy's revision")
    func policyRevision() async throws {
        try await withStore { fixture in
            let store = fixture.store
            await #expect(throws: MediaError.malformedID("SanDisk")) { _ = try await store.approveMedia("SanDisk", serial: nil, description: nil) }
            let empty = try await store.agentPolicy(usb: USBPolicy())
            #expect(empty.approvedMedia.isEmpty && !empty.blockUnapprovedUSBStorage)
            let entry = try await store.approveMedia("0781:5567", serial: nil, description: "SanDisk Cruzer Blade", actor: "tech@school")
            await #expect(throws: MediaError.alreadyApproved(id: entry.id)) { _ = try await store.approveMedia("0781:5567", serial: nil, description: nil) }
            let approved = try await store.agentPolicy(usb: USBPolicy())
            #expect(approved.revision != empty.revision)
            #expect(approved.approves(vendorID: "0781", productID: "5567", serial: "anything"))
            var blocking = USBPolicy()
            blocking.blockUnapproved = true
            let blocked = try await store.agentPolicy(usb: blocking)
            #expect(blocked.blockUnapprovedUSBStorage && blocked.revision != approved.revision)
            try await store.revokeMedia(id: entry.id, actor: "tech@school")
            #expect(try await store.agentPolicy(usb: USBPolicy()) == empty)
            await #expect(throws: MediaError.unknown(id: entry.id)) { try await store.revokeMedia(id: entry.id) }
            let actions = try await store.auditEntries().map(\.action)
            #expect(actions.filter { $0.hasPrefix("media.") } == ["media.approve", "media.revoke"])
        }
    }
}
