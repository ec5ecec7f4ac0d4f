public import Hummingbird
import Foundation
import RollcallProtocol

/// An error meant for the API client: a status, a stable code and a message, sent as ``APIErrorBody`` JSON.
///
/// Anything that is not an `APIError` becomes Hummingbird's empty 500 and is logged, so internal details
/// (SQL, paths, stack traces) never reach a client.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Seconds for a `Retry-After` header (429).
    public var retryAfter: Int?
    /// The methods a path does take, for the `Allow` header of a 405.
    public var allow: [String]?

    public init(_ status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = (try? RollcallJSON.encoder().encode(APIErrorBody(code: code, message: message))) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let allow { headers[.allow] = allow.joined(separator: ", ") }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Gives every error the API's JSON shape, whatever threw it: Hummingbird's own (no such route, bad parameter)
/// keep their status; anything unexpected becomes a 500 that names the request id and is logged in full here,
/// so the client never sees SQL, a path or a stack trace.
struct JSONErrorMiddleware: RouterMiddleware {
    typealias Context = ControllerRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let refusal as DashboardRefusal {
            throw refusal
        } catch let error as HTTPError {
            if error.status == .notFound, let allowed = APIRoutes.methods(for: request.uri.path), !allowed.contains(request.method.rawValue) {
                var refusal = APIError(.methodNotAllowed, code: "method_not_allowed",
                                       message: "\(request.uri.path) takes \(allowed.joined(separator: ", ")), not \(request.method.rawValue).")
                refusal.allow = allowed
                throw refusal
            }
            let code = switch error.status {
            case .notFound: "not_found"
            case .methodNotAllowed: "method_not_allowed"
            case .contentTooLarge: "request_too_large"
            case .badRequest: "bad_request"
            default: "http_\(error.status.code)"
            }
            let message = error.status == .notFound
                ? "No route \(request.method.rawValue) \(request.uri.path); controller/openapi.yaml lists the API."
                : (error.body ?? error.status.reasonPhrase)
            throw APIError(error.status, code: code, message: message)
        } catch {
            context.logger.error("Request failed", metadata: ["ctl.error": "\(String(reflecting: error))"])
            throw APIError(.internalServerError, code: "internal_error",
                           message: "The controller could not handle this request; its log has the details (request id \(context.id)).")
        }
    }
}

extension APIError {
    static func rateLimited(retryAfter seconds: Int) -> APIError {
        var error = APIError(.tooManyRequests, code: "rate_limited", message: "Too many requests; try again in \(seconds) s.")
        error.retryAfter = seconds
        return error
    }
}
