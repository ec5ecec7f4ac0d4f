import Foundation
import RollcallProtocol

/// Turns a request body into an ``InventoryReport`` or an ``APIError`` that says what is wrong and where.
///
/// The schema version is checked first, on its own, so an agent newer than the controller gets "unsupported
/// schema version 2" rather than a confusing complaint about a field it renamed.
enum ReportDecoding {
    struct VersionEnvelope: Decodable {
        let schemaVersion: Int?
    }

    static func decode(_ body: Data) throws(APIError) -> InventoryReport {
        let report = try decode(body, as: InventoryReport.self, version: InventoryReport.currentSchemaVersion, noun: "Report", code: "report")
        guard AgentIdentity.isValidMachineID(report.agent.machineID) else {
            throw APIError(
                .unprocessableContent, code: "unidentified_device",
                message: "Report field agent.machineID '\(report.agent.machineID.prefix(64))' is not a 32-digit hex machine id; the agent could not identify its machine.")
        }
        return report
    }

    static func decodeUSBEvent(_ body: Data) throws(APIError) -> USBStorageEvent {
        let event = try decode(body, as: USBStorageEvent.self, version: USBStorageEvent.currentSchemaVersion, noun: "USB event", code: "usb_event")
        guard AgentIdentity.isValidMachineID(event.machineID) else {
            throw APIError(.unprocessableContent, code: "unidentified_device",
                           message: "USB event field machineID '\(event.machineID.prefix(64))' is not a 32-digit hex machine id.")
        }
        for (field, value) in [("vendorID", event.vendorID), ("productID", event.productID)]
        where value.count != 4 || !value.allSatisfy(\.isHexDigit) {
            throw APIError(.badRequest, code: "malformed_usb_event", message: "USB event field \(field) '\(value.prefix(16))' is not four hex digits.")
        }
        return event
    }

    /// The version is read on its own first: a newer agent gets "unsupported schema version 2", not a complaint
    /// about a field it renamed.
    static func decode<T: Decodable>(_ body: Data, as type: T.Type, version current: Int, noun: String, code: String) throws(APIError) -> T {
        guard !body.isEmpty else {
            throw APIError(.badRequest, code: "empty_\(code)", message: "The request body is empty; send the \(noun.lowercased()) as JSON.")
        }
        let decoder = RollcallJSON.decoder()
        let envelope: VersionEnvelope
        do {
            envelope = try decoder.decode(VersionEnvelope.self, from: body)
        } catch {
            throw APIError(.badRequest, code: "malformed_\(code)", message: "\(noun) is not valid JSON: \(describe(error, body: body))")
        }
        guard let version = envelope.schemaVersion else {
            throw APIError(.badRequest, code: "malformed_\(code)", message: "\(noun) has no schemaVersion field.")
        }
        guard version == current else {
            throw APIError(
                .unprocessableContent, code: "unsupported_schema_version",
                message: "\(noun) schema version \(version) is not supported; this controller accepts version \(current). Upgrade the controller or install a matching agent.")
        }
        do {
            return try decoder.decode(T.self, from: body)
        } catch {
            throw APIError(.badRequest, code: "malformed_\(code)", message: "\(noun) does not match schema version \(version): \(describe(error, body: body))")
        }
    }

    /// "at hardware.disks[2].sizeBytes: expected an unsigned integer, found a string".
    static func describe(_ error: any Error, body: Data) -> String {
        guard let decodingError = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            var text = ""
            for key in context.codingPath {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the top level" : text
        }
        switch decodingError {
        case .dataCorrupted(let context):
            var detail = context.debugDescription
            if let underlying = context.underlyingError {
                detail = "\(underlying)".replacingOccurrences(of: "\n", with: " ")
            }
            if context.codingPath.isEmpty {
                if let problem = JSONSyntax.firstProblem(in: body) {
                    return "\(problem.message) at line \(problem.line), column \(problem.column) (byte \(problem.offset) of \(body.count))"
                }
                return detail
            }
            return "at \(path(context)): \(detail)"
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing field '\(key.stringValue)'" + (context.codingPath.isEmpty ? "" : " in \(parent)")
        case .typeMismatch(let type, let context):
            return "at \(path(context)): expected \(typeName(type)); \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "at \(path(context)): expected \(typeName(type)), found null"
        @unknown default:
            return "\(decodingError)"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is UInt64.Type: "an unsigned integer"
        case is Bool.Type: "true or false"
        case is Double.Type: "a number"
        default: "\(type)"
        }
    }
}
