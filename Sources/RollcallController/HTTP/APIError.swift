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
