import Foundation
import Hummingbird
import HTTPTypes

/// Cookie names: the session, and the sign-in form's own token (the double-submit pattern, since there is no
/// session to hold one before sign-in).
enum DashboardCookies {
    static let session = "rollcall_session"
    static let signInToken = "rollcall_signin"
}

/// Finds who is asking: a browser's session cookie or an `Authorization: Bearer` API token. Sets nothing for anyone
/// else; the routes decide what an anonymous request gets.
struct DashboardAuthenticator: RouterMiddleware {
    typealias Context = ControllerRequestContext
    let store: ControllerStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let secret = Self.secret(request), secret.count <= 256 {
            context.session = try await store.session(secret: secret)
        }
        return try await next(request, context)
    }

    static func secret(_ request: Request) -> String? {
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            return header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        }
        return request.cookies[DashboardCookies.session]?.value
    }
}

/// A request the dashboard turns away: to the sign-in page (a browser) or with a 401/403 JSON body (a script), and a
/// role's limits with a page that says which role may see it.
struct DashboardRefusal: HTTPResponseError {
    enum Kind {
        case signInRequired
        case forbidden(DashboardRole)
        case badFormToken
    }

    let kind: Kind
    let wantsHTML: Bool
    let path: String
    /// Who was refused: the error page keeps their navigation and sign-out. Carried here because the context an error
    /// response is made with is the one from before the authenticator ran.
    var session: DashboardSession? = nil

    var status: HTTPResponse.Status {
        switch kind {
        case .signInRequired: wantsHTML ? .seeOther : .unauthorized
        case .forbidden, .badFormToken: .forbidden
        }
    }

    var message: String {
        switch kind {
        case .signInRequired: "Sign in to see \(path): a browser at /login, a script with `Authorization: Bearer` and a token from `rollcall users token`."
        case .forbidden(let role): "The \(role.label.lowercased()) role cannot see \(path)."
        case .badFormToken: "The form had expired or did not come from this dashboard; it was not saved. Reload the page and try again."
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        if case .signInRequired = kind, wantsHTML {
            var headers = HTTPFields()
            headers[.location] = "/login?next=" + FormFields.encode(path)
            return Response(status: .seeOther, headers: headers)
        }
        guard wantsHTML else {
            let code = switch kind {
            case .signInRequired: "sign_in_required"
            case .forbidden: "role_forbidden"
            case .badFormToken: "bad_form_token"
            }
            var response = try APIError(status, code: code, message: message).response(from: request, context: context)
            if case .signInRequired = kind { response.headers[.wwwAuthenticate] = "Bearer realm=\"rollcall\"" }
            return response
        }
        var home = "/login"
        if case .forbidden(let role) = kind { home = role.home }
        return DashboardPage.response(
            title: "Not for this role", session: session, current: nil,
            content: DashboardTemplates.render("refused", ["heading": status == .forbidden ? "Not available" : "Sign in", "message": message, "home": home]),
            status: status)
    }
}

extension ControllerRequestContext {
    /// The session, if its role has `permission`; otherwise the refusal a browser or a script should get.
    func require(_ permission: DashboardPermission, _ request: Request) throws(DashboardRefusal) -> DashboardSession {
        let wantsHTML = Self.wantsHTML(request)
        let path = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
        guard let session else { throw DashboardRefusal(kind: .signInRequired, wantsHTML: wantsHTML, path: path) }
        guard session.role.may(permission) else {
            throw DashboardRefusal(kind: .forbidden(session.role), wantsHTML: wantsHTML, path: request.uri.path, session: session)
        }
        return session
    }

    /// A browser page rather than an export or the JSON API: a browser says it accepts HTML; a script (curl's `*/*`)
    /// gets a 401 it can act on rather than a redirect to a form.
    static func wantsHTML(_ request: Request) -> Bool {
        guard !request.uri.path.hasPrefix("/api/"), request.headers[.authorization] == nil,
              request.headers[.accept]?.contains("text/html") == true else { return false }
        let format = FormFields(request.uri.query)["format"] ?? "html"
        return format == "html"
    }
}

/// Responses of the dashboard: pages in the layout, exports, and the headers that keep pages out of caches and frames.
enum DashboardPage {
    static let navigation: [(href: String, label: String, permission: DashboardPermission)] = [
        ("/", "Overview", .overview), ("/devices", "Devices", .estate), ("/usb", "USB", .estate), ("/accounts", "Accounts", .estate),
        ("/offboarding", "Offboarding", .estate), ("/equipment", "Equipment", .estate), ("/licences", "Licences", .estate),
        ("/incidents", "Incidents", .incidents), ("/audit", "Audit log", .audit), ("/governors", "Governors", .governorsReport),
        ("/report", "Full report", .complianceReport),
    ]

    static func response(title: String, session: DashboardSession?, current: String?, content: String, flash: String? = nil,
                         status: HTTPResponse.Status = .ok) -> Response {
        var context: [String: Any] = ["title": title, "content": content, "home": session?.role.home ?? "/login"]
        if let session {
            context["nav"] = navigation.filter { session.role.may($0.permission) }.map { item -> [String: Any] in
                ["href": item.href, "label": item.label, "current": item.href == current]
            }
            context["user"] = ["name": session.user, "role": session.role.label, "csrf": session.csrfToken]
        }
        if let flash { context["flash"] = flash }
        return html(DashboardTemplates.render("layout", context), status: status)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = securityHeaders()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func securityHeaders() -> HTTPFields {
        var headers = HTTPFields()
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"  // safe: a constant, valid header name
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"  // safe: a constant, valid header name
        return headers
    }

    /// An export: CSV as a download named for the section and the day, or JSON.
    static func export(_ text: String, csv: Bool, name: String) -> Response {
        var headers = securityHeaders()
        if csv {
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"rollcall-\(name)-\(Day(Date()).iso).csv\""
        } else {
            headers[.contentType] = "application/json; charset=utf-8"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String, cookies: [Cookie] = []) -> Response {
        var headers = securityHeaders()
        headers[.location] = location
        var response = Response(status: .seeOther, headers: headers)
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }
}
