import Foundation
import Logging
import PerpExecution
import PerpModel

/// Lighter's endpoints: mainnet, testnet (chain ids 304 and 300; lighter-live.md §3.1, §7.1).
/// `NMRPERP_LIGHTER_URL` points the tool at another address (a twin on loopback).
public struct LighterEndpoints: Sendable, Equatable {
    public var rest: URL
    public var chainID: Int32
    public var name: String
    /// The account stream's address; `nil`: `ws(s)://` the REST host `/stream`.
    public var stream: String?

    public static let mainnet = LighterEndpoints(rest: URL(string: "https://mainnet.zklighter.elliot.ai")!, chainID: 304, name: "lighter")
    public static let testnet = LighterEndpoints(
        rest: URL(string: "https://testnet.zklighter.elliot.ai")!, chainID: 300, name: "lighter-testnet")

    public static let urlVariable = "NMRPERP_LIGHTER_URL"
    public static let streamVariable = "NMRPERP_LIGHTER_WS_URL"

    public static func fromEnvironment(_ environment: [String: String], base: LighterEndpoints) -> LighterEndpoints {
        var endpoints = base
        if let text = environment[urlVariable], !text.isEmpty, let url = URL(string: text), url.scheme != nil {
            endpoints.rest = url
        }
        if let text = environment[streamVariable], !text.isEmpty { endpoints.stream = text }
        return endpoints
    }
}

