import Foundation
public import Hummingbird
public import Logging
public import NIOCore
import RollcallProtocol

/// Builds the controller's HTTP application. `rollcall serve` runs it; tests call the same function.
///
/// For example:
/// ```swift
/// let store = try await ControllerStore.open(path: configuration.storePath, logger: logger)
/// let app = buildApplication(configuration: configuration, store: store, logger: logger)
/// try await app.runService()
/// ```
public func buildApplication(
    configuration: ControllerConfiguration, store: ControllerStore, logger: Logger,
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, store: store)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "rollcall"),
        onServerRunning: onServerRunning,
        logger: logger)
}

public func buildRouter(configuration: ControllerConfiguration, store: ControllerStore) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.addMiddleware { LogRequestsMiddleware(.info) }
    router.get("/healthz") { _, _ in "ok\n" }

    let api = router.group("api/v1")
    api.post("reports") { request, context -> Response in
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: configuration.maxReportBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "report_too_large",
                           message: "Report is larger than the controller's limit of \(configuration.maxReportBytes) bytes (limits.max_report_bytes in controller.toml).")
        }
        let body = Data(buffer: buffer)
        let report = try ReportDecoding.decode(body)
        let receipt = try await store.ingest(report, body: String(decoding: body, as: UTF8.self))
        context.logger.info("Report received", metadata: [
            "ctl.device.id": "\(receipt.deviceID)", "ctl.report.id": "\(receipt.reportID)", "ctl.report.outcome": "\(receipt.outcome.rawValue)",
        ])
        return try jsonResponse(receipt, status: receipt.outcome == .stored ? .created : .ok)
    }
    api.get("devices") { _, _ -> Response in
        try jsonResponse(try await store.devices())
    }
    api.get("devices/:id") { _, context -> Response in
        let id = try context.parameters.require("id")
        guard let device = try await store.device(id: id) else {
            throw APIError(.notFound, code: "unknown_device", message: "No device \(id). GET /api/v1/devices lists the devices that have reported.")
        }
        return try jsonResponse(device)
    }
    router.get("report") { request, _ -> Response in
        let formatName = request.uri.queryParameters.get("format") ?? "html"
        guard let format = ComplianceReport.Format(rawValue: formatName) else {
            throw APIError(.badRequest, code: "unknown_format", message: "Unknown report format '\(formatName)'; use html, csv or json.")
        }
        let report = ComplianceReport(devices: try await store.devices())
        var headers = HTTPFields()
        switch format {
        case .html: headers[.contentType] = "text/html; charset=utf-8"
        case .csv:
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"rollcall-report.csv\""
        case .json: headers[.contentType] = "application/json; charset=utf-8"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try report.render(format))))
    }
    return router
}

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try RollcallJSON.encoder().encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
