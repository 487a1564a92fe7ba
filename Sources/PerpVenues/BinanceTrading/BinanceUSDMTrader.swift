import Foundation
import Logging
import PerpExecution
import PerpModel

/// The Binance USD-M trading adapter for one symbol (issue 12, decision 0012): signs requests,
/// keeps the clock in step with the venue, stays under the rate limits, and classifies every
/// answer the way the execution core needs (reliability-anchors.md §1.1 command outcome
/// policy, §2.1 Binance USD-M).
///
/// Submit outcome table (``classify(_:)``, then the endpoint's reader):
///
/// | answer | outcome |
/// |---|---|
/// | 2xx whose body reads as the order | `accepted` |
/// | 2xx that does not read (truncated, wrong shape, NaN) | `unknown` |
/// | 4xx with a Binance `code` (-1111, -1102, -1121, -2015, -2019, -2021, -2022, -2027, -4003, -4014, -4023, -4116, -4131, -4164, …) | `rejected(code:message:)` |
/// | 4xx with -1000, -1001, -1006, -1007 or -1008 (status unknown / overload) | `unknown` |
/// | 4xx without a readable code (a WAF page), 403 | `unknown` |
/// | -1021 (timestamp outside recvWindow) | clock re-synced, re-signed and resent **once**; a second -1021 is `rejected` (the venue did not process it) |
/// | 429 | `rejected(code: the body's code or -1003)`, message with the `Retry-After`; later requests wait it out |
/// | 418, or any request while banned | `rejected(code: 418)` "IP banned until …": nothing is sent until the ban ends |
/// | 408, any 5xx (503 "Unknown error" and "Service Unavailable." alike), timeout, reset | `unknown` |
///
/// 429 as `rejected`: Binance's limiter refuses the request before it reaches the matching
/// engine (USD-M "General Info", LIMITS: "a 429 will be returned when either rate limit is
/// violated"), which is the "venue semantics guarantee non-acceptance" case of Nautilus's
/// policy. 503 "Service Unavailable." is documented as a failure, but it is treated as
/// `unknown`: a lookup by client id settles it at the cost of one request.
public actor BinanceUSDMTrader: HedgeVenue {
    public nonisolated let name: String
    public nonisolated let symbol: String
    let baseURL: URL
    let webSocketBase: String
    let credentials: BinanceCredentials
    let signer: BinanceSigner
    let transport: any HTTPTransport
    let clock: @Sendable () -> Int64
    let recvWindow: Int64
    let logger: Logger
    let sleeper: @Sendable (Duration) async throws -> Void

    /// Venue time minus local time, from `GET /fapi/v1/time`.
    private(set) var serverOffset: Int64 = 0
    private var clockSynced = false
    /// How many times the clock was synchronised (the start, and once per -1021).
    private(set) var clockSyncs = 0
    /// Local ms until which nothing is sent (418).
    private(set) var bannedUntil: Int64?
    /// Local ms until which requests wait (429 `Retry-After`).
    private(set) var rateLimitedUntil: Int64?
    private var weight: (used: Int, minute: Int64)?
    private var orders10s: (count: Int, window: Int64)?
    private var orders1m: (count: Int, minute: Int64)?

    /// Pacing budgets: below Binance USD-M's 2400 weight/min per IP and 300 orders/10 s,
    /// 1200 orders/min per account (reliability-anchors.md §2.1 "Rate limits"), with a margin
    /// for other processes on the same IP.
    public static let weightBudget = 2000
    public static let orders10sBudget = 250
    public static let orders1mBudget = 1000
    /// The longest a request waits for a rate-limit window before it is refused unsent.
    public static let maxPacingWaitMilliseconds: Int64 = 60_000
    /// The ban assumed when a 418 has no `Retry-After` (Binance bans start at 2 minutes).
    public static let defaultBanMilliseconds: Int64 = 120_000

    /// - Parameters:
    ///   - clock: the local wall clock in Unix milliseconds (injected: tests move it).
    ///   - recvWindow: Binance's `recvWindow` (ms; ≤ 5000 recommended, 60 000 at most).
    ///   - sleeper: how pacing waits (tests record instead of sleeping).
    public init(
        baseURL: URL, credentials: BinanceCredentials, symbol: String, transport: any HTTPTransport,
        clock: @escaping @Sendable () -> Int64, recvWindow: Int64 = 5000, logger: Logger,
        webSocketBase: String = BinanceEndpoints.production.webSocket, name: String = "binance-usdm",
        sleeper: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.baseURL = baseURL
        self.credentials = credentials
        self.signer = credentials.signer
        self.symbol = symbol
        self.transport = transport
        self.clock = clock
        self.recvWindow = min(max(recvWindow, 1), 60_000)
        self.logger = logger
        self.webSocketBase = webSocketBase.hasSuffix("/") ? String(webSocketBase.dropLast()) : webSocketBase
        self.name = name
        self.sleeper = sleeper
    }

    // MARK: - Requests

    enum Security { case none, apiKey, signed }

    /// One answer, read once.
    struct Answer {
        var response: HTTPResponse
        var json: JSONValue?
        var code: Int?
        var message: String?
        var retryAfterSeconds: Int64?
        var ok: Bool { (200..<300).contains(response.status) }
    }

    /// Why a request got no answer.
    enum RequestFailure: Error {
        /// Never sent (banned, rate limited beyond the wait, a request we cannot build):
        /// definitive, the venue never saw it.
        case notSent(code: Int, reason: String)
        /// Sent, or perhaps sent, and no answer: ambiguous.
        case transport(String)
    }

    /// What an answer means for an order command.
    enum Verdict {
        case success(JSONValue)
        case refused(code: Int, message: String)
        case ambiguous(String)
    }

    /// Codes whose request may or may not have been executed (reliability-anchors.md §2.1 HTTP
    /// status semantics: -1006 UNEXPECTED_RESP, -1007 TIMEOUT "execution status unknown";
    /// -1000 UNKNOWN, -1001 DISCONNECTED and -1008 overload are treated the same, the safe side).
    static let ambiguousCodes: Set<Int> = [-1000, -1001, -1006, -1007, -1008]

    /// The outcome table in the type's documentation.
    static func classify(_ answer: Answer) -> Verdict {
        let status = answer.response.status
        let detail = answer.message.map { VenueError.excerpt(Array($0.utf8), limit: 120) } ?? "no message"
        if answer.ok {
            guard let json = answer.json else {
                return .ambiguous("HTTP \(status) with an unreadable body: \(VenueError.excerpt(answer.response.body))")
            }
            return .success(json)
        }
        switch status {
        case 429:
            let wait = answer.retryAfterSeconds.map { "retry after \($0) s" } ?? "no Retry-After"
            return .refused(code: answer.code ?? -1003, message: "rate limited (HTTP 429, \(wait)): \(detail)")
        case 418:
            return .refused(
                code: 418, message: "IP banned (HTTP 418, \(answer.retryAfterSeconds.map { "\($0) s" } ?? "no Retry-After")): \(detail)")
        case 408, 500...599:
            return .ambiguous("HTTP \(status): \(detail)")
        case 400...499:
            guard let code = answer.code else {
                return .ambiguous("HTTP \(status) without a Binance code: \(VenueError.excerpt(answer.response.body))")
            }
            if ambiguousCodes.contains(code) { return .ambiguous("HTTP \(status) code \(code): \(detail)") }
            return .refused(code: code, message: detail)
        default:
            return .ambiguous("HTTP \(status): \(VenueError.excerpt(answer.response.body))")
        }
    }

    /// The venue's clock now, as this process best knows it.
    var venueNow: Int64 {
        let (sum, overflow) = clock().addingReportingOverflow(serverOffset)
        return overflow ? clock() : sum
    }

    /// Reads `GET /fapi/v1/time` and sets the offset to the middle of the round trip (Binance
    /// USD-M "Check Server Time"; reliability-anchors.md §2.1 "Timing"). A failure keeps the old
    /// offset: a -1021 will try again.
    @discardableResult
    public func synchronizeClock() async -> Bool {
        clockSyncs += 1
        let before = clock()
        guard let answer = try? await send("GET", "/fapi/v1/time", [], security: .none, countsAsOrder: false),
            answer.ok, let json = answer.json, let serverTime = BinanceWire.int64(json, "serverTime"), serverTime > 0
        else {
            logger.warning("binance-usdm: could not read the server time; keeping offset \(serverOffset) ms")
            return false
        }
        let after = clock()
        let middle = before / 2 + after / 2
        let (offset, overflow) = serverTime.subtractingReportingOverflow(middle)
        guard !overflow, abs(offset) < 86_400_000 else {
            logger.warning("binance-usdm: server time \(serverTime) is implausibly far from the local clock; offset unchanged")
            return false
        }
        serverOffset = offset
        clockSynced = true
        return true
    }

    /// Sends one request: paced, signed when `security` says so, re-signed and resent once
    /// after a -1021. Never retries anything else.
    func request(
        _ method: String, _ path: String, _ parameters: [(String, String)], security: Security, countsAsOrder: Bool = false
    ) async throws(RequestFailure) -> Answer {
        if security == .signed && !clockSynced { await synchronizeClock() }
        var answer = try await send(method, path, parameters, security: security, countsAsOrder: countsAsOrder)
        if security == .signed, answer.code == -1021 {
            // Definitive: the request was not processed. Re-sync once, re-sign, resend once.
            logger.notice(
                "binance-usdm: \(method) \(path) got -1021 (timestamp outside recvWindow); re-syncing the clock and resending once")
            await synchronizeClock()
            answer = try await send(method, path, parameters, security: security, countsAsOrder: countsAsOrder)
        }
        return answer
    }

    private func send(
        _ method: String, _ path: String, _ parameters: [(String, String)], security: Security, countsAsOrder: Bool
    ) async throws(RequestFailure) -> Answer {
        try await gate(countsAsOrder: countsAsOrder)
        var query = BinanceSigner.encode(parameters)
        if security == .signed {
            let signed = parameters + [("recvWindow", String(recvWindow)), ("timestamp", String(venueNow))]
            query = BinanceSigner.encode(signed)
            query += "&signature=" + signer.signature(for: query)
        }
        let base = baseURL.absoluteString.hasSuffix("/") ? String(baseURL.absoluteString.dropLast()) : baseURL.absoluteString
        guard let url = URL(string: base + path + (query.isEmpty ? "" : "?" + query)) else {
            throw .notSent(code: -1100, reason: "could not build the URL for \(method) \(path)")
        }
        let headers = security == .none ? [:] : ["X-MBX-APIKEY": credentials.apiKeyHeader]
        let response: HTTPResponse
        do {
            response = try await transport.send(method: method, url: url, headers: headers, body: nil)
        } catch {
            let reason = VenueError.excerpt(Array(String(describing: error).utf8), limit: 160)
            logger.info("binance-usdm \(method) \(path) failed: \(reason)")
            throw .transport("\(method) \(path): \(reason)")
        }
        let answer = Self.read(response)
        noteLimits(answer)
        logger.info(
            "binance-usdm \(method) \(path) → \(response.status)\(answer.code.map { " code \($0)" } ?? "") weight \(response.header("x-mbx-used-weight-1m") ?? "?")"
        )
        return answer
    }

    static func read(_ response: HTTPResponse) -> Answer {
        let json = try? JSONParser.parse(response.body)
        var code: Int?
        var message: String?
        if let json, case .object = json {
            code = BinanceWire.text(json, "code").flatMap { Int($0) }
            message = json["msg"]?.stringValue
            // Success bodies of the algo API carry "code": "200"; only negative codes are errors.
            if let value = code, value >= 0 { code = nil }
        }
        let retryAfter = response.header("retry-after").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }.flatMap {
            (0...(3 * 86_400)).contains($0) ? $0 : nil
        }
        return Answer(response: response, json: json, code: code, message: message, retryAfterSeconds: retryAfter)
    }

    /// Records the usage headers (`X-MBX-USED-WEIGHT-1M`, `X-MBX-ORDER-COUNT-10S`,
    /// `X-MBX-ORDER-COUNT-1M`) and the waits a 429 or 418 imposes (`Retry-After`).
    private func noteLimits(_ answer: Answer) {
        let now = venueNow
        func count(_ name: String) -> Int? { answer.response.header(name).flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil } }
        if let used = count("x-mbx-used-weight-1m") { weight = (used, now / 60_000) }
        if let used = count("x-mbx-order-count-10s") { orders10s = (used, now / 10_000) }
        if let used = count("x-mbx-order-count-1m") { orders1m = (used, now / 60_000) }
        let local = clock()
        switch answer.response.status {
        case 429:
            let wait = (answer.retryAfterSeconds ?? 60) * 1000
            rateLimitedUntil = max(rateLimitedUntil ?? 0, local + wait)
        case 418:
            let wait = answer.retryAfterSeconds.map { $0 * 1000 } ?? Self.defaultBanMilliseconds
            bannedUntil = max(bannedUntil ?? 0, local + wait)
            logger.error("binance-usdm: IP banned (418) until \(Timestamp(milliseconds: local + wait).iso8601); nothing is sent until then")
        default: break
        }
    }

    /// Waits for the rate-limit windows, or refuses to send (banned; a wait beyond
    /// ``maxPacingWaitMilliseconds``).
    private func gate(countsAsOrder: Bool) async throws(RequestFailure) {
        let local = clock()
        if let until = bannedUntil {
            if local < until {
                throw .notSent(code: 418, reason: "IP banned until \(Timestamp(milliseconds: until).iso8601); not sent")
            }
            bannedUntil = nil
        }
        var wait: Int64 = 0
        if let until = rateLimitedUntil {
            if local < until { wait = until - local } else { rateLimitedUntil = nil }
        }
        let now = venueNow
        if let weight, weight.minute == now / 60_000, weight.used >= Self.weightBudget {
            wait = max(wait, (weight.minute + 1) * 60_000 - now)
        }
        if countsAsOrder {
            if let orders10s, orders10s.window == now / 10_000, orders10s.count >= Self.orders10sBudget {
                wait = max(wait, (orders10s.window + 1) * 10_000 - now)
            }
            if let orders1m, orders1m.minute == now / 60_000, orders1m.count >= Self.orders1mBudget {
                wait = max(wait, (orders1m.minute + 1) * 60_000 - now)
            }
        }
        guard wait > 0 else { return }
        guard wait <= Self.maxPacingWaitMilliseconds else {
            throw .notSent(code: -1003, reason: "rate limited for another \(wait / 1000) s; not sent")
        }
        logger.notice("binance-usdm: pacing, waiting \(wait) ms for the rate limit")
        do {
            try await sleeper(.milliseconds(wait))
        } catch {
            throw .notSent(code: -1003, reason: "cancelled while waiting for the rate limit; not sent")
        }
    }

    /// A 2xx JSON answer, or a ``VenueError`` saying why not (for reads: rules, snapshot, setup).
    func json(
        _ method: String, _ path: String, _ parameters: [(String, String)], security: Security, countsAsOrder: Bool = false,
        accepting acceptedCodes: Set<Int> = []
    ) async throws -> JSONValue {
        let endpoint = "\(name) \(method) \(path)"
        let answer: Answer
        do throws(RequestFailure) {
            answer = try await request(method, path, parameters, security: security, countsAsOrder: countsAsOrder)
        } catch {
            switch error {
            case .notSent(let code, let reason):
                throw VenueError(kind: code == 418 ? .fatal : .retryable(retryAfterSeconds: nil), endpoint: endpoint, message: reason)
            case .transport(let reason):
                throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint, message: reason)
            }
        }
        if let code = answer.code, acceptedCodes.contains(code) { return answer.json ?? .null }
        guard answer.ok else { throw VenueHTTPClient.classify(answer.response, endpoint: endpoint) }
        guard let json = answer.json else {
            throw VenueError.badResponse(endpoint: endpoint, body: answer.response.body, problem: "not valid JSON")
        }
        return json
    }

    // MARK: - ExecutionVenue

    public func rules() async throws -> MarketRules {
        let json = try await json("GET", "/fapi/v1/exchangeInfo", [], security: .none)
        switch BinanceWire.rules(json, symbol: symbol) {
        case .success(let rules): return rules
        case .failure(let problem):
            throw VenueError.badResponse(
                endpoint: "\(name) GET /fapi/v1/exchangeInfo", body: Array(json.serialized(pretty: false).utf8), problem: problem.text)
        }
    }

    /// `POST /fapi/v1/marginType` (-4046 "No need to change margin type." is success) then
    /// `POST /fapi/v1/leverage` (Binance USD-M "Change Margin Type", "Change Initial Leverage").
    public func prepare(leverage: Int, isolated: Bool) async throws {
        guard (1...125).contains(leverage) else {
            throw VenueError(kind: .notRetryable, endpoint: "\(name) prepare", message: "leverage \(leverage) is outside 1…125")
        }
        _ = try await json(
            "POST", "/fapi/v1/marginType", [("symbol", symbol), ("marginType", isolated ? "ISOLATED" : "CROSSED")], security: .signed,
            accepting: [-4046])
        _ = try await json("POST", "/fapi/v1/leverage", [("symbol", symbol), ("leverage", String(leverage))], security: .signed)
    }

    /// Binance's client id alphabet and length (`^[\.A-Z\:/a-z0-9_-]{1,36}$`; ≤ 32 used to be
    /// safe, reliability-anchors.md §2.1 "New order").
    static func validClientID(_ id: String) -> Bool {
        (1...36).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || ".:/_-".utf8.contains(byte)
            }
    }

    /// The request for `intent`: `POST /fapi/v1/order` for a market order, `POST
    /// /fapi/v1/algoOrder` (`algoType=CONDITIONAL`, `workingType=MARK_PRICE`) for a stop or
    /// take-profit (reliability-anchors.md §2.1 "New order" and addendum 2026-12). One-way mode:
    /// `positionSide` is omitted. Quantities and prices are plain decimals (no exponent).
    func orderRequest(_ intent: OrderIntent) -> Result<(path: String, parameters: [(String, String)]), RequestFailure> {
        guard Self.validClientID(intent.clientID) else {
            return .failure(.notSent(code: -1102, reason: "client id is not 1-36 characters of [A-Za-z0-9.:/_-]; not sent"))
        }
        guard intent.quantity.isPositive else {
            return .failure(.notSent(code: -4003, reason: "quantity \(intent.quantity) is not positive; not sent"))
        }
        let side = BinanceWire.wireSide(intent.side)
        guard intent.kind.isConditional else {
            var parameters = [
                ("symbol", symbol), ("side", side), ("type", "MARKET"), ("quantity", intent.quantity.description),
                ("newClientOrderId", intent.clientID),
            ]
            if intent.reduceOnly { parameters.append(("reduceOnly", "true")) }
            parameters.append(("newOrderRespType", "RESULT"))
            return .success(("/fapi/v1/order", parameters))
        }
        guard let trigger = intent.triggerPrice, trigger.isPositive else {
            return .failure(.notSent(code: -1102, reason: "a \(intent.kind.rawValue) order needs a positive trigger price; not sent"))
        }
        var parameters = [
            ("algoType", "CONDITIONAL"), ("symbol", symbol), ("side", side), ("type", BinanceWire.wireType(intent.kind)),
            ("quantity", intent.quantity.description), ("triggerPrice", trigger.description),
        ]
        if intent.reduceOnly { parameters.append(("reduceOnly", "true")) }
        parameters += [("workingType", "MARK_PRICE"), ("clientAlgoId", intent.clientID)]
        return .success(("/fapi/v1/algoOrder", parameters))
    }

    public func submit(_ intent: OrderIntent) async -> SubmitOutcome {
        let built: (path: String, parameters: [(String, String)])
        switch orderRequest(intent) {
        case .success(let request): built = request
        case .failure(.notSent(let code, let reason)): return .rejected(code: code, message: reason)
        case .failure(.transport(let reason)): return .unknown(reason: reason)
        }
        let answer: Answer
        do throws(RequestFailure) {
            answer = try await request("POST", built.path, built.parameters, security: .signed, countsAsOrder: true)
        } catch {
            switch error {
            case .notSent(let code, let reason): return .rejected(code: code, message: reason)
            case .transport(let reason): return .unknown(reason: reason)
            }
        }
        switch Self.classify(answer) {
        case .refused(let code, let message): return .rejected(code: code, message: message)
        case .ambiguous(let reason): return .unknown(reason: reason)
        case .success(let json):
            let order = intent.kind.isConditional ? BinanceWire.algoOrder(json)?.order : BinanceWire.order(json)
            guard let order, order.clientID == intent.clientID else {
                return .unknown(
                    reason: "HTTP \(answer.response.status) with a body that is not the order: \(VenueError.excerpt(answer.response.body))")
            }
            return .accepted(order)
        }
    }

    public func lookup(clientID: String, kind: OrderKind) async -> LookupOutcome {
        guard Self.validClientID(clientID) else { return .notFound }
        if !kind.isConditional {
            let answer: Answer
            do throws(RequestFailure) {
                answer = try await request(
                    "GET", "/fapi/v1/order", [("symbol", symbol), ("origClientOrderId", clientID)], security: .signed)
            } catch {
                return .unknown(reason: Self.describe(error))
            }
            switch Self.classify(answer) {
            case .refused(-2013, _): return .notFound
            case .refused(let code, let message): return .unknown(reason: "code \(code): \(message)")
            case .ambiguous(let reason): return .unknown(reason: reason)
            case .success(let json):
                guard let order = BinanceWire.order(json), order.clientID == clientID else {
                    return .unknown(reason: "an answer that is not the order: \(VenueError.excerpt(answer.response.body))")
                }
                return .found(order)
            }
        }
        let answer: Answer
        do throws(RequestFailure) {
            answer = try await request("GET", "/fapi/v1/algoOrder", [("clientAlgoId", clientID)], security: .signed)
        } catch {
            return .unknown(reason: Self.describe(error))
        }
        switch Self.classify(answer) {
        // The algo API's not-found code is not in the stored docs; -2013 (NO_SUCH_ORDER) is what
        // Nautilus handles for it.
        case .refused(-2013, _): return .notFound
        case .refused(let code, let message): return .unknown(reason: "code \(code): \(message)")
        case .ambiguous(let reason): return .unknown(reason: reason)
        case .success(let json):
            guard let parsed = BinanceWire.algoOrder(json), parsed.order.clientID == clientID else {
                return .unknown(reason: "an answer that is not the algo order: \(VenueError.excerpt(answer.response.body))")
            }
            let (algo, state) = parsed
            switch state {
            case .resting, .final: return .found(algo)
            case .triggered, .finished:
                guard let actualID = algo.triggeredOrderID else {
                    if state == .triggered { return .found(algo) }
                    return .unknown(reason: "algo order \(algo.venueOrderID) is FINISHED without an actualOrderId")
                }
                return await actualOrder(of: algo, id: actualID)
            }
        }
    }

    /// A triggered algo order's state, read from the order it became (`GET /fapi/v1/order?orderId=`).
    private func actualOrder(of algo: VenueOrder, id: String) async -> LookupOutcome {
        let answer: Answer
        do throws(RequestFailure) {
            answer = try await request("GET", "/fapi/v1/order", [("symbol", symbol), ("orderId", id)], security: .signed)
        } catch {
            return .unknown(reason: "triggered algo order's actual order \(id): \(Self.describe(error))")
        }
        switch Self.classify(answer) {
        case .success(let json):
            guard let actual = BinanceWire.order(json), actual.venueOrderID == id,
                let merged = BinanceWire.merge(algo: algo, actual: actual)
            else { return .unknown(reason: "triggered algo order's actual order \(id) did not read") }
            return .found(merged)
        case .refused(let code, let message): return .unknown(reason: "triggered algo order's actual order \(id): code \(code): \(message)")
        case .ambiguous(let reason): return .unknown(reason: "triggered algo order's actual order \(id): \(reason)")
        }
    }

    public func cancel(clientID: String, kind: OrderKind) async -> CancelOutcome {
        guard Self.validClientID(clientID) else { return .notOpen }
        let path = kind.isConditional ? "/fapi/v1/algoOrder" : "/fapi/v1/order"
        let parameters = kind.isConditional ? [("clientAlgoId", clientID)] : [("symbol", symbol), ("origClientOrderId", clientID)]
        let answer: Answer
        do throws(RequestFailure) {
            answer = try await request("DELETE", path, parameters, security: .signed)
        } catch {
            return .unknown(reason: Self.describe(error))
        }
        switch Self.classify(answer) {
        // -2011 "Unknown order sent." (CANCEL_REJECTED); -2013 "Order does not exist" means the same here.
        case .refused(-2011, _), .refused(-2013, _): return .notOpen
        case .refused(let code, let message): return .unknown(reason: "code \(code): \(message)")
        case .ambiguous(let reason): return .unknown(reason: reason)
        case .success(let json):
            let order = kind.isConditional ? BinanceWire.algoOrder(json)?.order : BinanceWire.order(json)
            return .cancelled(order)
        }
    }

    static func describe(_ failure: RequestFailure) -> String {
        switch failure {
        case .notSent(let code, let reason): return "not sent (\(code)): \(reason)"
        case .transport(let reason): return reason
        }
    }

    /// How far back `userTrades` is asked: Binance keeps six months of trades.
    static let tradeHistoryLimit: Int64 = 183 * 86_400_000
    static let tradeWindow: Int64 = 7 * 86_400_000
    static let tradePageLimit = 1000
    static let maxTradePages = 200

    public func snapshot(fillsSince: Timestamp) async throws -> VenueSnapshot {
        let open = try await json("GET", "/fapi/v1/openOrders", [("symbol", symbol)], security: .signed)
        let openAlgo = try await json("GET", "/fapi/v1/openAlgoOrders", [("symbol", symbol)], security: .signed)
        let risk = try await json("GET", "/fapi/v3/positionRisk", [("symbol", symbol)], security: .signed)
        let balances = try await json("GET", "/fapi/v3/balance", [], security: .signed)
        func bad(_ path: String, _ value: JSONValue, _ problem: String) -> VenueError {
            VenueError.badResponse(endpoint: "\(name) GET \(path)", body: Array(value.serialized(pretty: false).utf8), problem: problem)
        }
        guard let openRows = open.arrayValue else { throw bad("/fapi/v1/openOrders", open, "expected an array of orders") }
        var orders: [VenueOrder] = []
        for row in openRows {
            guard let order = BinanceWire.order(row) else { throw bad("/fapi/v1/openOrders", row, "an order that does not read") }
            orders.append(order)
        }
        let algoRows = openAlgo.arrayValue ?? openAlgo["orders"]?.arrayValue
        guard let algoRows else { throw bad("/fapi/v1/openAlgoOrders", openAlgo, "expected an array of algo orders") }
        for row in algoRows {
            guard let order = BinanceWire.algoOrder(row)?.order else {
                throw bad("/fapi/v1/openAlgoOrders", row, "an algo order that does not read")
            }
            orders.append(order)
        }
        guard let position = BinanceWire.position(risk, symbol: symbol) else {
            throw bad("/fapi/v3/positionRisk", risk, "no readable one-way position row for \(symbol)")
        }
        guard let balance = BinanceWire.balance(balances) else {
            throw bad("/fapi/v3/balance", balances, "no readable USDT balance")
        }
        let fills = try await trades(since: fillsSince.milliseconds)
        return VenueSnapshot(
            openOrders: orders, position: position, balance: balance, fills: fills, time: Timestamp(milliseconds: venueNow))
    }

    /// `GET /fapi/v1/userTrades` from `since` to now, oldest first: windows of at most 7 days
    /// (Binance: "The query time period must be less than 7 days"), each paged by `fromId`
    /// when a page is full; deduplicated by trade id; bounded in pages.
    func trades(since: Int64) async throws -> [VenueFill] {
        let now = venueNow
        var start = max(since, now - Self.tradeHistoryLimit)
        if start < since { start = since }
        var fills: [VenueFill] = []
        var seen = Set<String>()
        var pages = 0
        let endpoint = "\(name) GET /fapi/v1/userTrades"
        while start <= now {
            let end = min(start + Self.tradeWindow - 1, now)
            var parameters = [
                ("symbol", symbol), ("startTime", String(start)), ("endTime", String(end)), ("limit", String(Self.tradePageLimit)),
            ]
            while true {
                pages += 1
                guard pages <= Self.maxTradePages else {
                    throw VenueError(kind: .notRetryable, endpoint: endpoint, message: "more than \(Self.maxTradePages) pages of trades")
                }
                let page = try await json("GET", "/fapi/v1/userTrades", parameters, security: .signed)
                guard let rows = page.arrayValue else {
                    throw VenueError.badResponse(
                        endpoint: endpoint, body: Array(page.serialized(pretty: false).utf8), problem: "expected an array of trades")
                }
                var lastID: Int64?
                for row in rows {
                    guard let fill = BinanceWire.trade(row) else {
                        throw VenueError.badResponse(
                            endpoint: endpoint, body: Array(row.serialized(pretty: false).utf8), problem: "a trade that does not read")
                    }
                    lastID = Int64(fill.tradeID).map { max($0, lastID ?? $0) }
                    guard fill.time.milliseconds <= end, seen.insert(fill.tradeID).inserted else { continue }
                    fills.append(fill)
                }
                guard rows.count >= Self.tradePageLimit, let lastID, lastID < Int64.max else { break }
                parameters = [("symbol", symbol), ("fromId", String(lastID + 1)), ("limit", String(Self.tradePageLimit))]
            }
            start = end + 1
        }
        return fills.sorted { lhs, rhs in
            if lhs.time != rhs.time { return lhs.time < rhs.time }
            return (Int64(lhs.tradeID) ?? 0) < (Int64(rhs.tradeID) ?? 0)
        }
    }

    /// `POST /fapi/v1/countdownCancelAll` (`symbol`, `countdownTime` in ms; 0 disarms;
    /// reliability-anchors.md §2.1 "Dead-man switch").
    public func heartbeat(countdown: TimeSpan) async throws {
        guard countdown.milliseconds >= 0 else {
            throw VenueError(kind: .notRetryable, endpoint: "\(name) heartbeat", message: "a negative countdown")
        }
        _ = try await json(
            "POST", "/fapi/v1/countdownCancelAll", [("symbol", symbol), ("countdownTime", String(countdown.milliseconds))],
            security: .signed)
    }

    // MARK: - The stake hedge

    /// `GET /fapi/v3/positionRisk` (mark, liquidation price, `isolatedMargin`: the isolated
    /// wallet with the unrealised P&L) and `GET /fapi/v3/balance`. Funding paid is not read here
    /// (it is in `/fapi/v1/income`; `hedge status` says so).
    public func hedgeState() async throws -> HedgeVenueState {
        let risk = try await json("GET", "/fapi/v3/positionRisk", [("symbol", symbol)], security: .signed)
        let balances = try await json("GET", "/fapi/v3/balance", [], security: .signed)
        func bad(_ path: String, _ value: JSONValue, _ problem: String) -> VenueError {
            VenueError.badResponse(endpoint: "\(name) GET \(path)", body: Array(value.serialized(pretty: false).utf8), problem: problem)
        }
        guard let position = BinanceWire.position(risk, symbol: symbol) else {
            throw bad("/fapi/v3/positionRisk", risk, "no readable one-way position row for \(symbol)")
        }
        guard let balance = BinanceWire.balance(balances) else { throw bad("/fapi/v3/balance", balances, "no readable USDT balance") }
        var mark = position.markPrice
        if mark == nil {
            // Flat: positionRisk may omit the row; the premium index has the mark.
            let premium = try await json("GET", "/fapi/v1/premiumIndex", [("symbol", symbol)], security: .none)
            mark = BinanceWire.text(premium, "markPrice").flatMap { Price($0) }.flatMap { $0.isPositive ? $0 : nil }
        }
        guard let mark else { throw bad("/fapi/v1/premiumIndex", risk, "no mark price for \(symbol)") }
        return HedgeVenueState(position: position, balance: balance, mark: mark, fundingPaid: nil)
    }

    /// `POST /fapi/v1/positionMargin` (Binance USD-M "Modify Isolated Position Margin": `type` 1
    /// adds, 2 reduces; `amount` in USDT).
    public func moveMargin(_ amount: Notional, add: Bool) async -> MarginOutcome {
        guard amount.isPositive else { return .refused("the amount \(amount) is not positive; not sent") }
        let answer: Answer
        do throws(RequestFailure) {
            answer = try await request(
                "POST", "/fapi/v1/positionMargin",
                [("symbol", symbol), ("amount", amount.description), ("type", add ? "1" : "2")], security: .signed)
        } catch {
            switch error {
            case .notSent(_, let reason): return .refused(reason)
            case .transport(let reason): return .unknown(reason)
            }
        }
        switch Self.classify(answer) {
        case .success: return .done
        case .refused(let code, let message): return .refused("code \(code): \(message)")
        case .ambiguous(let reason): return .unknown(reason)
        }
    }
}
