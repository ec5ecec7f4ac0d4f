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
