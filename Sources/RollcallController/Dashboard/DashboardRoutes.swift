import Foundation
import Hummingbird
import Logging
import RollcallProtocol

/// The technician's dashboard: sign-in, the overview, a page per section (sortable, filterable, exportable as CSV
/// and JSON from the same rows), the incident log with its forms, the governors' report and the full report.
struct DashboardRoutes {
    let store: ControllerStore
    let configuration: ControllerConfiguration
    /// Cookies carry `Secure` whenever the controller serves TLS.
    let secureCookies: Bool
    let limiter: RateLimiter
    /// Rows per HTML page; exports carry every row.
    static let pageSize = 100
    /// Largest form the dashboard takes: an incident description of a few pages.
    static let maxFormBytes = 64 * 1024

    func register(on group: RouterGroup<ControllerRequestContext>) {
        group.get("static/rollcall.css") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/css; charset=utf-8"
            headers[.cacheControl] = "max-age=3600"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: DashboardTemplates.css)))
        }
        group.get("login") { request, context in signInPage(request, context) }
        group.post("login") { request, context in try await signIn(request, context) }
        group.post("logout") { request, context -> Response in
            guard let session = context.session else { return DashboardPage.redirect("/login") }
            _ = try await form(request, session: session)
            try await store.endSession(session)
            return DashboardPage.redirect("/login", cookies: [sessionCookie("", maxAge: 0)])
        }
        group.get("/") { request, context -> Response in
            let session = try context.require(.overview, request)
            let overview = try await EstateOverview.gather(store: store, configuration: configuration)
            if FormFields(request.uri.query)["format"] == "json" {
                return DashboardPage.export(String(decoding: try RollcallJSON.encoder(pretty: true).encode(overview), as: UTF8.self) + "\n", csv: false, name: "overview")
            }
            return DashboardPage.response(title: "Overview", session: session, current: "/", content: OverviewPage(overview: overview, role: session.role).html())
        }
        for section in EstateSections.Section.allCases {
            group.get(RouterPath(stringLiteral: section.rawValue)) { request, context -> Response in
                let session = try context.require(section.permission, request)
                let table = try await EstateSections(store: store, configuration: configuration).table(section)
                var after = ""
                if section == .incidents, session.role.may(.recordIncidents) { after = IncidentPages.form(session: session) }
                let flash = FormFields(request.uri.query)["saved"].map { "Incident \($0) recorded." }
                return try TablePage(table: table, request: request).respond(session: session, after: after, flash: flash)
            }
        }
        group.post("incidents") { request, context -> Response in
            let session = try context.require(.recordIncidents, request)
            let fields = try await form(request, session: session)
            do {
                let incident = try await store.addIncident(try IncidentPages.newIncident(fields, session: session), actor: session.user)
                return DashboardPage.redirect("/incidents/\(incident.id)?saved=1")
            } catch let error as IncidentError {
                let table = try await EstateSections(store: store, configuration: configuration).incidents()
                return try TablePage(table: table, request: request).respond(
                    session: session, after: IncidentPages.form(session: session, error: error.description), status: .unprocessableContent)
            }
        }
        group.get("incidents/:id") { request, context -> Response in
            let session = try context.require(.incidents, request)
            let id = try context.parameters.require("id", as: Int.self)
            guard let incident = try await store.incident(id: id) else { throw HTTPError(.notFound) }
            let history = try await store.incidentHistory(id: id)
            let flash = FormFields(request.uri.query)["saved"] != nil ? "Saved." : nil
            return DashboardPage.response(title: "Incident \(id)", session: session, current: "/incidents",
                                          content: IncidentPages.detail(incident, history: history, session: session), flash: flash)
        }
        group.post("incidents/:id") { request, context -> Response in
            let session = try context.require(.recordIncidents, request)
            let id = try context.parameters.require("id", as: Int.self)
            let fields = try await form(request, session: session)
            guard let incident = try await store.incident(id: id) else { throw HTTPError(.notFound) }
            do {
                _ = try await store.updateIncident(id: id, IncidentPages.update(fields, current: incident), actor: session.user)
                return DashboardPage.redirect("/incidents/\(id)?saved=1")
            } catch let error as IncidentError {
                if case .nothingToChange = error { return DashboardPage.redirect("/incidents/\(id)") }
                return DashboardPage.response(
                    title: "Incident \(id)", session: session, current: "/incidents",
                    content: IncidentPages.detail(incident, history: try await store.incidentHistory(id: id), session: session, error: error.description),
                    status: .unprocessableContent)
            }
        }
        group.get("governors") { request, context -> Response in
            let session = try context.require(.governorsReport, request)
            let report = try await GovernorsReport.gather(store: store, configuration: configuration)
            switch FormFields(request.uri.query)["format"] ?? "html" {
            case "csv": return DashboardPage.export(report.csv(), csv: true, name: "governors")
            case "json": return DashboardPage.export(try report.render(.json), csv: false, name: "governors")
            default:
                let content = "<h1>E-safety report for governors</h1>\n<p class=\"exports\">Export: <a href=\"/governors?format=csv\" download>CSV</a> · "
                    + "<a href=\"/governors?format=json\">JSON</a></p>\n" + report.htmlBody()
                return DashboardPage.response(title: "Governors' report", session: session, current: "/governors", content: content)
            }
        }
    }

    // MARK: Sign-in

    func signInPage(_ request: Request, _ context: ControllerRequestContext, error: String? = nil, username: String = "",
                    status: HTTPResponse.Status = .ok) -> Response {
        let token = request.cookies[DashboardCookies.signInToken]?.value ?? ControllerStore.randomToken()
        let next = FormFields(request.uri.query)["next"] ?? ""
        var page: [String: Any] = ["csrf": token, "next": next, "username": username]
        if let error { page["error"] = error }
        var response = DashboardPage.response(title: "Sign in", session: nil, current: nil, content: DashboardTemplates.render("signin", page), status: status)
        response.setCookie(Cookie(name: DashboardCookies.signInToken, value: token, maxAge: 3600, path: "/login", secure: secureCookies, httpOnly: true,
                                  sameSite: .strict))
        return response
    }

    func signIn(_ request: Request, _ context: ControllerRequestContext) async throws -> Response {
        if let wait = await limiter.admit("sign-in:" + context.remoteAddress) { throw APIError.rateLimited(retryAfter: wait) }
        var request = request
        let fields = FormFields(String(buffer: try await request.collectBody(upTo: Self.maxFormBytes)))
        guard let cookie = request.cookies[DashboardCookies.signInToken]?.value, let sent = fields["csrf"], Self.same(cookie, sent) else {
            return signInPage(request, context, error: DashboardRefusal(kind: .badFormToken, wantsHTML: true, path: "/login").message, status: .forbidden)
        }
        let name = fields["username"] ?? ""
        do {
            let issued = try await DashboardSignIn(store: store, configuration: configuration, logger: context.logger)
                .signIn(name: name, password: fields["password"] ?? "", remote: context.remoteAddress)
            let next = fields["next"].flatMap { $0.hasPrefix("/") && !$0.hasPrefix("//") && !$0.contains("\\") ? $0 : nil }
            // Back to the page that sent them here, unless it is one their role may not see.
            func allowed(_ path: String) -> Bool {
                let page = path.split(separator: "?").first.map(String.init)
                guard let item = DashboardPage.navigation.first(where: { $0.href == page }) else { return true }
                return issued.session.role.may(item.permission)
            }
            let target = next.flatMap { allowed($0) ? $0 : nil } ?? issued.session.role.home
            return DashboardPage.redirect(target, cookies: [
                sessionCookie(issued.secret, maxAge: configuration.dashboard.sessionHours * 3600),
                Cookie(name: DashboardCookies.signInToken, value: "", maxAge: 0, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict),
            ])
        } catch let refusal as SignInRefusal {
            return signInPage(request, context, error: refusal.description, username: name, status: .unauthorized)
        }
    }

    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: DashboardCookies.session, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    /// A form's fields, once its token matches the session's: a page of this dashboard sent it, not another site.
    func form(_ request: Request, session: DashboardSession) async throws -> FormFields {
        var request = request
        let fields = FormFields(String(buffer: try await request.collectBody(upTo: Self.maxFormBytes)))
        guard let sent = fields["csrf"], Self.same(sent, session.csrfToken) else {
            throw DashboardRefusal(kind: .badFormToken, wantsHTML: true, path: request.uri.path, session: session)
        }
        return fields
    }

    /// Compares two tokens in time that does not depend on where they differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
