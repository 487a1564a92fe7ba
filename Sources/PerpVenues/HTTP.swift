import Foundation
import PerpModel

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A venue failure, classified the way a caller must react to it (house style: retryable /
/// not retryable / fatal).
public struct VenueError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Try again later (timeouts, 5xx, 429 with its `Retry-After`).
        case retryable(retryAfterSeconds: Double?)
        /// The request itself is wrong or the thing does not exist; repeating will not help.
        case notRetryable
        /// Stop everything (418 IP ban, authentication refused).
        case fatal
    }

    public var kind: Kind
    public var endpoint: String
    public var message: String
    /// The HTTP status of the answer that failed, when there was one.
    public var httpStatus: Int?
    /// For a 429: whether the venue said how long to wait (`Retry-After`); without it the
    /// wait in ``Kind/retryable(retryAfterSeconds:)`` is ``VenueHTTPClient/defaultRateLimitWait``.
    public var retryAfterGiven = false
    /// For a 2xx answer that is not what the endpoint returns (truncated JSON, an HTML page,
    /// `{"code":0}`, the wrong shape): a short excerpt of the body, sanitized
    /// (``VenueError/excerpt(_:)``). Such answers are retryable, like a 5xx.
    public var badResponse: String?

    public init(kind: Kind, endpoint: String, message: String, httpStatus: Int? = nil) {
        self.kind = kind
        self.endpoint = endpoint
        self.message = message
        self.httpStatus = httpStatus
    }

    public var description: String { "\(endpoint): \(message)" }

    /// A 2xx answer that is not what `endpoint` returns: retryable (a proxy's error page, a
    /// body cut short, an empty object during maintenance), with an excerpt for the journal.
    public static func badResponse(endpoint: String, body: [UInt8], problem: String) -> VenueError {
        let excerpt = excerpt(body)
        var error = VenueError(
            kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint,
            message: "bad answer (HTTP 200): \(problem); body \(excerpt.isEmpty ? "empty" : "starts " + excerpt.debugDescription)",
            httpStatus: 200)
        error.badResponse = excerpt
        return error
    }

    /// At most `limit` characters of `body` for a log or journal line: printable ASCII only
    /// (anything else becomes `?`), whitespace runs as one space, and any run of 24 or more
    /// letters, digits, `+`, `/`, `_` or `-` (a key, a signature, a token) as `<redacted>`.
    public static func excerpt(_ body: [UInt8], limit: Int = 80) -> String { SafeText.excerpt(body, limit: limit) }
}

/// What came back from an HTTP request.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first(where: { $0.key.lowercased() == name.lowercased() })?.value
    }
}

/// The one thing the venue clients need from a network: send a request, get bytes back.
/// Tests substitute a loopback server; nothing else changes.
public protocol HTTPTransport: Sendable {
    func send(method: String, url: URL, headers: [String: String], body: [UInt8]?) async throws -> HTTPResponse
}

/// `URLSession` (libcurl on Linux) with a request timeout.
public struct URLSessionTransport: HTTPTransport {
    public var timeout: TimeInterval

    public init(timeout: TimeInterval = 20) { self.timeout = timeout }

    public func send(method: String, url: URL, headers: [String: String], body: [UInt8]?) async throws -> HTTPResponse {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body) }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout * 3
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let endpoint = "\(method) \(url.host ?? "")\(url.path)"
        do {
            let (data, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else {
                throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint, message: "no HTTP response")
            }
            var headers: [String: String] = [:]
            for (key, value) in http.allHeaderFields {
                if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
            }
            return HTTPResponse(status: http.statusCode, headers: headers, body: [UInt8](data))
        } catch let error as VenueError {
            throw error
        } catch {
            throw VenueError(
                kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint, message: "network error: \(error.localizedDescription)")
        }
    }
}

/// Base URLs of the venues. Each can be overridden with an environment variable, so that
/// tests (and users behind a proxy) point the clients elsewhere, e.g. at a local replay server
/// on 127.0.0.1.
public struct VenueEndpoints: Sendable, Equatable {
    public var binanceSpot: URL
    public var binanceUSDM: URL
    public var lighter: URL
    public var numerai: URL

    public static let environmentKeys = (
        binanceSpot: "NMRPERP_BINANCE_SPOT_URL", binanceUSDM: "NMRPERP_BINANCE_USDM_URL", lighter: "NMRPERP_LIGHTER_URL",
        numerai: "NMRPERP_NUMERAI_URL"
    )

    public static let production = VenueEndpoints(
        binanceSpot: URL(string: "https://api.binance.com")!, binanceUSDM: URL(string: "https://fapi.binance.com")!,
        lighter: URL(string: "https://mainnet.zklighter.elliot.ai")!, numerai: URL(string: "https://api-tournament.numer.ai")!)

    public init(binanceSpot: URL, binanceUSDM: URL, lighter: URL, numerai: URL) {
        self.binanceSpot = binanceSpot
        self.binanceUSDM = binanceUSDM
        self.lighter = lighter
        self.numerai = numerai
    }

