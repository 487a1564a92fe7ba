import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PerpMarketData
import PerpModel
import PerpStore
import ServiceLifecycle

/// How the dashboard is served.
public struct DashboardOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0: any free port (tests).
    public var port = 8787
    /// Hides the controls and refuses every state-changing request.
    public var readOnly = false
    /// How often the session files are asked whether they changed.
    public var pollEvery: Duration = .milliseconds(250)
    /// Most server-sent-event streams open at once.
    public var maxStreams = 200
    /// Whether SIGINT and SIGTERM shut the server down gracefully (the command line), rather
    /// than only a cancelled task (tests, benchmarks).
    public var handleSignals = false
    /// Listening on an address other than this computer's own: every request then needs the
    /// token (`Authorization: Bearer TOKEN`, or `?token=TOKEN` for the page and its event stream).
    public var remote: Bool { !["127.0.0.1", "localhost", "::1"].contains(host.lowercased()) }

    public init() {}
}

/// The local dashboard (issue 14, decision 0016): a Hummingbird app over the sessions' SQLite
/// files. One poller refreshes the ``SessionCatalog`` and tells every open page what changed
/// (server-sent events); the page then fetches the JSON it shows. The kill switch stores a stop
/// request in the session's file, exactly as `nmrperp live stop` does, for the session's own
/// process to carry out: nothing here places an order.
public final class Dashboard: Sendable {
    public let catalog: SessionCatalog
    public let options: DashboardOptions
    /// The per-start token every state-changing request must carry (`X-CSRF-Token`).
    public let token: String
    let events = EventHub()
    let logger: Logger
    let clock: @Sendable () -> Timestamp

    public init(home: String, options: DashboardOptions, clock: @escaping @Sendable () -> Timestamp, logger: Logger) {
        self.options = options
        self.clock = clock
        self.logger = logger
        catalog = SessionCatalog(home: home, clock: clock)
        var generator = SystemRandomNumberGenerator()
        token = (0..<4).map { _ in String(format: "%016llx", generator.next() as UInt64) }.joined()
    }

    /// Serves until SIGINT or SIGTERM (with ``DashboardOptions/handleSignals``) or until its task
    /// is cancelled. `onRunning` gets the bound port once the server listens.
    public func run(onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        await catalog.refresh()
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: DashboardGuard(options: options, token: token))
        routes(router)
        let app = Application(
            router: router, configuration: .init(address: .hostname(options.host, port: options.port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
        let poller = Task { [catalog, events, options] in
            var lastPing = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: options.pollEvery)
                let changed = await catalog.refresh()
                if !changed.isEmpty {
                    let ids = JSONValue.array(changed.map { .string($0.description) }).serialized(pretty: false)
                    await events.send("event: change\ndata: {\"ids\":\(ids)}\n\n")
                } else if ContinuousClock.now - lastPing > .seconds(15) {
                    lastPing = ContinuousClock.now
                    await events.send(": ping\n\n")
                }
            }
        }
        defer {
            poller.cancel()
            Task { [events] in await events.closeAll() }
        }
        // SIGINT and SIGTERM shut the server down gracefully (the CLI); tests cancel the task.
        // Services stop in reverse order: the open pages' event streams end first, else the
        // server's graceful shutdown would wait for them forever.
        let group = ServiceGroup(
            configuration: .init(
                services: [app, StreamCloser(events: events)], gracefulShutdownSignals: options.handleSignals ? [.sigterm, .sigint] : [],
                logger: logger))
        try await group.run()
    }

    // MARK: - Routes

