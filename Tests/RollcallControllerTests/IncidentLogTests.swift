import Foundation
@testable import RollcallController
import RollcallProtocol
import RollcallTestSupport
import Testing

@Suite("The incident log")
struct IncidentLogTests {
    @Test("a manual incident keeps every field of the log; actions, outcome and closing are each audited")
    func manualIncident() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        _ = try await fixture.store.ingest(sampleReport(), body: "{}", deviceID: "ict-01")
        let occurred = Date(timeIntervalSince1970: 1_795_170_000)
        let new = NewIncident(category: .cyberbullying, occurredAt: occurred, reportedBy: "Mrs J Smith (Head of Year 9)", location: "ICT suite 2",
                              involved: "pupils 9A-14 and 9C-03", description: "Abusive messages sent from ict-suite-01 to a classmate's school account",
                              deviceID: "ict-01", actions: [.safeguarding, .headTeacher])
        let opened = try await fixture.store.addIncident(new, actor: "tech@server")
        #expect(opened.kind == "cyberbullying" && opened.category == .cyberbullying && opened.status == .open)
        #expect(opened.reportedBy == "Mrs J Smith (Head of Year 9)" && opened.location == "ICT suite 2" && opened.involved == "pupils 9A-14 and 9C-03")
        #expect(opened.occurredAt == occurred && opened.deviceID == "ict-01")
        #expect(opened.actions == [.headTeacher, .safeguarding], "kept in the list's order")

        await #expect(throws: IncidentError.closeNeedsOutcome(id: opened.id)) {
            try await fixture.store.updateIncident(id: opened.id, IncidentUpdate(status: .closed), actor: "tech@server")
        }
        let updated = try await fixture.store.updateIncident(id: opened.id, IncidentUpdate(addActions: [.disciplinary, .policyReview],
                                                                                            removeActions: [.headTeacher], outcome: "Parents met; sanctions applied"),
                                                             actor: "dsl@server")
        #expect(updated.actions == [.safeguarding, .disciplinary, .policyReview] && updated.outcome == "Parents met; sanctions applied")
        let closed = try await fixture.store.updateIncident(id: opened.id, IncidentUpdate(status: .closed), actor: "dsl@server")
        #expect(closed.status == .closed)
        let stillOpen = try await fixture.store.incidents(status: .open)
        let closedOnes = try await fixture.store.incidents(status: .closed)
        #expect(stillOpen.isEmpty && closedOnes.count == 1)

        let history = try await fixture.store.incidentHistory(id: opened.id).map { "\($0.actor) \($0.action): \($0.detail)" }
        #expect(history == [
            "tech@server incident.open: cyberbullying, reported by Mrs J Smith (Head of Year 9): Abusive messages sent from ict-suite-01 to a classmate's school account",
            "dsl@server incident.action: added: disciplinary action, policy to be reviewed",
            "dsl@server incident.action: removed: reported to head teacher",
            "dsl@server incident.outcome: - → Parents met; sanctions applied",
            "dsl@server incident.close: Parents met; sanctions applied",
        ])
        #expect(try await fixture.store.verifyAuditLog().isIntact)
    }

    @Test("refusals: no description, an unknown device, an unknown incident, an empty change; nothing is written")
    func refusals() async throws {
        let fixture = try await ControllerFixture.make()
        defer { Task { await fixture.tearDown() } }
        let blank = NewIncident(category: .other, occurredAt: Date(), reportedBy: nil, location: nil, involved: nil, description: "  ")
        await #expect(throws: IncidentError.emptyDescription) { try await fixture.store.addIncident(blank) }
        let ghost = NewIncident(category: .misuse, occurredAt: Date(), reportedBy: nil, location: nil, involved: nil, description: "x", deviceID: "nope")
        await #expect(throws: IncidentError.unknownDevice("nope")) { try await fixture.store.addIncident(ghost) }
        await #expect(throws: IncidentError.unknown(id: 99)) { try await fixture.store.updateIncident(id: 99, IncidentUpdate(outcome: "x")) }
        await #expect(throws: IncidentError.nothingToChange(id: 1)) { try await fixture.store.updateIncident(id: 1, IncidentUpdate()) }
        let incidents = try await fixture.store.incidents()
        let audit = try await fixture.store.auditEntries()
        #expect(incidents.isEmpty && audit.isEmpty)
    }
}
