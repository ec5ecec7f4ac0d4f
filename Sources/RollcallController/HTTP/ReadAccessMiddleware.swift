import Hummingbird

/// Serves the read routes only to the networks in `[server] read_allowed_from`: until the dashboard has sign-in
/// and roles, the network is what separates a technician from a pupil.
struct ReadAccessMiddleware: RouterMiddleware {
    typealias Context = ControllerRequestContext
    let allowed: [AddressRange]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard allowed.contains(where: { $0.contains(context.remoteAddress) }) else {
            throw APIError(.forbidden, code: "address_not_allowed",
                           message: "\(request.uri.path) is served only to [server] read_allowed_from in controller.toml; \(context.remoteAddress) is not in it.")
        }
        return try await next(request, context)
    }
}