    func routes(_ router: Router<BasicRequestContext>) {
        router.get("/") { [self] _, _ in
            html(DashboardPage.html(token: token, readOnly: options.readOnly, remote: options.remote))
        }
        router.get("/api/sessions") { [self] _, _ in
            json(await catalog.list())
        }
        // `/api/sessions/KIND/NAME/WHAT`, or `/api/sessions/NAME/WHAT` for a name only one
        // session has (one set of parameter names: the router matches by position).
        router.get("/api/sessions/:first/:second/:third") { [self] request, context in
            try await sessionData(
                request, kind: context.parameters.get("first"), name: context.parameters.get("second"),
                what: context.parameters.get("third"))
        }
        router.get("/api/sessions/:first/:second") { [self] request, context in
            try await sessionData(request, kind: nil, name: context.parameters.get("first"), what: context.parameters.get("second"))
        }
        router.post("/api/sessions/:first/:second/:third") { [self] request, context in
            guard context.parameters.get("third") == "stop" else { return problem(.notFound, "no such action (stop)") }
            return try await stop(request, kind: context.parameters.get("first"), name: context.parameters.get("second"))
        }
        router.get("/api/events") { [self] _, _ in
            guard let stream = await events.subscribe(limit: options.maxStreams) else {
                return problem(.serviceUnavailable, "too many open dashboards (\(options.maxStreams)); close some")
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "retry: 1000\nevent: hello\ndata: {}\n\n"))
                    for await text in stream {
                        try await writer.write(ByteBuffer(string: text))
                    }
                    try await writer.finish(nil)
                })
        }
        router.get("/metrics") { [self] _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: await catalog.metrics())))
        }
    }

    func sessionData(_ request: Request, kind: String?, name: String?, what: String?) async throws -> Response {
        guard let name = name?.removingPercentEncoding, let what else { return problem(.notFound, "no such page") }
        guard let key = await catalog.resolve(kind: kind?.removingPercentEncoding, name: name) else {
            return problem(.notFound, "no session \(kind.map { "\($0)/" } ?? "")\(name) under \(catalog.home)")
        }
        let query = request.uri.queryParameters
        let value: JSONValue?
        switch what {
        case "summary": value = await catalog.summary(key)
        case "equity":
            let buckets = query["points"].flatMap { Int(String($0)) }.map { max(10, min($0, 5000)) / 4 } ?? 250
            value = await catalog.equity(key, buckets: buckets)
        case "positions": value = await catalog.positions(key)
        case "risk": value = await catalog.risk(key)
        case "funding": value = await catalog.funding(key)
        case "hedge": value = await catalog.hedge(key)
        case "journal":
            let limit = query["limit"].flatMap { Int(String($0)) } ?? 200
            let before = query["before"].flatMap { Int64(String($0)) }
            let events = query["events"].map { String($0).split(separator: ",").map(String.init).filter { !$0.isEmpty } }
            value = await catalog.journal(key, limit: limit, before: before, events: events?.isEmpty == true ? nil : events)
        default:
            return problem(.notFound, "no such page: \(what) (summary, equity, positions, risk, funding, journal, hedge)")
        }
        guard let value else { return problem(.notFound, "\(key) has no \(what)") }
        return json(value)
    }

    func stop(_ request: Request, kind: String?, name: String?) async throws -> Response {
        guard let name = name?.removingPercentEncoding, let key = await catalog.resolve(kind: kind, name: name) else {
            return problem(.notFound, "no such session")
        }
        guard await catalog.canStop(key), let path = await catalog.path(of: key) else {
            return problem(.conflict, "\(key) cannot be stopped from here (a backtest, or a file that cannot be read)")
        }
        let body = try await request.body.collect(upTo: 4096)
        let parsed = (try? JSONParser.parse(String(buffer: body))) ?? .object([])
        let flatten = parsed["flatten"] == .bool(true)
        let reason = InputLimits.excerpt(parsed["reason"]?.stringValue ?? "dashboard kill switch")
        do {
            let store = try LiveStore(existing: path)
            let id = try store.requestStop(flatten: flatten, reason: "dashboard: \(reason)", at: clock())
            let running = SessionCatalog.running(path: path) != .null
            let command =
                key.kind == .hedge
                ? "hedge stop --name \(key.name)\(flatten ? " --close" : "")"
                : "\(key.kind.rawValue) stop --name \(key.name)\(flatten ? " --flatten" : "")"
            let message =
                running
                ? "stop requested; the running process carries it out at its next poll\(flatten ? " and closes the position" : "")"
                : "no process is running \(key): the stop is stored and carried out when it next starts. To act on the venue now, run `nmrperp \(command)`"
            logger.notice("dashboard: stop requested for \(key) (flatten: \(flatten))")
            await catalog.refresh()
            return json(.object([("request", .int(id)), ("running", .bool(running)), ("message", .string(message))]))
        } catch {
            return problem(.internalServerError, "could not store the stop request: \(error)")
        }
    }

    // MARK: - Responses

    func json(_ value: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized(pretty: false))))
    }

    func html(_ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    func problem(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Dashboard.problem(status, message)
    }

    static func problem(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        let body = JSONValue.object([("error", .string(message))]).serialized(pretty: false)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Ends every open page's event stream when the server shuts down.
struct StreamCloser: Service {
    let events: EventHub

    func run() async throws {
        try? await gracefulShutdown()
        await events.closeAll()
    }
}

/// The server-sent-event streams of the open pages.
actor EventHub {
    private var streams: [UUID: AsyncStream<String>.Continuation] = [:]
    private var closed = false

    func subscribe(limit: Int) -> AsyncStream<String>? {
        guard !closed, streams.count < limit else { return nil }
        let id = UUID()
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(32))
        continuation.onTermination = { [weak self] _ in
            Task { await self?.remove(id) }
        }
        streams[id] = continuation
        return stream
    }

    private func remove(_ id: UUID) { streams[id] = nil }

    func send(_ text: String) {
        for continuation in streams.values { continuation.yield(text) }
    }

    func closeAll() {
        closed = true
        for continuation in streams.values { continuation.finish() }
        streams = [:]
    }

    var count: Int { streams.count }
}

/// The security rules (reliability.md "Dashboard"): only local `Host` names (a page on another
/// site that resolves its name to 127.0.0.1 is refused: DNS rebinding); state-changing requests
/// need the per-start token and, when the browser names one, a local `Origin`; `--read-only`
/// refuses them all. Every answer says not to be framed, sniffed or cached.
struct DashboardGuard<Context: RequestContext>: RouterMiddleware {
    let allowedHosts: Set<String>
    let token: [UInt8]
    let readOnly: Bool
    /// Listening beyond this computer: every request needs the token, and any `Host` is taken
    /// (a rebinding page cannot know the token).
    let remote: Bool

    init(options: DashboardOptions, token: String) {
        var hosts: Set<String> = ["127.0.0.1", "localhost", "[::1]", "::1"]
        if options.host != "0.0.0.0" && options.host != "::" { hosts.insert(options.host.lowercased()) }
        allowedHosts = hosts
        self.token = Array(token.utf8)
        readOnly = options.readOnly
        remote = options.remote
    }

    /// The token a request carries: `Authorization: Bearer …`, `X-CSRF-Token`, or `?token=`.
    func carriesToken(_ request: Request) -> Bool {
        var candidates: [String] = []
        if let bearer = request.headers[.authorization], bearer.hasPrefix("Bearer ") { candidates.append(String(bearer.dropFirst(7))) }
        if let header = request.headers[HTTPField.Name("X-CSRF-Token")!] { candidates.append(header) }
        if let query = request.uri.queryParameters["token"] { candidates.append(String(query)) }
        return candidates.contains { Self.constantTimeEqual(Array($0.utf8), token) }
    }

    /// `host[:port]` → `host` (lowercased; IPv6 literals keep their brackets).
    static func hostName(_ authority: String) -> String {
        let lower = authority.lowercased()
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]") else { return lower }
            return String(lower[...close])
        }
        return String(lower.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let authority = request.head.authority ?? ""
        if remote {
            guard carriesToken(request) else {
                return secured(
                    Dashboard.problem(
                        .unauthorized, "refused: this dashboard listens beyond this computer; open the address it printed, with its token"))
            }
        } else if !allowedHosts.contains(Self.hostName(authority)) {
            return secured(
                Dashboard.problem(.forbidden, "refused: Host \"\(InputLimits.excerpt(authority))\" is not this computer (DNS rebinding)"))
        }
        if request.method != .get && request.method != .head {
            if readOnly { return secured(Dashboard.problem(.forbidden, "refused: the dashboard runs with --read-only")) }
            if let origin = request.headers[.origin] {
                let host = origin.lowercased().hasPrefix("http://") ? Self.hostName(String(origin.dropFirst(7))) : ""
                let sameOrigin = Self.hostName(authority) == host
                guard allowedHosts.contains(host) || (remote && sameOrigin) else {
                    return secured(
                        Dashboard.problem(.forbidden, "refused: a request from another site (Origin \(InputLimits.excerpt(origin)))"))
                }
            }
            if request.headers[HTTPField.Name("Sec-Fetch-Site")!] == "cross-site" {
                return secured(Dashboard.problem(.forbidden, "refused: a cross-site request"))
            }
            let given = Array((request.headers[HTTPField.Name("X-CSRF-Token")!] ?? "").utf8)
            guard Self.constantTimeEqual(given, token) else {
                return secured(Dashboard.problem(.forbidden, "refused: missing or wrong X-CSRF-Token (reload the page)"))
            }
        }
        return secured(try await next(request, context))
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    func secured(_ response: Response) -> Response {
        var response = response
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
