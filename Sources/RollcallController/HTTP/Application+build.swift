import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
public import NIOCore
public import NIOSSL
import RollcallProtocol

/// Builds the controller's HTTP application. `rollcall serve` runs it; tests call the same function.
///
/// `tls` is the server side of TLS (``ControllerCertificate/serverConfiguration()``); nil serves plain HTTP, which
/// only `[tls] plain_http = true` asks for.
///
/// For example:
/// ```swift
/// let store = try await ControllerStore.open(path: configuration.storePath, logger: logger)
/// let tls = try ControllerCertificate.load(configuration).serverConfiguration()
/// let app = try buildApplication(configuration: configuration, store: store, tls: tls, logger: logger)
/// try await app.runService()
/// ```
public func buildApplication(
    configuration: ControllerConfiguration, store: ControllerStore, tls: TLSConfiguration?, logger: Logger,
    metrics: ControllerMetrics = ControllerMetrics(),
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, store: store, metrics: metrics, secureCookies: tls != nil)
    let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds))))
    return Application(
        router: router,
        server: try tls.map { try .tls(http1, tlsConfiguration: $0) } ?? http1,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "rollcall"),
        onServerRunning: onServerRunning,
        logger: logger)
}

/// Every route and its methods, so a known path asked with the wrong method gets a 405 with `Allow` rather than a
/// 404. Keep in step with ``buildRouter(configuration:store:)`` and controller/openapi.yaml; a test checks all three.
enum APIRoutes {
    static let all: [(path: String, methods: [String])] = [
        ("/healthz", ["GET", "HEAD"]), ("/api/v1/enrol", ["POST"]), ("/api/v1/reports", ["POST"]),
        ("/api/v1/usb-events", ["POST"]), ("/api/v1/policy", ["GET", "HEAD"]), ("/api/v1/devices", ["GET", "HEAD"]), ("/api/v1/devices/{id}", ["GET", "HEAD"]), ("/report", ["GET", "HEAD"]),
        ("/metrics", ["GET", "HEAD"]),
    ]

    static func methods(for path: String) -> [String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return all.first { route in
            let pattern = route.path.split(separator: "/", omittingEmptySubsequences: false)
            return pattern.count == parts.count && zip(pattern, parts).allSatisfy { $0.hasPrefix("{") ? !$1.isEmpty : $0 == $1 }
        }?.methods
    }
}

/// Largest enrolment request: a token, a key, a machine id and a host name fit in well under 1 KB.
let maxEnrolmentBytes = 16 * 1024

