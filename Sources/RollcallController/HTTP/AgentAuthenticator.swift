import Crypto
import Foundation
import HTTPTypes
public import Hummingbird
import NIOCore
import RollcallProtocol

/// Lets a request through only if an enrolled, unrevoked device signed it, just now, once (``RequestSignature``).
///
/// The checks run cheapest first and the body is read only for a device that exists, so an unsigned flood costs
/// no store writes; failures count against the sender's address in the rate limiter. Every refusal is a 401 or 403 with a code the agent logs; none says more than the client
/// already knows. The device that passed is put in ``ControllerRequestContext/device`` for the handler.
public struct AgentAuthenticator: RouterMiddleware {
    public typealias Context = ControllerRequestContext

    let store: ControllerStore
    let limiter: RateLimiter
    let maxBodyBytes: Int

    static let deviceField = HTTPField.Name(RequestSignature.deviceHeader)!
    static let timestampField = HTTPField.Name(RequestSignature.timestampHeader)!
    static let nonceField = HTTPField.Name(RequestSignature.nonceHeader)!
    static let signatureField = HTTPField.Name(RequestSignature.signatureHeader)!

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        var context = context
        do {
            context.device = try await authenticate(&request, remoteAddress: context.remoteAddress)
        } catch let refusal as APIError where refusal.status == .unauthorized {
            // Failed attempts count against the sender's address, so guessing costs the guesser, not the device.
            if let wait = await limiter.admit("address:" + context.remoteAddress) { throw APIError.rateLimited(retryAfter: wait) }
            throw refusal
        }
        if let device = context.device {
            context.logger[metadataKey: "ctl.device.id"] = "\(device.id)"
        }
        return try await next(request, context)
    }

    private func authenticate(_ request: inout Request, remoteAddress: String) async throws -> EnrolledDevice {
        let headers = request.headers
        guard let deviceID = headers[Self.deviceField], let timestampText = headers[Self.timestampField],
              let nonce = headers[Self.nonceField], let signatureText = headers[Self.signatureField] else {
            throw APIError(.unauthorized, code: "unsigned_request",
                           message: "This route takes only requests signed by an enrolled agent (headers \(RequestSignature.deviceHeader), \(RequestSignature.timestampHeader), \(RequestSignature.nonceHeader), \(RequestSignature.signatureHeader)). Enrol the workstation with `rollcall-agent enrol`.")
        }
        guard let timestamp = Int64(timestampText) else {
            throw APIError(.unauthorized, code: "bad_signature", message: "\(RequestSignature.timestampHeader) must be whole seconds since 1970.")
        }
        let now = Int64(Date().timeIntervalSince1970)
        guard abs(now - timestamp) <= RequestSignature.maximumClockSkewSeconds else {
            throw APIError(.unauthorized, code: "clock_skew",
                           message: "The request is stamped \(timestamp - now) s from the controller's clock (more than \(RequestSignature.maximumClockSkewSeconds) s): check the workstation's time (NTP).")
        }
        guard RequestSignature.isValidNonce(nonce) else {
            throw APIError(.unauthorized, code: "bad_signature", message: "\(RequestSignature.nonceHeader) must be 32 lower-case hex digits.")
        }
        guard deviceID.utf8.count <= 64, let device = try await store.enrolledDevice(id: deviceID) else {
            throw APIError(.unauthorized, code: "unknown_device",
                           message: "No device '\(deviceID.prefix(64))' is enrolled with this controller. Enrol the workstation again with `rollcall-agent enrol`.")
        }
        guard let signature = Data(base64Encoded: signatureText), signature.count == 64,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: device.publicKey) else {
            throw APIError(.unauthorized, code: "bad_signature", message: "\(RequestSignature.signatureHeader) is not a base64 Ed25519 signature.")
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "request_too_large",
                           message: "The request body is larger than the controller's limit of \(maxBodyBytes) bytes (limits.max_report_bytes in controller.toml).")
        }
        let digest = body.withUnsafeReadableBytes { SHA256.hex(SHA256.hash(data: $0)) }
        let canonical = RequestSignature.canonical(
            method: request.method.rawValue, path: request.uri.description, deviceID: device.id, timestamp: timestamp,
            nonce: nonce, bodyDigest: digest)
        guard key.isValidSignature(signature, for: canonical) else {
            throw APIError(.unauthorized, code: "bad_signature",
                           message: "The signature does not match device \(device.id)'s enrolled key for this request. If the workstation was reinstalled, enrol it again.")
        }
        // Counted only once the signature holds, so nobody can use up a device's allowance by naming it.
        if let wait = await limiter.admit("device:" + device.id) { throw APIError.rateLimited(retryAfter: wait) }
        if let revoked = device.revokedAt {
            throw APIError(.forbidden, code: "device_revoked",
                           message: "Device \(device.id) was revoked at \(revoked.formatted(.iso8601)); its reports are refused. A technician can enrol it again with a new token.")
        }
        let expires = Date(timeIntervalSince1970: TimeInterval(timestamp + RequestSignature.maximumClockSkewSeconds + 1))
        guard try await store.recordNonce(nonce, deviceID: device.id, expiresAt: expires) else {
            throw APIError(.unauthorized, code: "replayed_request", message: "This request (nonce \(nonce)) was already received; a request is accepted once.")
        }
        return device
    }
}

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
