import Crypto
import Foundation
import RollcallProtocol

/// Turns an enrolment body into a request and its raw public key, or a 400 that says which field is wrong.
enum EnrolmentValidation {
    static func decode(_ body: Data) throws(APIError) -> (EnrolmentRequest, publicKey: [UInt8]) {
        let request: EnrolmentRequest
        do {
            request = try RollcallJSON.decoder().decode(EnrolmentRequest.self, from: body)
        } catch {
            throw malformed("The enrolment request is not valid: \(ReportDecoding.describe(error, body: body))")
        }
        guard !request.token.isEmpty, request.token.utf8.count <= 256 else {
            throw malformed("Field token must hold the enrolment token from `rollcall enrol-token create`.")
        }
        guard let key = Data(base64Encoded: request.publicKey), key.count == 32,
              (try? Curve25519.Signing.PublicKey(rawRepresentation: key)) != nil else {
            throw malformed("Field publicKey must be the base64 of a raw 32-byte Ed25519 public key.")
        }
        guard AgentIdentity.isValidMachineID(request.machineID) else {
            throw malformed("Field machineID '\(request.machineID.prefix(64))' is not a 32-digit hex machine id (/etc/machine-id).")
        }
        if let hostname = request.hostname, hostname.utf8.count > 253 || hostname.contains(where: { $0.isNewline || $0 == "\0" }) {
            throw malformed("Field hostname must be a host name of at most 253 bytes of UTF-8 on one line.")
        }
        if let version = request.agentVersion, version.utf8.count > 64 {
            throw malformed("Field agentVersion is longer than 64 characters.")
        }
        return (request, Array(key))
    }

    private static func malformed(_ message: String) -> APIError {
        APIError(.badRequest, code: "malformed_enrolment", message: message)
    }
}
