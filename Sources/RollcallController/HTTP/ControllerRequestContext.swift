public import Hummingbird
import NIOCore

/// What one request carries through the middleware: who sent it on the network, and which enrolled device proved
/// it sent it (set only by ``AgentAuthenticator``, so a handler that reads `device` knows the signature checked out).
public struct ControllerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address, or "unknown" when the transport has none (tests that skip the network).
    public let remoteAddress: String
    public var device: EnrolledDevice?
    /// The signed-in person (a browser's session cookie or an API token), set only by ``DashboardAuthenticator``.
    public var session: DashboardSession?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        device = nil
        session = nil
    }
}
