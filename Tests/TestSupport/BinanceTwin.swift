// A Binance USD-M futures twin on 127.0.0.1: one symbol (NMRUSDT), one-way mode, one account,
// a clock the test moves. Built from Binance's documented behaviour (reliability-anchors.md §2.1
// and its 2026-12 addendum); the book and its rules are in BinanceTwinState.swift, the wire
// shapes in BinanceTwinJSON.swift, the faults in BinanceTwinFaults.swift, the user data stream in
// BinanceTwinStream.swift. This file routes requests and checks signatures.
//
// Safe to run in the test process alongside other tests: each twin has its own port and its own
// server thread; `shutdown()` is bounded (~2 s).

import Crypto
import Foundation
import PerpModel

/// A Binance USD-M futures venue twin for tests (see the file comment).
public final class BinanceUSDMTwin: @unchecked Sendable {
    /// The account's API key and secret. `description` is `<redacted>`.
    public struct Credentials: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
        public var apiKey: String
        public var secret: String
        public init(apiKey: String, secret: String) {
            self.apiKey = apiKey
            self.secret = secret
        }
        /// Obviously fake test credentials.
        public static let test = Credentials(apiKey: "twin-test-api-key", secret: "twin-test-secret-not-real")
        public var description: String { "<redacted>" }
        public var debugDescription: String { "<redacted>" }
    }

    private let lock = NSLock()
    private var book: TwinBook
    private var faultState = TwinFaults()
    private var rng: SplitMix64
    private var usedWeight = 0
    private var weightMinute: Int64 = 0
    private var listenKeys: Set<String> = []
    private var postsByClientID: [String: Int] = [:]
    private let credentials: Credentials
    private let hub = TwinStreamHub()
    private var server: LoopbackHTTPServer?

    /// Starts the twin on 127.0.0.1 (an ephemeral port). `bars` must be in time order and
    /// `intervalMillis` apart; the clock starts at `startMillis` (default: the first bar's open,
    /// so no bar is closed yet).
    public init(
        bars: [TwinBar], intervalMillis: Int64 = 900_000, credentials: Credentials = .test,
        startMillis: Int64? = nil, wallet: Notional = Notional(10_000), filters: TwinFilters = .nmrusdt,
        seed: UInt64 = 1
    ) throws {
        self.credentials = credentials
        rng = SplitMix64(seed: seed)
        let start = startMillis ?? bars.first?.openTime.milliseconds ?? 1_736_121_600_000
        book = TwinBook(filters: filters, bars: bars, intervalMillis: max(intervalMillis, 1), now: start, wallet: wallet)
        let hub = self.hub
        server = try LoopbackHTTPServer(
            limits: .init(), handler: { [weak self] request in self?.handle(request) ?? .status(503) },
            webSocket: { [weak self] path in
                guard path.hasPrefix("/ws/"), let self else { return nil }
                let key = String(path.dropFirst(4))
                guard self.lock.withLock({ self.listenKeys.contains(key) }) else { return nil }
                return hub.session(for: key)
            })
    }

    deinit { shutdown() }

    // MARK: Address and lifetime

    public var port: Int { server?.port ?? 0 }
    /// `http://127.0.0.1:PORT`: the REST base (`NMRPERP_BINANCE_USDM_URL`).
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// `ws://127.0.0.1:PORT`: the user data stream base (`/ws/<listenKey>`).
    public var streamBaseURL: String { "ws://127.0.0.1:\(port)" }
    /// Every HTTP request received, in order.
    public var requests: [HTTPRequestRecord] { server?.requests ?? [] }

    /// Closes the stream sockets and stops the server (bounded, ~2 s). Idempotent.
    public func shutdown() {
        hub.closeAll()
        let server = lock.withLock { () -> LoopbackHTTPServer? in
            let current = self.server
            self.server = nil
            return current
        }
        server?.stop()
    }

    // MARK: The test's controls

    /// The twin's clock, epoch milliseconds.
    public var nowMillis: Int64 { lock.withLock { book.now } }

    /// Moves the clock forward (never back): bars closing on the way trigger algo orders, and the
    /// dead man's switch fires if its deadline passes. Events go to the stream.
    public func advance(toMillis target: Int64) {
        mutate { $0.advance(to: target) }
    }

    /// Alias of ``advance(toMillis:)``.
    public func setNow(_ millis: Int64) { advance(toMillis: millis) }

    /// Overrides the current price (nil: the last closed bar's close again).
    public func setPrice(_ price: Price?) { lock.withLock { book.priceOverride = price } }

    /// The price market orders fill at (before slippage).
    public var price: Price { lock.withLock { book.price } }

    /// Market orders fill this much worse than the current price.
    public func setSlippage(_ slippage: Price) { lock.withLock { book.slippage = slippage } }

    /// The funding rate `premiumIndex` and `fundingRate` report (default 0.01 %).
    public func setFundingRate(_ rate: Rate) { lock.withLock { book.fundingRate = rate } }

    /// Whether the dead man's switch cancels open algo orders too (default true; see
    /// `TwinBook.fireCountdown`).
    public func setCountdownCancelsAlgoOrders(_ value: Bool) {
        lock.withLock { book.countdownCancelsAlgoOrders = value }
    }

    /// The armed faults (read or replace).
    public var faults: TwinFaults {
        get { lock.withLock { faultState } }
        set { lock.withLock { faultState = newValue } }
    }

    /// Changes the armed faults in place.
    public func updateFaults(_ change: (inout TwinFaults) -> Void) {
        lock.withLock { change(&faultState) }
    }

    /// Sends `listenKeyExpired` on the key's sockets, closes them and forgets the key.
    public func expireListenKey(_ key: String) {
        let now = lock.withLock { () -> Int64 in
            listenKeys.remove(key)
            return book.now
        }
        hub.expire(key: key, event: #"{"e":"listenKeyExpired","E":\#(now),"listenKey":\#(TwinJSON.string(key))}"#)
    }

    // MARK: Inspection

    /// Every regular order ever accepted (including those algo orders became), in order.
    public var orders: [TwinOrder] { lock.withLock { book.orders } }
    /// Every algo order ever accepted, in order.
    public var algoOrders: [TwinAlgoOrder] { lock.withLock { book.algoOrders } }
    public var trades: [TwinTrade] { lock.withLock { book.trades } }
    public var position: TwinPosition { lock.withLock { book.position } }
    /// The USDT wallet balance: initial + realized PnL − fees.
    public var walletBalance: Notional { lock.withLock { book.wallet } }
    /// The isolated position's wallet plus its unrealised P&L at the twin's price (`isolatedMargin`).
    public var isolatedMargin: Notional {
        lock.withLock {
            let held = book.position.quantity
            let unrealized = (book.price - book.position.entryPrice).times(held.magnitude)
            return book.isolatedWallet + (held.isNegative ? -unrealized : unrealized)
        }
    }
    public var leverage: Int { lock.withLock { book.leverage } }
    /// The dead man's switch's deadline on the twin's clock, if armed.
    public var countdownDeadline: Int64? { lock.withLock { book.countdownDeadline } }
    /// When the dead man's switch fired.
    public var countdownFirings: [Int64] { lock.withLock { book.countdownFirings } }
    /// How many orders were accepted with this client id (`newClientOrderId` or `clientAlgoId`);
    /// more than 1 is a duplicate the client should never cause.
    public func ordersAccepted(clientID: String) -> Int { lock.withLock { book.acceptedByClientID[clientID] ?? 0 } }
    /// How many placement POSTs carried this client id (accepted or not).
    public func postCount(clientID: String) -> Int { lock.withLock { postsByClientID[clientID] ?? 0 } }
    /// Client ids accepted more than once.
    public var duplicateClientIDs: [String] {
        lock.withLock { book.acceptedByClientID.filter { $0.value > 1 }.map(\.key).sorted() }
    }
    /// Open user-data-stream sockets.
    public var streamConnections: Int { hub.connectedCount }

    // MARK: Requests

    private func mutate<T>(_ body: (inout TwinBook) -> T) -> T {
        lock.lock()
        let result = body(&book)
        let events = book.events.map(\.json)
        book.events.removeAll()
        var faults = faultState
        hub.publish(events, faults: &faults)
        faultState = faults
        lock.unlock()
        return result
    }

    private func handle(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        lock.lock()
        let serverTime = book.now + faultState.clockSkewMillis
        let minute = book.now / 60_000
        if minute != weightMinute {
            weightMinute = minute
            usedWeight = 0
        }
        usedWeight += faultState.weightPerRequest
        let weight = String(usedWeight)
        let delay = faultState.responseDelaySeconds
        let early = faultState.takeRequestFault(serverTime: serverTime)
        lock.unlock()

        var spec = early ?? route(request, serverTime: serverTime)
        spec = spec.withHeader("X-MBX-USED-WEIGHT-1M", weight)
        if delay > 0 { spec = spec.delayed(by: delay) }
        return spec
    }

    private func route(_ request: HTTPRequestRecord, serverTime: Int64) -> HTTPResponseSpec {
        let params = Self.parameters(request)
        switch (request.method, request.path) {
        case ("GET", "/fapi/v1/time"): return .json(#"{"serverTime":\#(serverTime)}"#)
        case ("GET", "/fapi/v1/ping"): return .json("{}")
        case ("GET", "/fapi/v1/exchangeInfo"): return lock.withLock { Self.exchangeInfo(book, serverTime) }
        case ("GET", "/fapi/v1/klines"): return lock.withLock { Self.klines(book, params) }
        case ("GET", "/fapi/v1/premiumIndex"): return lock.withLock { Self.premiumIndex(book, params, serverTime) }
        case ("GET", "/fapi/v1/fundingRate"): return lock.withLock { Self.fundingRates(book, params) }
        case (_, "/fapi/v1/listenKey"): return listenKey(request)
        default: break
        }
        if let refusal = authenticate(request, params: params, serverTime: serverTime) { return refusal }
        switch (request.method, request.path) {
        case ("POST", "/fapi/v1/order"): return placeOrder(params)
        case ("GET", "/fapi/v1/order"): return mutate { Self.queryOrder($0, params) }
        case ("DELETE", "/fapi/v1/order"): return mutate { Self.cancelOrder(&$0, params) }
        case ("GET", "/fapi/v1/openOrders"):
            return mutate { book in .json("[" + book.orders.filter { $0.status == "NEW" }.map(TwinJSON.order).joined(separator: ",") + "]")
            }
        case ("GET", "/fapi/v1/userTrades"): return mutate { Self.userTrades($0, params) }
        case ("GET", "/fapi/v3/positionRisk"), ("GET", "/fapi/v2/positionRisk"):
            return mutate { book in
                // v3 lists only symbols with a position or open orders.
                let open = book.orders.contains { $0.status == "NEW" } || book.algoOrders.contains(where: \.isOpen)
                return .json(book.position.quantity.isZero && !open ? "[]" : "[" + TwinJSON.position(book) + "]")
            }
        case ("GET", "/fapi/v3/balance"), ("GET", "/fapi/v2/balance"): return mutate { .json(TwinJSON.balance($0)) }
        case ("POST", "/fapi/v1/leverage"): return mutate { Self.setLeverage(&$0, params) }
        case ("POST", "/fapi/v1/marginType"): return mutate { Self.setMarginType(&$0, params) }
        case ("POST", "/fapi/v1/countdownCancelAll"): return mutate { Self.countdown(&$0, params) }
        case ("POST", "/fapi/v1/positionMargin"): return mutate { Self.positionMargin(&$0, params) }
        case ("POST", "/fapi/v1/algoOrder"): return placeAlgoOrder(params)
        case ("GET", "/fapi/v1/algoOrder"): return mutate { Self.queryAlgo($0, params) }
        case ("DELETE", "/fapi/v1/algoOrder"): return mutate { Self.cancelAlgo(&$0, params) }
        case ("DELETE", "/fapi/v1/algoOpenOrders"): return mutate { Self.cancelAllAlgo(&$0) }
        case ("GET", "/fapi/v1/openAlgoOrders"):
            return mutate { book in .json("[" + book.algoOrders.filter(\.isOpen).map(TwinJSON.algoOrder).joined(separator: ",") + "]") }
        default:
            return .json(#"{"code":-1000,"msg":"The twin does not serve \#(request.method) \#(request.path)"}"#, status: 404)
        }
    }

    // MARK: Signing

    /// Binance's SIGNED rules (reliability-anchors.md §2.1 "Signing", "Timing"): the key in
    /// `X-MBX-APIKEY` (-2014 missing, -2015 wrong, HTTP 401); `signature` = hex HMAC-SHA256 of
    /// the query string followed directly by the body, without the `signature` pair (-1022);
    /// served only when `timestamp < serverTime + 1000` and `serverTime − timestamp ≤
    /// recvWindow` (default 5000, at most 60 000) (-1021).
    private func authenticate(_ request: HTTPRequestRecord, params: [String: String], serverTime: Int64) -> HTTPResponseSpec? {
        guard let key = request.header("X-MBX-APIKEY"), !key.isEmpty else { return TwinErrors.missingKey }
        guard key == credentials.apiKey else { return TwinErrors.badKey }
        guard let signature = params["signature"]?.lowercased(),
            Self.signature(of: Self.signedPayload(request), secret: credentials.secret) == signature
        else { return TwinErrors.badSignature }
        guard let timestamp = Self.millis(params["timestamp"]) else { return TwinErrors.mandatory("timestamp") }
        let window = params["recvWindow"].flatMap { Int64($0) } ?? 5000
        guard window > 0, window <= 60_000 else { return TwinErrors.illegal("recvWindow") }
        if timestamp >= serverTime + 1000 { return TwinErrors.aheadTimestamp }
        if serverTime - timestamp > window { return TwinErrors.staleTimestamp }
        return nil
    }

    /// The text Binance signs: the raw query string, then the raw body, each without the
    /// `signature=…` pair.
    static func signedPayload(_ request: HTTPRequestRecord) -> String {
        func strip(_ text: Substring) -> String {
            text.split(separator: "&", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("signature=") }
                .joined(separator: "&")
        }
        let query = request.rawTarget.firstIndex(of: "?").map { request.rawTarget[request.rawTarget.index(after: $0)...] } ?? ""
        return strip(query) + strip(Substring(request.bodyText))
    }

    /// Hex HMAC-SHA256, as Binance computes `signature`.
    public static func signature(of payload: String, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return code.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// A time parameter in epoch milliseconds, clamped to years 1970…2100 so that the date
    /// arithmetic on it cannot overflow; nil when it is not an integer.
    static func millis(_ text: String?) -> Int64? {
        guard let text, let value = Int64(text) else { return nil }
        return min(max(value, 0), 4_102_444_800_000)
    }

    /// Query and form body parameters together (the body wins on a repeated name).
    static func parameters(_ request: HTTPRequestRecord) -> [String: String] {
        var params = request.query
        if !request.body.isEmpty {
            for (name, value) in HTTPParsing.parseQuery(Substring(request.bodyText)) { params[name] = value }
        }
        return params
    }

    // MARK: Placement

    private func placeOrder(_ params: [String: String]) -> HTTPResponseSpec {
        lock.lock()
        if let id = params["newClientOrderId"] { postsByClientID[id, default: 0] += 1 }
        lock.unlock()
        // Definitive refusals come before the placement faults: the order never reaches them.
        let parsed = mutate { Self.validateOrder($0, params) }
        let order: ValidOrder
        switch parsed {
        case .failure(let refusal): return refusal.spec
        case .success(let valid): order = valid
        }
        let (refuse, after) = lock.withLock { faultState.takePlacementFault(rng: &rng) }
        if let refuse { return refuse }
        let body = mutate { book -> String in
            book.acceptedByClientID[order.clientID, default: 0] += 1
            let index = book.executeMarket(
                clientID: order.clientID, side: order.side, quantity: order.quantity, reduceOnly: order.reduceOnly)
            guard order.wantsResult else {
                // `newOrderRespType=ACK` (the default): the order as accepted, before its fill.
                var acknowledged = book.orders[index]
                acknowledged.status = "NEW"
                acknowledged.executedQuantity = .zero
                acknowledged.averagePrice = .zero
                acknowledged.cumulativeQuote = .zero
                return TwinJSON.order(acknowledged)
            }
            return TwinJSON.order(book.orders[index])
        }
        return Self.answer(.json(body), after: after)
    }

    private func placeAlgoOrder(_ params: [String: String]) -> HTTPResponseSpec {
        lock.lock()
        if let id = params["clientAlgoId"] { postsByClientID[id, default: 0] += 1 }
        lock.unlock()
        let parsed = mutate { Self.validateAlgo($0, params) }
        let valid: TwinAlgoOrder
        switch parsed {
        case .failure(let refusal): return refusal.spec
        case .success(let algo): valid = algo
        }
        let (refuse, after) = lock.withLock { faultState.takePlacementFault(rng: &rng) }
        if let refuse { return refuse }
        let body = mutate { book -> String in
            var algo = valid
            algo.algoID = book.nextAlgoID
            book.nextAlgoID += 1
            algo.createTime = book.now
            algo.updateTime = book.now
            book.algoOrders.append(algo)
            book.acceptedByClientID[algo.clientAlgoID, default: 0] += 1
            book.events.append(TwinEvent(json: TwinJSON.algoUpdate(algo, time: book.now)))
            return TwinJSON.algoOrder(algo)
        }
        return Self.answer(.json(body), after: after)
    }

    private static func answer(_ spec: HTTPResponseSpec, after: FaultDecision) -> HTTPResponseSpec {
        switch after {
        case .none: return spec
        case .dropAfterAccept: return .drop
        case .serverErrorAfterAccept(let html): return html ? TwinErrors.html502 : TwinErrors.unknownAfterAccept
        }
    }

    struct Refusal: Error { var spec: HTTPResponseSpec }
    struct ValidOrder {
        var clientID: String
        var side: Side
        var quantity: Quantity
        var reduceOnly: Bool
        /// `newOrderRespType=RESULT`: answer the final FILLED state; otherwise (ACK, Binance's
        /// default) the NEW order with nothing executed.
        var wantsResult: Bool
    }

    /// Binance's client id alphabet and length (`^[\.A-Z\:/a-z0-9_-]{1,36}$`).
    static func validClientID(_ id: String) -> Bool {
        (1...36).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "/")
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    static func side(_ params: [String: String]) -> Result<Side, Refusal> {
        switch params["side"] {
        case "BUY": return .success(.long)
        case "SELL": return .success(.short)
        case nil: return .failure(Refusal(spec: TwinErrors.mandatory("side")))
        default: return .failure(Refusal(spec: TwinErrors.illegal("side")))
        }
    }

    /// A quantity within the LOT_SIZE filter: -4003 when ≤ 0, -1111 off the step, -4005 above
    /// the maximum (Binance error-code page).
    static func quantity(_ text: String?, _ filters: TwinFilters, maximum: Quantity) -> Result<Quantity, Refusal> {
        guard let text else { return .failure(Refusal(spec: TwinErrors.mandatory("quantity"))) }
        guard text.utf8.count <= 40, let quantity = Quantity(text) else { return .failure(Refusal(spec: TwinErrors.illegal("quantity"))) }
        guard quantity.isPositive else { return .failure(Refusal(spec: TwinErrors.nonPositiveQuantity)) }
        guard quantity <= maximum else { return .failure(Refusal(spec: TwinErrors.tooLarge)) }
        guard filters.stepSize.isPositive, quantity.raw % filters.stepSize.raw == 0, quantity >= filters.minQuantity else {
            return .failure(Refusal(spec: TwinErrors.precision))
        }
        return .success(quantity)
    }

    static func validateOrder(_ book: TwinBook, _ params: [String: String]) -> Result<ValidOrder, Refusal> {
        guard params["symbol"] == TwinJSON.symbol else { return .failure(Refusal(spec: TwinErrors.invalidSymbol)) }
        switch params["type"] {
        case "MARKET": break
        case "STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET":
            return .failure(Refusal(spec: TwinErrors.algoRequired))
        case nil: return .failure(Refusal(spec: TwinErrors.mandatory("type")))
        default: return .failure(Refusal(spec: TwinErrors.invalidOrderType))
        }
        let side: Side
        switch Self.side(params) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let value): side = value
        }
        let quantity: Quantity
        switch Self.quantity(params["quantity"], book.filters, maximum: book.filters.maxMarketQuantity) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let value): quantity = value
        }
        let clientID = params["newClientOrderId"] ?? "twin-auto-\(book.nextOrderID)"
        guard validClientID(clientID) else { return .failure(Refusal(spec: TwinErrors.illegal("newClientOrderId"))) }
        // Unique among OPEN orders only (Binance `newClientOrderId` doc): filled ones do not count.
        if book.orders.contains(where: { $0.clientOrderID == clientID && $0.status == "NEW" }) {
            return .failure(Refusal(spec: TwinErrors.duplicateID))
        }
        let reduceOnly = params["reduceOnly"]?.lowercased() == "true"
        if reduceOnly && !book.reducesOnly(side: side, quantity: quantity) {
            return .failure(Refusal(spec: TwinErrors.reduceOnly))
        }
        if !reduceOnly && book.price.times(quantity) < book.filters.minNotional {
            return .failure(Refusal(spec: TwinErrors.minNotional))
        }
        return .success(
            ValidOrder(
                clientID: clientID, side: side, quantity: quantity, reduceOnly: reduceOnly,
                wantsResult: params["newOrderRespType"] == "RESULT"))
    }

    static func validateAlgo(_ book: TwinBook, _ params: [String: String]) -> Result<TwinAlgoOrder, Refusal> {
        guard params["symbol"] == TwinJSON.symbol else { return .failure(Refusal(spec: TwinErrors.invalidSymbol)) }
        guard params["algoType"] == "CONDITIONAL" else { return .failure(Refusal(spec: TwinErrors.illegal("algoType"))) }
        guard let type = params["type"], type == "STOP_MARKET" || type == "TAKE_PROFIT_MARKET" else {
            return .failure(Refusal(spec: TwinErrors.invalidOrderType))
        }
        let side: Side
        switch Self.side(params) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let value): side = value
        }
        guard let triggerText = params["triggerPrice"] else { return .failure(Refusal(spec: TwinErrors.mandatory("triggerPrice"))) }
        guard triggerText.utf8.count <= 40, let trigger = Price(triggerText) else {
            return .failure(Refusal(spec: TwinErrors.illegal("triggerPrice")))
        }
        guard trigger >= book.filters.minPrice, trigger <= book.filters.maxPrice, book.filters.tickSize.isPositive,
            trigger.raw % book.filters.tickSize.raw == 0
        else {
            return .failure(Refusal(spec: TwinErrors.precision))
        }
        let closePosition = params["closePosition"]?.lowercased() == "true"
        var quantity = Quantity.zero
        if !closePosition {
            switch Self.quantity(params["quantity"], book.filters, maximum: book.filters.maxQuantity) {
            case .failure(let refusal): return .failure(refusal)
            case .success(let value): quantity = value
            }
        }
        let clientID = params["clientAlgoId"] ?? "twin-algo-\(book.nextAlgoID)"
        guard validClientID(clientID) else { return .failure(Refusal(spec: TwinErrors.illegal("clientAlgoId"))) }
        if book.algoOrders.contains(where: { $0.clientAlgoID == clientID && $0.isOpen }) {
            return .failure(Refusal(spec: TwinErrors.duplicateID))
        }
        // -2021 when the trigger is already crossed at the current price.
        let price = book.price
        let onFall = (type == "STOP_MARKET") == (side == .short)
        if onFall ? price <= trigger : price >= trigger { return .failure(Refusal(spec: TwinErrors.immediateTrigger)) }
        return .success(
            TwinAlgoOrder(
                algoID: 0, clientAlgoID: clientID, type: type, side: side, quantity: quantity, triggerPrice: trigger,
                reduceOnly: params["reduceOnly"]?.lowercased() == "true", closePosition: closePosition, status: "NEW",
                createTime: 0, updateTime: 0))
    }

    // MARK: Queries and cancels

    static func findOrder(_ book: TwinBook, _ params: [String: String]) -> Int? {
        if let id = params["orderId"].flatMap({ Int64($0) }) { return book.orders.lastIndex { $0.orderID == id } }
        if let client = params["origClientOrderId"] { return book.orders.lastIndex { $0.clientOrderID == client } }
        return nil
    }

    static func queryOrder(_ book: TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard params["orderId"] != nil || params["origClientOrderId"] != nil else { return TwinErrors.mandatory("orderId") }
        guard let index = findOrder(book, params) else { return TwinErrors.noSuchOrder }
        return .json(TwinJSON.order(book.orders[index]))
    }

    static func cancelOrder(_ book: inout TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard let index = findOrder(book, params), book.orders[index].status == "NEW" else { return TwinErrors.unknownOrder }
        book.orders[index].status = "CANCELED"
        book.orders[index].updateTime = book.now
        book.events.append(TwinEvent(json: TwinJSON.orderTradeUpdate(book.orders[index], trade: nil, time: book.now)))
        return .json(TwinJSON.order(book.orders[index]))
    }

    static func findAlgo(_ book: TwinBook, _ params: [String: String]) -> Int? {
        if let id = params["algoId"].flatMap({ Int64($0) }) { return book.algoOrders.lastIndex { $0.algoID == id } }
        if let client = params["clientAlgoId"] { return book.algoOrders.lastIndex { $0.clientAlgoID == client } }
        return nil
    }

    /// Guessed: an unknown algo order answers -2013 to a query and -2011 to a cancel, as the
    /// regular book does.
    static func queryAlgo(_ book: TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard let index = findAlgo(book, params) else { return TwinErrors.noSuchOrder }
        return .json(TwinJSON.algoOrder(book.algoOrders[index]))
    }

    static func cancelAlgo(_ book: inout TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard let index = findAlgo(book, params), book.algoOrders[index].isOpen else { return TwinErrors.unknownOrder }
        book.algoOrders[index].status = "CANCELED"
        book.algoOrders[index].updateTime = book.now
        book.events.append(TwinEvent(json: TwinJSON.algoUpdate(book.algoOrders[index], time: book.now)))
        let algo = book.algoOrders[index]
        return .json(#"{"algoId":\#(algo.algoID),"clientAlgoId":\#(TwinJSON.string(algo.clientAlgoID)),"code":"200","msg":"success"}"#)
    }

    /// `DELETE /fapi/v1/algoOpenOrders`: cancels every open algo order of the symbol. Guessed
    /// answer: `{"code":200,"msg":"The operation of cancel all open order is done."}` as the
    /// regular `allOpenOrders` gives.
    static func cancelAllAlgo(_ book: inout TwinBook) -> HTTPResponseSpec {
        for index in book.algoOrders.indices where book.algoOrders[index].isOpen {
            book.algoOrders[index].status = "CANCELED"
            book.algoOrders[index].updateTime = book.now
            book.events.append(TwinEvent(json: TwinJSON.algoUpdate(book.algoOrders[index], time: book.now)))
        }
        return .json(#"{"code":200,"msg":"The operation of cancel all open order is done."}"#)
    }

    /// `GET /fapi/v1/userTrades`: `fromId` (trades with id ≥ it), else `startTime`/`endTime`
    /// (at most 7 days apart; default the last 7 days), `limit` default 500, max 1000.
    static func userTrades(_ book: TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        let limit = min(max(params["limit"].flatMap { Int($0) } ?? 500, 1), 1000)
        var rows: [TwinTrade]
        if let fromID = params["fromId"].flatMap({ Int64($0) }) {
            rows = book.trades.filter { $0.id >= fromID }
        } else {
            let week: Int64 = 7 * 86_400_000
            let start = millis(params["startTime"])
            let end = millis(params["endTime"])
            let from = start ?? ((end ?? book.now) - week)
            let to = end ?? (start.map { $0 + week } ?? book.now)
            guard to >= from, to - from <= week else {
                return TwinErrors.spec(400, -4166, "The query time period must be less then 7 days.")
            }
            rows = book.trades.filter { $0.time >= from && $0.time <= to }
        }
        return .json("[" + rows.prefix(limit).map(TwinJSON.trade).joined(separator: ",") + "]")
    }

    static func setLeverage(_ book: inout TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard let leverage = params["leverage"].flatMap({ Int($0) }), (1...50).contains(leverage) else {
            return TwinErrors.spec(400, -4028, "Leverage is not valid")
        }
        book.leverage = leverage
        return .json(#"{"leverage":\#(leverage),"maxNotionalValue":"250000","symbol":"NMRUSDT"}"#)
    }

    static func setMarginType(_ book: inout TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard let type = params["marginType"]?.uppercased(), type == "ISOLATED" || type == "CROSSED" else {
            return TwinErrors.illegal("marginType")
        }
        guard type != book.marginType else { return TwinErrors.noMarginChange }
        book.marginType = type
        return .json(#"{"code":200,"msg":"success"}"#)
    }

    /// `positionMargin` (Binance USD-M "Modify Isolated Position Margin"): `type` 1 adds `amount`
    /// from the available balance, 2 removes it while the initial margin stays covered. The
    /// refusal codes are the twin's choice (-4050 cross balance insufficient, -4051 isolated
    /// balance insufficient, -4047 not an isolated position).
    static func positionMargin(_ book: inout TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard let amount = params["amount"].flatMap({ Notional($0) }), amount.isPositive,
            let type = params["type"], type == "1" || type == "2"
        else { return TwinErrors.illegal("amount or type") }
        guard book.marginType == "ISOLATED", !book.position.quantity.isZero else {
            return TwinErrors.spec(400, -4047, "Margin type cannot be changed if there exists position.")
        }
        if type == "1" {
            guard amount <= book.wallet - book.isolatedWallet else { return TwinErrors.spec(400, -4050, "Cross balance insufficient.") }
            book.isolatedWallet += amount
        } else {
            let initial = Notional(raw: book.price.times(book.position.quantity.magnitude).raw / Int64(max(book.leverage, 1)))
            guard book.isolatedWallet - amount >= initial else { return TwinErrors.spec(400, -4051, "Isolated balance insufficient.") }
            book.isolatedWallet -= amount
        }
        return .json(#"{"amount":\#(amount),"code":200,"msg":"Successfully modify position margin.","type":\#(type)}"#)
    }

    /// `countdownCancelAll`: `countdownTime` ms from now (0 disarms).
    static func countdown(_ book: inout TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard let millis = params["countdownTime"].flatMap({ Int64($0) }), millis >= 0, millis <= 86_400_000 else {
            return TwinErrors.mandatory("countdownTime")
        }
        book.countdownDeadline = millis == 0 ? nil : book.now + millis
        return .json(#"{"symbol":"NMRUSDT","countdownTime":"\#(millis)"}"#)
    }

    // MARK: Listen keys

    /// `POST/PUT/DELETE /fapi/v1/listenKey` (USER_STREAM: the key header, no signature).
    private func listenKey(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        guard let key = request.header("X-MBX-APIKEY"), !key.isEmpty else { return TwinErrors.missingKey }
        guard key == credentials.apiKey else { return TwinErrors.badKey }
        return lock.withLock {
            switch request.method {
            case "POST":
                // Binance answers the account's current key while it is valid.
                if let existing = listenKeys.first { return .json(#"{"listenKey":"\#(existing)"}"#) }
                var text = ""
                while text.utf8.count < 64 { text += String(rng.next(), radix: 16) }
                let listenKey = String(text.prefix(64))
                listenKeys.insert(listenKey)
                return .json(#"{"listenKey":"\#(listenKey)"}"#)
            case "PUT":
                guard let existing = listenKeys.first else { return TwinErrors.unknownListenKey }
                return .json(#"{"listenKey":"\#(existing)"}"#)
            case "DELETE":
                listenKeys.removeAll()
                return .json("{}")
            default:
                return .status(405)
            }
        }
    }

    // MARK: Market data

    static func intervalName(_ millis: Int64) -> String {
        switch millis {
        case 60_000: return "1m"
        case 300_000: return "5m"
        case 900_000: return "15m"
        case 1_800_000: return "30m"
        case 3_600_000: return "1h"
        case 14_400_000: return "4h"
        case 86_400_000: return "1d"
        default: return "\(millis / 60_000)m"
        }
    }

    /// `GET /fapi/v1/klines`: closed bars only, `startTime`/`endTime` on open times, `limit`
    /// default 500, max 1500; rows as Binance's 12-element arrays.
    static func klines(_ book: TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        guard params["symbol"] == TwinJSON.symbol else { return TwinErrors.invalidSymbol }
        guard params["interval"] == intervalName(book.intervalMillis) else { return TwinErrors.invalidInterval }
        let limit = min(max(params["limit"].flatMap { Int($0) } ?? 500, 1), 1500)
        let start = millis(params["startTime"])
        let end = millis(params["endTime"])
        var rows = book.closedBars.filter { bar in
            let open = bar.openTime.milliseconds
            return (start.map { open >= $0 } ?? true) && (end.map { open <= $0 } ?? true)
        }
        rows = start == nil ? Array(rows.suffix(limit)) : Array(rows.prefix(limit))
        let text = rows.map { bar -> String in
            let open = bar.openTime.milliseconds
            let quote = bar.close.times(bar.volume)
            return """
                [\(open),"\(bar.open.formatted(places: 3))","\(bar.high.formatted(places: 3))",\
                "\(bar.low.formatted(places: 3))","\(bar.close.formatted(places: 3))","\(bar.volume.formatted(places: 1))",\
                \(open + book.intervalMillis - 1),"\(quote)",100,"0","0","0"]
                """
        }
        return .json("[" + text.joined(separator: ",") + "]")
    }

    static func premiumIndex(_ book: TwinBook, _ params: [String: String], _ serverTime: Int64) -> HTTPResponseSpec {
        if let symbol = params["symbol"], symbol != TwinJSON.symbol { return TwinErrors.invalidSymbol }
        let interval = book.fundingIntervalMillis
        let next = (book.now / interval + 1) * interval
        let body = """
            {"symbol":"NMRUSDT","markPrice":"\(book.price)","indexPrice":"\(book.price)",\
            "estimatedSettlePrice":"\(book.price)","lastFundingRate":"\(book.fundingRate)",\
            "interestRate":"0.00010000","nextFundingTime":\(next),"time":\(serverTime)}
            """
        return .json(params["symbol"] == nil ? "[" + body + "]" : body)
    }

    /// `GET /fapi/v1/fundingRate`: one settlement per funding interval from the first bar to now
    /// at the configured rate; `startTime`/`endTime`, `limit` default 100, max 1000.
    static func fundingRates(_ book: TwinBook, _ params: [String: String]) -> HTTPResponseSpec {
        let interval = book.fundingIntervalMillis
        let first = ((book.bars.first?.openTime.milliseconds ?? book.now) + interval - 1) / interval * interval
        let limit = min(max(params["limit"].flatMap { Int($0) } ?? 100, 1), 1000)
        let start = max(millis(params["startTime"]) ?? first, first)
        let end = min(millis(params["endTime"]) ?? book.now, book.now)
        var rows: [String] = []
        var time = (start + interval - 1) / interval * interval
        while time <= end && rows.count < limit {
            let mark = book.bars.last { $0.openTime.milliseconds + book.intervalMillis <= time }?.close ?? book.price
            rows.append(
                #"{"symbol":"NMRUSDT","fundingTime":\#(time),"fundingRate":"\#(book.fundingRate)","markPrice":"\#(mark)"}"#)
            time += interval
        }
        return .json("[" + rows.joined(separator: ",") + "]")
    }

    static func exchangeInfo(_ book: TwinBook, _ serverTime: Int64) -> HTTPResponseSpec {
        let filters = book.filters
        return .json(
            """
            {"timezone":"UTC","serverTime":\(serverTime),"futuresType":"U_MARGINED",\
            "rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":2400},\
            {"rateLimitType":"ORDERS","interval":"MINUTE","intervalNum":1,"limit":1200},\
            {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":300}],\
            "exchangeFilters":[],"assets":[{"asset":"USDT","marginAvailable":true,"autoAssetExchange":"-10000"}],\
            "symbols":[{"symbol":"NMRUSDT","pair":"NMRUSDT","contractType":"PERPETUAL","deliveryDate":4133404800000,\
            "onboardDate":1569398400000,"status":"TRADING","baseAsset":"NMR","quoteAsset":"USDT","marginAsset":"USDT",\
            "pricePrecision":3,"quantityPrecision":1,"baseAssetPrecision":8,"quotePrecision":8,\
            "underlyingType":"COIN","triggerProtect":"0.0500","liquidationFee":"0.015000",\
            "marketTakeBound":"0.05","maxMoveOrderLimit":10000,\
            "filters":[{"filterType":"PRICE_FILTER","minPrice":"\(filters.minPrice)","maxPrice":"\(filters.maxPrice)","tickSize":"\(filters.tickSize)"},\
            {"filterType":"LOT_SIZE","minQty":"\(filters.minQuantity)","maxQty":"\(filters.maxQuantity)","stepSize":"\(filters.stepSize)"},\
            {"filterType":"MARKET_LOT_SIZE","minQty":"\(filters.minQuantity)","maxQty":"\(filters.maxMarketQuantity)","stepSize":"\(filters.stepSize)"},\
            {"filterType":"MAX_NUM_ORDERS","limit":200},{"filterType":"MAX_NUM_ALGO_ORDERS","limit":10},\
            {"filterType":"MIN_NOTIONAL","notional":"\(filters.minNotional)"},\
            {"filterType":"PERCENT_PRICE","multiplierUp":"1.0500","multiplierDown":"0.9500","multiplierDecimal":"4"}],\
            "orderTypes":["LIMIT","MARKET","STOP","STOP_MARKET","TAKE_PROFIT","TAKE_PROFIT_MARKET","TRAILING_STOP_MARKET"],\
            "timeInForce":["GTC","IOC","FOK","GTX","GTD"]}]}
            """)
    }
}