    /// Production URLs, each replaced by its environment variable when set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> VenueEndpoints {
        func pick(_ key: String, _ fallback: URL) -> URL {
            guard let text = environment[key], !text.isEmpty, let url = URL(string: text) else { return fallback }
            return url
        }
        let keys = environmentKeys
        return VenueEndpoints(
            binanceSpot: pick(keys.binanceSpot, production.binanceSpot), binanceUSDM: pick(keys.binanceUSDM, production.binanceUSDM),
            lighter: pick(keys.lighter, production.lighter), numerai: pick(keys.numerai, production.numerai))
    }
}

/// Sends requests for one venue: paces them below the venue's budget, honours `Retry-After`,
/// retries retryable failures a bounded number of times, and turns error bodies into
/// ``VenueError``s.
public actor VenueHTTPClient {
    public let venue: String
    let transport: any HTTPTransport
    let minimumSpacing: Duration
    let maxAttempts: Int
    let sleeper: @Sendable (Duration) async throws -> Void
    private var nextAllowed: ContinuousClock.Instant?

    /// - Parameters:
    ///   - minimumSpacing: the least time between two requests (Lighter allows 60 a minute on
    ///     standard accounts: 1 s; Binance klines cost 2 of 6000 weight a minute: 50 ms is ample).
    ///   - maxAttempts: tries per request for retryable failures (bounded; never loops).
    public init(
        venue: String, transport: any HTTPTransport, minimumSpacing: Duration, maxAttempts: Int = 4,
        sleeper: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.venue = venue
        self.transport = transport
        self.minimumSpacing = minimumSpacing
        self.maxAttempts = max(1, maxAttempts)
        self.sleeper = sleeper
    }

    /// GETs `url` and returns the parsed JSON body of a 2xx answer.
    public func getJSON(_ url: URL) async throws -> JSONValue {
        try await requestJSON(method: "GET", url: url, headers: [:], body: nil)
    }

    public func requestJSON(method: String, url: URL, headers: [String: String], body: [UInt8]?) async throws -> JSONValue {
        let endpoint = "\(venue) \(method) \(url.path)"
        var attempt = 0
        while true {
            attempt += 1
            try await pace()
            do {
                let response = try await transport.send(method: method, url: url, headers: headers, body: body)
                if (200..<300).contains(response.status) {
                    do {
                        return try JSONParser.parse(response.body)
                    } catch {
                        throw VenueError.badResponse(
                            endpoint: endpoint, body: response.body, problem: "not valid JSON (\(error.description))")
                    }
                }
                throw VenueHTTPClient.classify(response, endpoint: endpoint)
            } catch let error as VenueError {
                guard case .retryable(let after) = error.kind, attempt < maxAttempts else { throw error }
                // Back off: the venue's Retry-After when given, else 1 s, 2 s, 4 s …
                var seconds = after ?? Double(1 << (attempt - 1))
                if !seconds.isFinite || seconds < 0 { seconds = 1 }
                try await sleeper(.milliseconds(Int64(min(seconds, 120) * 1000)))
            }
        }
    }

    private func pace() async throws {
        // Reserve the slot before waiting, so concurrent callers queue behind each other.
        let clock = ContinuousClock()
        let now = clock.now
        let slot = max(now, nextAllowed ?? now)
        nextAllowed = slot + minimumSpacing
        if slot > now { try await sleeper(slot - now) }
    }

    /// The wait after a 429 that gives no `Retry-After` (Binance's limits are per minute).
    public static let defaultRateLimitWait: Double = 60

    /// Maps an HTTP error answer to a ``VenueError``, keeping the venue's own message.
    public static func classify(_ response: HTTPResponse, endpoint: String) -> VenueError {
        // Retry-After in seconds; anything not a finite, non-negative number is ignored.
        let retryAfter = response.header("retry-after").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.flatMap {
            $0.isFinite && $0 >= 0 ? $0 : nil
        }
        var detail = "HTTP \(response.status)"
        if let json = try? JSONParser.parse(response.body) {
            let code = json["code"]?.numericText
            let message = json["msg"]?.stringValue ?? json["message"]?.stringValue
            if let message { detail += ": \(message)" }
            if let code { detail += " (code \(code))" }
        }
        switch response.status {
        case 429:
            var error = VenueError(
                kind: .retryable(retryAfterSeconds: retryAfter ?? defaultRateLimitWait), endpoint: endpoint,
                message: detail + "; rate limited"
                    + (retryAfter == nil ? " (no Retry-After: waiting \(Int(defaultRateLimitWait)) s)" : ""),
                httpStatus: 429)
            error.retryAfterGiven = retryAfter != nil
            return error
        case 418:
            return VenueError(
                kind: .fatal, endpoint: endpoint, message: detail + "; the venue has banned this IP address for a while, stop and wait",
                httpStatus: 418)
        case 401, 403: return VenueError(kind: .fatal, endpoint: endpoint, message: detail, httpStatus: response.status)
        case 500...599:
            return VenueError(
                kind: .retryable(retryAfterSeconds: retryAfter), endpoint: endpoint, message: detail, httpStatus: response.status)
        default: return VenueError(kind: .notRetryable, endpoint: endpoint, message: detail, httpStatus: response.status)
        }
    }
}

extension URL {
    /// This URL with `path` appended and `query` items in the given order.
    func appending(path: String, query: [(String, String)]) -> URL {
        var components = URLComponents(url: self.appendingPathComponent(path), resolvingAgainstBaseURL: false)!
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        return components.url!
    }
}
