#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import RollcallProtocol
import Synchronization

/// The controller's last policy, kept in the state directory so it is enforced offline and after a restart.
public final class PolicyCache: Sendable {
    private let path: String
    private let state: Mutex<AgentPolicy>

    /// Nothing approved, nothing blocked: what an agent does before it has heard from its controller.
    public static let initial = AgentPolicy(revision: "none", blockUnapprovedUSBStorage: false, approvedMedia: [])

    public init(stateDirectory: String) {
        path = stateDirectory + "/policy.json"
        let stored = FileSystemRoot.system.readBytes(path).flatMap { bytes in
            Result { try RollcallJSON.decoder().decode(AgentPolicy.self, from: Data(bytes)) }.mapError { _ in ReadFailure(reason: "unreadable") }
        }
        state = Mutex((try? stored.get()) ?? Self.initial)
    }

    public var current: AgentPolicy { state.withLock { $0 } }

    /// Keeps a new policy; returns whether it changed.
    @discardableResult
    public func update(_ policy: AgentPolicy) throws -> Bool {
        guard policy != current else { return false }
        try AgentEnrolment.writeAtomically(Array(try RollcallJSON.encoder().encode(policy)), to: path, mode: 0o600)
        state.withLock { $0 = policy }
        return true
    }
}