/// The Lighter trading adapter for one perp market (issue 13, decision 0015): signs with the
/// venue's own library (``LighterSigner``), sends one transaction at a time per API key with
/// the nonces it owns, stays under the standard account's 60 requests a minute, and classifies
/// every answer for the execution core.
///
/// Transactions (lighter-live.md §4):
///
/// | answer of `POST /api/v1/sendTx` | what happens |
/// |---|---|
/// | 200 `{code: 200, tx_hash}` | accepted (the nonce is consumed); the order is then looked up by `client_order_index` to learn what the sequencer did |
/// | 21104 invalid nonce | definitive refusal: `nextNonce` is read again and the transaction signed again with it (at most twice) |
/// | 21120 / 21136 key or signer refused | nothing more is signed by this process; the refusal names the key index |
/// | 21728 client order index exists | the intent reached the venue before: looked up and adopted |
/// | 429, 23000–23003 | waited out (`Retry-After`, bounded), the same signed transaction resent (its nonce was not consumed) |
/// | other 4xx with a code | refused (the nonce was not consumed) |
/// | 5xx, timeout, reset, unreadable | unknown: the nonce sequence is re-read, the order looked up by `client_order_index`; never re-signed blindly |
public actor LighterTrader: HedgeVenue {
    public nonisolated let name: String
    public nonisolated let market: Int64
    public nonisolated let accountIndex: Int64
    public nonisolated let apiKeyIndex: Int32
    let baseURL: URL
    /// The account stream's address when set explicitly (`NMRPERP_LIGHTER_WS_URL`).
    nonisolated let streamOverride: String?
    let signer: any LighterSigner
    let transport: any HTTPTransport
    let clock: @Sendable () -> Int64
    let logger: Logger
    let sleeper: @Sendable (Duration) async throws -> Void
    /// How far past the reference price a market order may fill (its `Price` is the worst
    /// acceptable price), and a stop past its trigger.
    public let slippage: Rate

    private(set) var scale: LighterScale?
    private(set) var marketInfo: LighterMarket?
    private(set) var nonces = LighterNonceSequence()
    private var token: (text: String, deadline: Int64)?
    private var sentAt: [Int64] = []
    private var rateLimitedUntil: Int64?
    private var clientIDs: [Int64: String] = [:]
    /// When the scheduled cancel-all fires (venue ms), as last set by this process.
    private(set) var scheduledCancelAt: Int64?
    /// Set when the venue refused the key (21120/21136): nothing is signed after it.
    private(set) var keyRefusal: String?
    /// How many transactions the API accepted, and how many times the nonce was re-read.
    private(set) var acceptedTransactions = 0
    private(set) var nonceResyncs = 0

    /// 60 requests a minute on a standard account (apidocs `/docs/rate-limits`); a margin is
    /// left for `nmrperp` reads in another terminal.
    public static let requestsPerMinute = 55
    public static let maxPacingWaitMilliseconds: Int64 = 65_000
    /// Lighter's window for a scheduled cancel-all starts at 5 minutes (lighter-live.md §4.3);
    /// the switch is set at least 10 minutes ahead and refreshed when half of it is left.
    public static let minimumCancelWindow = TimeSpan.minutes(10)
    /// A conditional order's expiry (the venue's window is 5 min – 30 days).
    public static let conditionalExpiry = TimeSpan.days(28)
    /// Auth tokens last at most 8 h; ours 7 h, renewed with an hour left.
    static let tokenLifetimeSeconds: Int64 = 7 * 3600

    public init(
        endpoints: LighterEndpoints, market: Int64, accountIndex: Int64, apiKeyIndex: Int32, signer: any LighterSigner,
        transport: any HTTPTransport, clock: @escaping @Sendable () -> Int64, logger: Logger, slippage: Rate = Rate("0.02")!,
        sleeper: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) }
    ) {
        self.name = endpoints.name
        self.baseURL = endpoints.rest
        self.streamOverride = endpoints.stream
        self.market = market
        self.accountIndex = accountIndex
        self.apiKeyIndex = apiKeyIndex
        self.signer = signer
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.slippage = slippage
        self.sleeper = sleeper
    }

    // MARK: - Requests

    /// Why a request got no usable answer.
    enum RequestFailure: Error {
        /// Never sent (pacing beyond the wait, a request we cannot build): the venue never saw it.
        case notSent(String)
        /// Sent, or perhaps sent, and no answer.
        case transport(String)
    }

    /// Waits for the minute's budget and any `Retry-After`, or refuses to send.
    private func pace() async throws(RequestFailure) {
        let now = clock()
        sentAt.removeAll { now - $0 >= 60_000 }
        var wait: Int64 = 0
        if let until = rateLimitedUntil {
            if now < until { wait = until - now } else { rateLimitedUntil = nil }
        }
        if sentAt.count >= Self.requestsPerMinute, let oldest = sentAt.first { wait = max(wait, oldest + 60_000 - now) }
        var sendAt = now
        if wait > 0 {
            guard wait <= Self.maxPacingWaitMilliseconds else {
                throw .notSent("rate limited for another \(wait / 1000) s; not sent")
            }
            logger.notice("\(name): pacing, waiting \(wait) ms for the request budget")
            do { try await sleeper(.milliseconds(wait)) } catch { throw .notSent("cancelled while waiting for the rate limit; not sent") }
            // The wait is over even if the clock says otherwise (a clock that moved less).
            sendAt = max(clock(), now + wait)
            rateLimitedUntil = nil
            sentAt.removeAll { sendAt - $0 >= 60_000 }
        }
        sentAt.append(sendAt)
    }

    private func url(_ path: String, _ query: [(String, String)]) throws(RequestFailure) -> URL {
        let base = baseURL.absoluteString.hasSuffix("/") ? String(baseURL.absoluteString.dropLast()) : baseURL.absoluteString
        let encoded = BinanceSigner.encode(query)
        guard let url = URL(string: base + path + (encoded.isEmpty ? "" : "?" + encoded)) else {
            throw .notSent("could not build the URL for \(path)")
        }
        return url
    }

    private func send(_ method: String, _ url: URL, headers: [String: String], body: [UInt8]?, what: String) async throws(RequestFailure)
        -> HTTPResponse
    {
        try await pace()
        let response: HTTPResponse
        do {
            response = try await transport.send(method: method, url: url, headers: headers, body: body)
        } catch {
            let reason = SafeText.excerpt(Array(String(describing: error).utf8), limit: 160)
            logger.info("\(name) \(what) failed: \(reason)")
            throw .transport("\(what): \(reason)")
        }
        if response.status == 429 {
            let seconds = response.header("retry-after").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }.flatMap {
                (0...3600).contains($0) ? $0 : nil
            }
            rateLimitedUntil = max(rateLimitedUntil ?? 0, clock() + (seconds ?? 10) * 1000)
        }
        logger.info("\(name) \(what) → \(response.status)")
        return response
    }

    /// A 200 JSON answer of a read, or a ``VenueError`` saying why not.
    func get(_ path: String, _ query: [(String, String)], authenticated: Bool) async throws -> JSONValue {
        let endpoint = "\(name) GET \(path)"
        var headers: [String: String] = [:]
        var response: HTTPResponse
        var attempt = 0
        while true {
            do throws(RequestFailure) {
                if authenticated { headers["Authorization"] = try authToken() }
                response = try await send("GET", try url(path, query), headers: headers, body: nil, what: "GET \(path)")
            } catch {
                switch error {
                case .notSent(let reason), .transport(let reason):
                    throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: endpoint, message: reason)
                }
            }
            // A read refused by the rate limiter is waited out (the next `pace` waits for the
            // `Retry-After` it set) and asked again, twice at most.
            guard response.status == 429, attempt < 2 else { break }
            attempt += 1
        }
        guard response.status == 200 else { throw VenueHTTPClient.classify(response, endpoint: endpoint) }
        guard let json = try? JSONParser.parse(response.body) else {
            throw VenueError.badResponse(endpoint: endpoint, body: response.body, problem: "not valid JSON")
        }
        if let code = json["code"]?.int64Value, code != 200 {
            throw VenueError(
                kind: .notRetryable, endpoint: endpoint,
                message: "code \(code): \(SafeText.excerpt(Array((json["message"]?.stringValue ?? "").utf8), limit: 120))")
        }
        return json
    }

    /// A token for private reads, made by the signer (`deadline:account:key:signature`), renewed
    /// with an hour left.
    private func authToken() throws(RequestFailure) -> String {
        let nowSeconds = clock() / 1000
        if let token, token.deadline - nowSeconds > 3600 { return token.text }
        let deadline = nowSeconds + Self.tokenLifetimeSeconds
        do {
            let text = try signer.authToken(deadline: deadline)
            token = (text, deadline)
            return text
        } catch {
            throw .notSent("could not make an auth token: \(error)")
        }
    }

    // MARK: - Transactions

    /// What became of one transaction.
    enum TxResult: Equatable {
        case accepted(txHash: String)
        case duplicate
        case refused(code: Int64, message: String)
        case unknown(String)
    }

    /// Seeds the nonce sequence from `GET /api/v1/nextNonce` when it is not known.
    private func ensureNonce() async -> String? {
        guard nonces.next == nil else { return nil }
        do {
            let json = try await get(
                "/api/v1/nextNonce", [("account_index", String(accountIndex)), ("api_key_index", String(apiKeyIndex))],
                authenticated: false)
            guard let value = LighterWire.nextNonce(json) else { return "nextNonce answered without a nonce" }
            nonces.seed(nextNonce: value)
            nonceResyncs += 1
            return nil
        } catch {
            return "could not read nextNonce: \(error)"
        }
    }

    /// Signs with the next nonce and sends, one at a time (the actor holds the sequence through
    /// the reply). See the table in the type's documentation.
    func transact(_ what: String, _ sign: (Int64) throws(LighterSignerError) -> LighterSignedTx) async -> TxResult {
        if let keyRefusal { return .refused(code: 21120, message: keyRefusal) }
        var invalidNonces = 0
        var rateLimits = 0
        while true {
            if let problem = await ensureNonce() { return .refused(code: -1, message: "\(problem); not sent") }
            guard let nonce = nonces.take() else { return .refused(code: -1, message: "no nonce available; not sent") }
            let tx: LighterSignedTx
            do { tx = try sign(nonce) } catch {
                nonces.answer(.refusedByAPI)
                return .refused(code: -2, message: "the signer refused \(what): \(error); not sent")
            }
            var answer: LighterSendAnswer
            while true {
                answer = await post(tx, what: what)
                // The same signed transaction again (its nonce was not consumed) once `pace`
                // has waited out the `Retry-After` the answer set.
                guard case .rateLimited = answer, rateLimits < 3 else { break }
                rateLimits += 1
                logger.notice("\(name): \(what) rate limited; resending the same transaction after the wait")
            }
            nonces.answer(answer.nonceAnswer)
            switch answer {
            case .accepted(let hash):
                acceptedTransactions += 1
                return .accepted(txHash: hash)
            case .invalidNonce:
                invalidNonces += 1
                logger.warning("\(name): \(what) refused with invalid nonce \(nonce); reading nextNonce again")
                if invalidNonces >= 3 { return .refused(code: 21104, message: "invalid nonce three times; not sent") }
                continue
            case .keyRejected(let code, let message):
                let text =
                    "Lighter refused API key \(apiKeyIndex) of account \(accountIndex) (code \(code): \(message)); nothing more is signed. Register the key again or update the signer."
                keyRefusal = text
                logger.error("\(name): \(text)")
                return .refused(code: code, message: text)
            case .duplicateClientOrderIndex:
                return .duplicate
            case .refused(let code, let message):
                return .refused(code: code, message: message)
            case .rateLimited:
                return .refused(code: 23000, message: "rate limited (429) after three waits; not sent")
            case .unknown(let reason):
                return .unknown(reason)
            }
        }
    }

    /// `POST /api/v1/sendTx` with `tx_type` and `tx_info` form-encoded (lighter-live.md §4.1).
    private func post(_ tx: LighterSignedTx, what: String) async -> LighterSendAnswer {
        let body = Array(BinanceSigner.encode([("tx_type", String(tx.type)), ("tx_info", tx.info)]).utf8)
        do throws(RequestFailure) {
            let response = try await send(
                "POST", try url("/api/v1/sendTx", []), headers: ["Content-Type": "application/x-www-form-urlencoded"], body: body,
                what: "sendTx \(what)")
            let retryAfter = response.header("retry-after").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }.flatMap {
                $0.isFinite && $0 >= 0 ? $0 : nil
            }
            return LighterSendAnswer.classify(status: response.status, body: response.body, retryAfter: retryAfter)
        } catch {
            switch error {
            // Not sent: the nonce was not consumed.
            case .notSent(let reason): return .refused(code: -1, message: reason)
            case .transport(let reason): return .unknown(reason: reason)
            }
        }
    }

    // MARK: - Market

    /// The market's details and integer units (`orderBookDetails`), read once and kept.
    func ensureScale() async throws -> LighterScale {
        if let scale { return scale }
        try await refreshMarket()
        guard let scale else { throw VenueError(kind: .notRetryable, endpoint: "\(name) orderBookDetails", message: "no scale") }
        return scale
    }

    /// Reads `orderBookDetails` again (units and the mark price).
    @discardableResult
    func refreshMarket() async throws -> LighterMarket {
        let json = try await get("/api/v1/orderBookDetails", [("market_id", String(market))], authenticated: false)
        let details = try LighterClient.parseMarket(json, id: Int(market))
        guard let parsed = LighterScale(details) else {
            throw VenueError(
                kind: .notRetryable, endpoint: "\(name) GET /api/v1/orderBookDetails",
                message: "market \(market) has no size_decimals and price_decimals (or more than 8 places)")
        }
        scale = parsed
        marketInfo = details
        return details
    }

    public func rules() async throws -> MarketRules {
        let scale = try await ensureScale()
        return scale.rules(symbol: marketInfo?.symbol ?? "market-\(market)")
    }

    /// `UpdateLeverage` (tx 20): `InitialMarginFraction` = 10 000 ÷ leverage, `MarginMode` 1
    /// isolated, 0 cross (lighter-live.md §4.3).
    public func prepare(leverage: Int, isolated: Bool) async throws {
        let info = try await refreshMarket()
        guard (1...100).contains(leverage) else {
            throw VenueError(kind: .notRetryable, endpoint: "\(name) prepare", message: "leverage \(leverage) is outside 1…100")
        }
        let fraction = Int32(10_000 / leverage)
        let minimum = info.minInitialFraction.raw / (Rate.scale / 10_000)
        guard Int64(fraction) >= minimum else {
            throw VenueError(
                kind: .notRetryable, endpoint: "\(name) prepare",
                message: "leverage \(leverage)x is above the market's maximum (initial margin fraction \(minimum)/10000)")
        }
        let result = await transact("UpdateLeverage") { nonce throws(LighterSignerError) in
            try signer.updateLeverage(market: market, initialMarginFraction: fraction, marginMode: isolated ? 1 : 0, nonce: nonce)
        }
        guard case .accepted = result else {
            throw VenueError(kind: .notRetryable, endpoint: "\(name) UpdateLeverage", message: "\(result)")
        }
    }

    /// Moves USDC into (`add`) or out of the isolated position (`UpdateMargin`, tx 29; amount
    /// in 10⁻⁶ USDC). Used by the stake hedge to hold its collateral `k·q·P` on the position.
    public func moveMargin(_ amount: Notional, add: Bool) async -> MarginOutcome {
        guard amount.isPositive else { return .refused("the amount \(amount) is not positive; not sent") }
        // Notional carries 8 places; USDC on Lighter 6: whole micro-dollars only.
        let step = FixedMath.pow10[Notional.decimals - 6]
        guard amount.raw % step == 0 else { return .refused("\(amount) USDC has more than 6 decimal places; not sent") }
        let micro = amount.raw / step
        let result = await transact("UpdateMargin") { nonce throws(LighterSignerError) in
            try signer.updateMargin(market: market, usdcAmount: micro, direction: add ? 1 : 0, nonce: nonce)
        }
        switch result {
        case .accepted: return .done
        case .duplicate: return .refused("refused as a duplicate")
        case .refused(let code, let message): return .refused("code \(code): \(message)")
        case .unknown(let reason): return .unknown(reason)
        }
    }

    /// The account's position in the market, its USDC and the mark: `account` and
    /// `orderBookDetails`, two requests.
    public func hedgeState() async throws -> HedgeVenueState {
        let details = try await refreshMarket()
        guard let scale, let mark = details.markPrice ?? details.lastTradePrice else {
            throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: "\(name) orderBookDetails", message: "no mark price")
        }
        let json = try await get("/api/v1/account", [("by", "index"), ("value", String(accountIndex))], authenticated: false)
        func bad(_ value: JSONValue, _ problem: String) -> VenueError {
            VenueError.badResponse(
                endpoint: "\(name) GET /api/v1/account", body: Array(value.serialized(pretty: false).utf8), problem: problem)
        }
        guard let account = LighterWire.account(json, index: accountIndex) else { throw bad(json, "no row for account \(accountIndex)") }
        guard let position = LighterWire.position(account, scale: scale) else {
            throw bad(account, "a position row for market \(market) that does not read")
        }
        guard let balance = LighterWire.balance(account) else { throw bad(account, "no readable collateral") }
        return HedgeVenueState(
            position: position, balance: balance, mark: mark, fundingPaid: LighterWire.fundingPaid(account, scale: scale),
            accountValue: LighterWire.decimal(account["total_asset_value"], as: Notional.self))
    }

    // MARK: - Public pools

    /// What creating a pool came to.
    public enum PoolCreation: Sendable, Equatable {
        /// Accepted by the API (the pool's index comes with the account's next read).
        case accepted(txHash: String)
        /// The account may not create pools (`accountLimits.can_create_public_pool` is false):
        /// nothing was signed.
        case notWhitelisted
        case refused(String)
        case unknown(String)
    }

    /// `GET /api/v1/accountLimits` (auth): whether the account may create public pools; `nil`
    /// when the answer does not say.
    public func canCreatePublicPool() async throws -> Bool? {
        let json = try await get("/api/v1/accountLimits", [("account_index", String(accountIndex))], authenticated: true)
        guard case .bool(let value)? = json["can_create_public_pool"] else { return nil }
        return value
    }

    /// `CreatePublicPool` (tx 10; lighter-live.md §6): the venue whitelists pool creation, so
    /// `accountLimits` is read first and nothing is signed when it says no.
    public func createPublicPool(operatorFee: Int64, initialTotalShares: Int64, minOperatorShareRate: Int64) async -> PoolCreation {
        do {
            if try await canCreatePublicPool() == false { return .notWhitelisted }
        } catch {
            return .refused("could not read accountLimits: \(error); nothing was signed")
        }
        let result = await transact("CreatePublicPool") { nonce throws(LighterSignerError) in
            try signer.createPublicPool(
                operatorFee: operatorFee, initialTotalShares: initialTotalShares, minOperatorShareRate: minOperatorShareRate, nonce: nonce)
        }
        switch result {
        case .accepted(let hash): return .accepted(txHash: hash)
        case .duplicate: return .refused("refused as a duplicate")
        case .refused(let code, let message): return .refused("code \(code): \(message)")
        case .unknown(let reason): return .unknown(reason)
        }
    }

    // MARK: - Orders

    public func track(clientIDs: [String]) async {
        for id in clientIDs { remember(id) }
    }

    @discardableResult
    private func remember(_ id: String) -> Int64 {
        let index = LighterClientOrderIndex.make(id)
        clientIDs[index] = id
        return index
    }

    /// The name we report for a venue order: our id when we know its index, else `lighter-<index>`
    /// (an order this session never placed; reconciliation treats it as unknown).
    private func clientID(for index: Int64?) -> String { clientIDName(index) }

    func clientIDName(_ index: Int64?) -> String {
        guard let index else { return "lighter-unknown" }
        return clientIDs[index] ?? "lighter-\(index)"
    }

    func knownClientID(_ index: Int64) -> String? { clientIDs[index] }

    /// An auth token for the account stream's subscriptions.
    func streamToken() throws -> String {
        do throws(RequestFailure) { return try authToken() } catch {
            switch error {
            case .notSent(let reason), .transport(let reason): throw VenueError(kind: .fatal, endpoint: "\(name) stream", message: reason)
            }
        }
    }

    /// The signer's fields for `intent` (lighter-live.md §4.3 validator rules): a market order is
    /// `MARKET`/IOC with expiry 0 and the worst acceptable price; a stop is `STOP_LOSS`, a
    /// target `TAKE_PROFIT`, both IOC with a trigger and a 28-day expiry and a worst price
    /// `slippage` beyond the trigger.
    func orderFields(_ intent: OrderIntent, scale: LighterScale, reference: Price?) -> Result<LighterOrderFields, TxRefusal> {
        guard let base = scale.baseAmount(intent.quantity) else {
            return .failure(
                TxRefusal(
                    code: -4003,
                    message: "quantity \(intent.quantity) is not a positive multiple of \(scale.lot) of at least \(scale.minBase); not sent"
                ))
        }
        let isAsk = intent.side == .short
        let anchor: Price?
        var trigger: Int64 = 0
        var expiry: Int64 = 0
        let type: Int32
        switch intent.kind {
        case .market:
            anchor = reference
            type = 1
        case .stopMarket, .takeProfitMarket:
            guard let price = intent.triggerPrice,
                let integer = scale.integerPrice(price.rounded(toMultipleOf: scale.tick, rule: .toNearestOrEven))
            else { return .failure(TxRefusal(code: -1102, message: "a conditional order needs a positive trigger price; not sent")) }
            anchor = price
            trigger = integer
            expiry = clock() + Self.conditionalExpiry.milliseconds
            type = intent.kind == .stopMarket ? 2 : 4
        }
        guard let anchor, anchor.isPositive else {
            return .failure(TxRefusal(code: -1, message: "no reference price for a market order's worst price; not sent"))
        }
        // The worst acceptable price: above the anchor for a buy, below for a sell, on the tick.
        let factor = isAsk ? max(Rate.scale - slippage.raw, 0) : Rate.scale + min(slippage.raw, Rate.scale)
        let worstRaw = FixedMath.mulDivReportingOverflow(anchor.raw, factor, Rate.scale, isAsk ? .down : .up) ?? anchor.raw
        let tickRaw = scale.tick.raw
        let onTick = isAsk ? worstRaw / tickRaw * tickRaw : (worstRaw + tickRaw - 1) / tickRaw * tickRaw
        guard let price = scale.integerPrice(Price(raw: max(onTick, tickRaw))) else {
            return .failure(TxRefusal(code: -1102, message: "price \(anchor) is beyond what the market's integers carry; not sent"))
        }
        return .success(
            LighterOrderFields(
                market: scale.market, clientOrderIndex: LighterClientOrderIndex.make(intent.clientID), baseAmount: base,
                price: price, isAsk: isAsk, orderType: type, timeInForce: 0, reduceOnly: intent.reduceOnly, triggerPrice: trigger,
                orderExpiry: expiry))
    }

    struct TxRefusal: Error, Equatable {
        var code: Int
        var message: String
    }

    public func submit(_ intent: OrderIntent) async -> SubmitOutcome {
        let index = remember(intent.clientID)
        let scale: LighterScale
        var reference: Price?
        do {
            if intent.kind == .market {
                let info = try await refreshMarket()
                reference = info.referencePrice
            }
            scale = try await ensureScale()
        } catch {
            return .rejected(code: -1, message: "could not read market \(market): \(error); not sent")
        }
        let fields: LighterOrderFields
        switch orderFields(intent, scale: scale, reference: reference) {
        case .success(let built): fields = built
        case .failure(let refusal): return .rejected(code: refusal.code, message: refusal.message)
        }
        let result = await transact("CreateOrder \(intent.clientID)") { nonce throws(LighterSignerError) in
            try signer.createOrder(fields, nonce: nonce)
        }
        switch result {
        case .refused(let code, let message): return .rejected(code: Int(clamping: code), message: message)
        case .unknown(let reason): return .unknown(reason: reason)
        case .accepted, .duplicate:
            // Accepted by the API: the sequencer executes it within about 300 ms. Read what it did.
            switch await awaitOrder(index: index, clientID: intent.clientID, expectFinal: intent.kind == .market) {
            case .found(let order): return .accepted(order)
            case .notFound, .unknown:
                return .unknown(
                    reason: "\(result == .duplicate ? "client order index already used" : "accepted"); not yet visible at the venue")
            }
        }
    }

    /// Looks the order up a few times while the sequencer executes it (about 300 ms a taker,
    /// lighter-live.md addendum "two stages").
    private func awaitOrder(index: Int64, clientID: String, expectFinal: Bool) async -> LookupOutcome {
        var last = LookupOutcome.notFound
        for attempt in 0..<4 {
            if attempt > 0 { try? await sleeper(.milliseconds(250 * Int64(attempt))) }
            last = await lookup(index: index, clientID: clientID)
            if case .found(let order) = last, !expectFinal || order.status.isTerminal { return last }
        }
        return last
    }

    public func lookup(clientID: String, kind: OrderKind) async -> LookupOutcome {
        await lookup(index: remember(clientID), clientID: clientID)
    }

    /// `GET /api/v1/accountOrders?account_index=&client_order_indexes=` (auth; lighter-live.md
    /// §5.1): the order with our index, or a definitive not-found when the answer lists none.
    private func lookup(index: Int64, clientID: String) async -> LookupOutcome {
        let scale: LighterScale
        do { scale = try await ensureScale() } catch { return .unknown(reason: "\(error)") }
        let json: JSONValue
        do {
            json = try await get(
                "/api/v1/accountOrders",
                [("account_index", String(accountIndex)), ("market_id", String(market)), ("client_order_indexes", String(index))],
                authenticated: true)
        } catch {
            return .unknown(reason: "\(error)")
        }
        guard let rows = json["orders"]?.arrayValue else { return .unknown(reason: "accountOrders answered without orders") }
        let matching = rows.filter { $0["client_order_index"]?.int64Value == index }
        // The newest order with the index (indices can be reused over time).
        guard let row = matching.max(by: { ($0["order_index"]?.int64Value ?? 0) < ($1["order_index"]?.int64Value ?? 0) }) else {
            return .notFound
        }
        guard let order = LighterWire.order(row, clientID: clientID, scale: scale) else {
            return .unknown(
                reason: "an order that does not read: \(SafeText.excerpt(Array(row.serialized(pretty: false).utf8), limit: 160))")
        }
        return .found(order)
    }

    /// `CancelOrder` (tx 15) by `client_order_index` (the validator takes either index range).
    public func cancel(clientID: String, kind: OrderKind) async -> CancelOutcome {
        let index = remember(clientID)
        let result = await transact("CancelOrder \(clientID)") { nonce throws(LighterSignerError) in
            try signer.cancelOrder(market: market, orderIndex: index, nonce: nonce)
        }
        switch result {
        case .refused, .duplicate: return .notOpen
        case .unknown(let reason): return .unknown(reason: reason)
        case .accepted:
            switch await awaitOrder(index: index, clientID: clientID, expectFinal: true) {
            case .found(let order) where order.status == .cancelled || order.status == .expired: return .cancelled(order)
            case .found(let order) where order.status.isTerminal: return .notOpen
            case .notFound: return .notOpen
            case .found, .unknown: return .unknown(reason: "cancel accepted; the order is not yet shown cancelled")
            }
        }
    }

    /// How far back `trades` is read, and its pages (100 rows each).
    static let maxTradePages = 200

    public func snapshot(fillsSince: Timestamp) async throws -> VenueSnapshot {
        let scale = try await ensureScale()
        let accountJSON = try await get(
            "/api/v1/account", [("by", "index"), ("value", String(accountIndex))], authenticated: false)
        func bad(_ path: String, _ value: JSONValue, _ problem: String) -> VenueError {
            VenueError.badResponse(endpoint: "\(name) GET \(path)", body: Array(value.serialized(pretty: false).utf8), problem: problem)
        }
        guard let account = LighterWire.account(accountJSON, index: accountIndex) else {
            throw bad("/api/v1/account", accountJSON, "no row for account \(accountIndex)")
        }
        guard let position = LighterWire.position(account, scale: scale) else {
            throw bad("/api/v1/account", account, "a position row for market \(market) that does not read")
        }
        guard let balance = LighterWire.balance(account) else { throw bad("/api/v1/account", account, "no readable collateral") }
        let active = try await get(
            "/api/v1/accountActiveOrders", [("account_index", String(accountIndex)), ("market_id", String(market))],
            authenticated: true)
        guard let rows = active["orders"]?.arrayValue else { throw bad("/api/v1/accountActiveOrders", active, "no orders array") }
        var orders: [VenueOrder] = []
        for row in rows {
            let id = clientID(for: row["client_order_index"]?.int64Value)
            guard let order = LighterWire.order(row, clientID: id, scale: scale) else {
                throw bad("/api/v1/accountActiveOrders", row, "an order that does not read")
            }
            orders.append(order)
        }
        let fills = try await trades(since: fillsSince, scale: scale)
        return VenueSnapshot(openOrders: orders, position: position, balance: balance, fills: fills, time: Timestamp(milliseconds: clock()))
    }

    /// `GET /api/v1/trades` for the account and market from `since`, oldest first, paged by
    /// `cursor`, deduplicated by trade id.
    func trades(since: Timestamp, scale: LighterScale) async throws -> [VenueFill] {
        var fills: [VenueFill] = []
        var seen = Set<String>()
        var cursor: String?
        let endpoint = "\(name) GET /api/v1/trades"
        for _ in 0..<Self.maxTradePages {
            var query = [
                ("account_index", String(accountIndex)), ("market_id", String(market)), ("sort_by", "timestamp"),
                ("sort_dir", "asc"), ("limit", "100"), ("from", String(max(since.milliseconds, 0))),
            ]
            if let cursor { query.append(("cursor", cursor)) }
            let page = try await get("/api/v1/trades", query, authenticated: true)
            guard let rows = page["trades"]?.arrayValue else {
                throw VenueError.badResponse(
                    endpoint: endpoint, body: Array(page.serialized(pretty: false).utf8), problem: "no trades array")
            }
            for row in rows {
                guard let fill = LighterWire.trade(row, account: accountIndex, scale: scale, clientID: { self.clientIDs[$0] }) else {
                    throw VenueError.badResponse(
                        endpoint: endpoint, body: Array(row.serialized(pretty: false).utf8), problem: "a trade that does not read")
                }
                guard fill.time >= since, seen.insert(fill.tradeID).inserted else { continue }
                fills.append(fill)
            }
            guard rows.count >= 100, let next = page["next_cursor"]?.stringValue, !next.isEmpty, next != cursor else {
                return fills.sorted { ($0.time, $0.tradeID) < ($1.time, $1.tradeID) }
            }
            cursor = next
        }
        throw VenueError(kind: .notRetryable, endpoint: endpoint, message: "more than \(Self.maxTradePages) pages of trades")
    }

    /// The dead man's switch: a scheduled, account-wide `CancelAllOrders` (tx 16, time in force
    /// 1, market 255; lighter-live.md §4.3), set at least ``minimumCancelWindow`` ahead and
    /// renewed when half of it is left, so it costs one transaction every few minutes of the
    /// 60 a minute. Zero aborts it (time in force 2). Account-wide: give the hedge and the bot
    /// separate accounts.
    public func heartbeat(countdown: TimeSpan) async throws {
        let now = clock()
        if countdown.milliseconds <= 0 {
            guard scheduledCancelAt != nil else { return }
            let result = await transact("CancelAllOrders abort") { nonce throws(LighterSignerError) in
                try signer.cancelAll(timeInForce: 2, time: 0, market: 255, nonce: nonce)
            }
            guard case .accepted = result else {
                throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: "\(name) CancelAllOrders", message: "\(result)")
            }
            scheduledCancelAt = nil
            return
        }
        let window = max(countdown.milliseconds, Self.minimumCancelWindow.milliseconds)
        if let at = scheduledCancelAt, at - now > window / 2 { return }
        let time = now + window
        let result = await transact("CancelAllOrders scheduled") { nonce throws(LighterSignerError) in
            try signer.cancelAll(timeInForce: 1, time: time, market: 255, nonce: nonce)
        }
        guard case .accepted = result else {
            throw VenueError(kind: .retryable(retryAfterSeconds: nil), endpoint: "\(name) CancelAllOrders", message: "\(result)")
        }
        scheduledCancelAt = time
    }

    /// The last mark price read with the market's details.
    public var markPrice: Price? { marketInfo?.referencePrice }
    /// The market's details as last read (`orderBookDetails`): margin fractions, decimals.
    public var marketDetails: LighterMarket? { marketInfo }
}