/// `secureCookies` marks the dashboard's cookies `Secure`: true whenever the controller serves TLS.
public func buildRouter(
    configuration: ControllerConfiguration, store: ControllerStore, metrics: ControllerMetrics = ControllerMetrics(), secureCookies: Bool = false
) -> Router<ControllerRequestContext> {
    let router = Router(context: ControllerRequestContext.self, options: .autoGenerateHeadEndpoints)
    let limiter = RateLimiter(perMinute: configuration.requestsPerMinute)
    router.addMiddleware {
        LogRequestsMiddleware(.info)
        ResponseMetricsMiddleware(metrics: metrics)
        JSONErrorMiddleware()
    }
    router.get("/healthz") { _, _ in "ok\n" }

    let api = router.group("api/v1")
    api.post("enrol") { request, context -> Response in
        if let wait = await limiter.admit("address:" + context.remoteAddress) { throw APIError.rateLimited(retryAfter: wait) }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxEnrolmentBytes)
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, code: "request_too_large", message: "An enrolment request is at most \(maxEnrolmentBytes) bytes.")
        }
        let (enrolment, publicKey) = try EnrolmentValidation.decode(Data(buffer: body))
        let response: EnrolmentResponse
        do {
            response = try await store.enrol(enrolment, publicKey: publicKey)
        } catch let refusal as EnrolmentRefusal {
            let code = switch refusal {
            case .unknownToken: "unknown_token"
            case .usedUp: "token_used"
            case .expired: "token_expired"
            case .revoked: "token_revoked"
            case .keyAlreadyEnrolled: "key_already_enrolled"
            }
            context.logger.notice("Enrolment refused", metadata: ["ctl.enrol.refusal": "\(code)", "ctl.remote": "\(context.remoteAddress)"])
            throw APIError(refusal == .keyAlreadyEnrolled ? .conflict : .unauthorized, code: code, message: refusal.description)
        }
        context.logger.notice("Device enrolled", metadata: [
            "ctl.device.id": "\(response.deviceID)", "ctl.device.hostname": "\(enrolment.hostname ?? "-")", "ctl.remote": "\(context.remoteAddress)",
        ])
        return try jsonResponse(response, status: .created)
    }

    let agents = api.group().add(middleware: AgentAuthenticator(store: store, limiter: limiter, maxBodyBytes: configuration.maxReportBytes))
    agents.post("reports") { request, context -> Response in
        let (_, receipt) = try await receiveFromAgent(
            request, context, maxBytes: configuration.maxReportBytes, noun: "Report", kind: "inventory", metrics: metrics,
            decode: ReportDecoding.decode, machineID: \.agent.machineID, id: \.reportID,
            ingest: { report, body, deviceID in
                metrics.recordOutbox(deviceID: deviceID, report.outbox)
                return try await store.ingest(report, body: body, deviceID: deviceID)
            })
        context.logger.info("Report received", metadata: [
            "ctl.report.id": "\(receipt.reportID)", "ctl.report.outcome": "\(receipt.outcome.rawValue)",
        ])
        return try jsonResponse(receipt, status: receipt.outcome == .stored ? .created : .ok)
    }
    agents.post("usb-events") { request, context -> Response in
        let (event, receipt) = try await receiveFromAgent(
            request, context, maxBytes: configuration.maxReportBytes, noun: "USB event", kind: "usb-event", metrics: metrics,
            decode: ReportDecoding.decodeUSBEvent, machineID: \.machineID, id: \.eventID,
            ingest: { try await store.ingestUSBEvent($0, body: $1, deviceID: $2) })
        context.logger.info("USB event received", metadata: [
            "ctl.device.id": "\(receipt.deviceID)", "ctl.usb.event": "\(event.eventID)", "ctl.usb.action": "\(event.action.rawValue)",
            "ctl.usb.device": "\(event.vendorID):\(event.productID)", "ctl.report.outcome": "\(receipt.outcome.rawValue)",
        ])
        return try jsonResponse(receipt, status: receipt.outcome == .stored ? .created : .ok)
    }
    agents.get("policy") { _, context -> Response in
        guard context.device != nil else {
            throw APIError(.unauthorized, code: "unsigned_request", message: "The policy is given to enrolled agents only; sign the request.")
        }
        return try jsonResponse(try await store.agentPolicy(usb: configuration.usb))
    }
    // Everything people read: first the network (read_allowed_from), then who signed in and what their role may see.
    let reads = router.group()
        .add(middleware: ReadAccessMiddleware(allowed: configuration.readAllowedFrom))
        .add(middleware: DashboardAuthenticator(store: store))
    reads.get("api/v1/devices") { request, context -> Response in
        _ = try context.require(.estate, request)
        return try jsonResponse(try await store.devices())
    }
    reads.get("api/v1/devices/:id") { request, context -> Response in
        _ = try context.require(.estate, request)
        let id = try context.parameters.require("id")
        guard let device = try await store.device(id: id) else {
            throw APIError(.notFound, code: "unknown_device", message: "No device \(id). GET /api/v1/devices lists the devices that have reported.")
        }
        return try jsonResponse(device)
    }
    // Counts only, no names: left to the network rule so Prometheus can scrape it without an account.
    reads.get("metrics") { _, _ -> Response in
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        let text = try await metrics.scrape(store: store)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
    reads.get("report") { request, context -> Response in
        _ = try context.require(.complianceReport, request)
        let formatName = FormFields(request.uri.query)["format"] ?? "html"
        guard let format = ComplianceReport.Format(rawValue: formatName) else {
            throw APIError(.badRequest, code: "unknown_format", message: "Unknown report format '\(formatName)'; use html, csv or json.")
        }
        let report = try await ComplianceReport.gather(from: store, configuration: configuration)
        if format == .html { return DashboardPage.html(report.html(linkedStylesheet: true)) }
        return DashboardPage.export(try report.render(format), csv: format == .csv, name: "report")
    }
    DashboardRoutes(store: store, configuration: configuration, secureCookies: secureCookies, limiter: limiter).register(on: reads)
    return router
}

/// What every signed submission from an agent shares: the device from the signature, the body (its size already
/// checked by the authenticator), the payload decoded, its machine checked against the enrolment, then stored
/// idempotently on its id.
func receiveFromAgent<Payload>(
    _ request: Request, _ context: ControllerRequestContext, maxBytes: Int, noun: String, kind: String, metrics: ControllerMetrics,
    decode: (Data) throws(APIError) -> Payload,
    machineID: KeyPath<Payload, String>, id: KeyPath<Payload, UUID>,
    ingest: (Payload, String, String) async throws -> ReportReceipt
) async throws -> (Payload, ReportReceipt) {
    let start = ContinuousClock.now
    guard let device = context.device else {
        throw APIError(.unauthorized, code: "unsigned_request", message: "\(noun)s must be signed by an enrolled agent.")
    }
    let body = Data(buffer: try await request.body.collect(upTo: maxBytes))
    let payload = try decode(body)
    guard payload[keyPath: machineID] == device.machineID else {
        throw APIError(.forbidden, code: "wrong_device",
                       message: "Device \(device.id) enrolled as machine \(device.machineID) cannot report for machine \(payload[keyPath: machineID].prefix(64)). If /etc/machine-id was regenerated, enrol the workstation again.")
    }
    do {
        let receipt = try await ingest(payload, String(decoding: body, as: UTF8.self), device.id)
        metrics.recordIngest(kind: kind, outcome: receipt.outcome.rawValue, duration: start.duration(to: .now))
        return (payload, receipt)
    } catch let error as StoreError where error.code == .conflict {
        throw APIError(.conflict, code: "report_id_conflict",
                       message: "\(noun) id \(payload[keyPath: id]) is already stored for another device; an id is used once.")
    }
}

/// Counts every response by status code for `/metrics`; outside the JSON error middleware, so it sees the status
/// an error became.
struct ResponseMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ControllerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.recordResponse(status: response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            metrics.recordResponse(status: error.status.code)
            throw error
        } catch {
            metrics.recordResponse(status: 500)
            throw error
        }
    }
}

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try RollcallJSON.encoder().encode(value)
    var headers = HTTPFields()
    headers[.contentType] = "application/json; charset=utf-8"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
