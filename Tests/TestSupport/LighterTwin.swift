// A Lighter (zkLighter) twin on 127.0.0.1: one account, one API key, one perp market (NMR,
// market 74 by default), a clock and a mark price the test moves. Built from Lighter's
// documented behaviour (../shared/docs/notes/lighter-live.md §4–§6) and the recorded shapes in
// ../shared/data/api/lighter/: `orderBookDetails`, `account`, `nextNonce`, `sendTx` (form fields
// `tx_type`, `tx_info`), `accountActiveOrders`, `accountOrders`, `trades`, `fundings`,
// `funding-rates`, `publicPoolsMetadata`.
//
// It cannot check Schnorr signatures (nothing but the venue can); it checks everything else a
// transaction carries: account, API key, nonce (strictly in order; a wrong one is 21104 and is
// not consumed), expiry, the order fields the signer's validator and the venue enforce, margin.
// Transactions execute when accepted (the sequencer's ~300 ms is not modelled).
//
// Faults (``LighterTwinFaults``): invalid nonce, 429, a 5xx before execution, an answer lost after
// the transaction executed, a refused key.

import Foundation
import PerpModel

/// What the twin does wrong on purpose, counted down as it happens.
public struct LighterTwinFaults: Sendable, Equatable {
    /// The next `sendTx` calls are answered 21104 "invalid nonce" without executing.
    public var invalidNonce = 0
    /// The next requests (any endpoint) are answered 429 with `Retry-After: 1`.
    public var rateLimited = 0
    /// The next `sendTx` calls are answered 429 with `Retry-After: 1` without executing.
    public var rateLimitedSendTx = 0
    /// The next `sendTx` calls are answered 500 without executing.
    public var serverErrorBeforeExecution = 0
    /// The next `sendTx` calls execute, then the connection drops without an answer.
    public var dropAnswerAfterExecution = 0
    /// Every `sendTx` is answered 21120 "invalid signature" while set.
    public var rejectKey = false
    /// Accept transactions whose nonce jumps ahead (a gap) instead of answering 21104.
    public var acceptNonceGaps = false

    public init() {}
}

/// One order at the twin.
public struct LighterTwinOrder: Sendable, Hashable {
    public var orderIndex: Int64
    public var clientOrderIndex: Int64
    public var isAsk: Bool
    /// 0 limit, 1 market, 2 stop-loss, 4 take-profit.
    public var type: Int64
    public var baseAmount: Int64
    public var filledBase: Int64
    public var filledQuote: Notional
    public var price: Int64
    public var triggerPrice: Int64
    public var reduceOnly: Bool
    public var status: String
    public var nonce: Int64
    public var createdAt: Int64
    public var updatedAt: Int64

    var isActive: Bool { status == "open" || status == "pending" }
}

/// One trade at the twin (our account on one side, the book on the other).
public struct LighterTwinTrade: Sendable, Hashable {
    public var tradeID: Int64
    public var size: Quantity
    public var price: Price
    public var isAsk: Bool
    public var orderIndex: Int64
    public var clientOrderIndex: Int64
    public var fee: Notional
    public var timestamp: Int64
}

/// One transaction the twin accepted.
public struct LighterTwinTx: Sendable, Hashable {
    public var type: Int64
    public var nonce: Int64
    public var hash: String
    public var info: String
}

/// A Lighter venue twin for tests (see the file comment).
public final class LighterTwin: @unchecked Sendable {
    public let accountIndex: Int64
    public let apiKeyIndex: Int64
    public let market: Int64
    public let sizeDecimals: Int
    public let priceDecimals: Int

    private let lock = NSLock()
    private var server: LoopbackHTTPServer?
    let streams = LighterTwinStreams()
    private var faultState = LighterTwinFaults()
    private var now: Int64
    private var nextNonce: Int64
    private var mark: Price
    private var collateral: Notional
    /// Signed position in our units, its average entry, realised P&L, funding paid.
    private var position = Quantity.zero
    private var entry = Price.zero
    private var realized = Notional.zero
    private var allocatedMargin = Notional.zero
    private var isolated = false
    /// Initial margin fraction in 1/10 000 (3333 = 3×).
    private var initialMarginFraction: Int64
    private let minInitialMarginFraction: Int64
    private let maintenanceMarginFraction: Int64
    private var orders: [LighterTwinOrder] = []
    private var trades: [LighterTwinTrade] = []
    private var transactions: [LighterTwinTx] = []
    private var scheduledCancelAt: Int64?
    private var nextOrderIndex: Int64 = 1 << 48
    private var nextTradeID: Int64 = 900_000_000
    private var fundings: [(time: Int64, ratePercentPerHour: String, direction: String)] = []
    private var fundingRateSnapshot: String = "0.000096"
    private var minBase: String
    private var minQuote: String
    private var poolWhitelisted = false
    /// Public pools created by this account: (index, operator fee, total shares, min operator share).
    private var pools: [(index: Int64, fee: Int64, shares: Int64, minimum: Int64)] = []
    /// A pool account this twin serves (`account?by=index&value=` of it): NAV, shares, the operator's.
    private var servedPool: (index: Int64, nav: Notional, totalShares: Int64, operatorShares: Int64, minimum: Int64, sharePrice: String)?

    /// Starts the twin on 127.0.0.1 (an ephemeral port). `nonce` is the key's next nonce.
    public init(
        accountIndex: Int64 = 281_474, apiKeyIndex: Int64 = 4, market: Int64 = 74, sizeDecimals: Int = 2, priceDecimals: Int = 4,
        mark: Price = Price("8.4603")!, collateral: Notional = Notional(1000), nonce: Int64 = 17, startMillis: Int64? = nil,
        minBase: String = "0.10", minQuote: String = "1.000000"
    ) throws {
        self.accountIndex = accountIndex
        self.apiKeyIndex = apiKeyIndex
        self.market = market
        self.sizeDecimals = sizeDecimals
        self.priceDecimals = priceDecimals
        self.mark = mark
        self.collateral = collateral
        self.nextNonce = nonce
        self.now = startMillis ?? Int64(Date().timeIntervalSince1970 * 1000)
        self.initialMarginFraction = 6666
        self.minInitialMarginFraction = 3333
        self.maintenanceMarginFraction = 2000
        self.minBase = minBase
        self.minQuote = minQuote
        let hub = streams
        server = try LoopbackHTTPServer(
            limits: .init(), handler: { [weak self] request in self?.handle(request) ?? .status(503) },
            webSocket: { [weak self] path in
                guard path == "/stream", let self else { return nil }
                return hub.session(twin: self)
            })
    }

    deinit { shutdown() }

    public var port: Int { server?.port ?? 0 }
    /// `http://127.0.0.1:PORT` (`NMRPERP_LIGHTER_URL`).
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var requests: [HTTPRequestRecord] { server?.requests ?? [] }

    public func shutdown() {
        streams.closeAll()
        let server = lock.withLock { () -> LoopbackHTTPServer? in
            let current = self.server
            self.server = nil
            return current
        }
        server?.stop()
    }

    // MARK: Test controls

    public func updateFaults(_ change: (inout LighterTwinFaults) -> Void) { lock.withLock { change(&faultState) } }
    public var faults: LighterTwinFaults { lock.withLock { faultState } }

    /// Moves the mark price: resting stops and take-profits trigger on it.
    public func setMark(_ price: Price) {
        lock.withLock {
            let before = (orders, trades.count)
            mark = price
            triggerResting()
            publishChanges(since: before)
        }
    }

    /// Streams what changed (under the lock): every new or changed order, every new trade.
    private func publishChanges(since before: ([LighterTwinOrder], Int)) {
        let changed = orders.enumerated().filter { index, order in index >= before.0.count || before.0[index] != order }.map(\.element)
        if !changed.isEmpty {
            streams.publish(
                #"{"type":"update/account_all_orders","channel":"account_all_orders:\#(accountIndex)","orders":{"\#(market)":[\#(changed.map(orderJSON).joined(separator: ","))]}}"#
            )
        }
        if trades.count > before.1 {
            streams.publish(
                #"{"type":"update/account_all_trades","channel":"account_all_trades:\#(accountIndex)","trades":{"\#(market)":[\#(trades[before.1...].map(tradeJSON).joined(separator: ","))]}}"#
            )
        }
    }

    /// Subscription snapshots for a new stream connection (auth checked like REST).
    func subscribed(channel: String, auth: String?) -> String? {
        lock.withLock {
            let parts = (auth ?? "").split(separator: ":")
            guard parts.count == 4, Int64(parts[1]) == accountIndex, Int64(parts[2]) == apiKeyIndex else {
                return #"{"type":"error","data":{"code":30003,"message":"invalid auth"}}"#
            }
            if channel == "account_all_orders/\(accountIndex)" {
                let active = orders.filter(\.isActive)
                return
                    #"{"type":"subscribed/account_all_orders","channel":"account_all_orders:\#(accountIndex)","orders":{"\#(market)":[\#(active.map(orderJSON).joined(separator: ","))]}}"#
            }
            if channel == "account_all_trades/\(accountIndex)" {
                return #"{"type":"subscribed/account_all_trades","channel":"account_all_trades:\#(accountIndex)","trades":{}}"#
            }
            return #"{"type":"error","data":{"code":30005,"message":"unknown channel"}}"#
        }
    }

    /// Closes every stream connection (the client sees the stream drop and reconnects).
    public func dropStreams() { streams.closeAll(reopen: true) }
    /// Open stream connections.
    public var streamConnections: Int { streams.count }

    /// Moves the clock: a scheduled cancel-all whose time has come fires.
    public func advance(toMillis target: Int64) {
        lock.withLock {
            now = max(now, target)
            if let at = scheduledCancelAt, now >= at {
                cancelAllActive(status: "canceled")
                scheduledCancelAt = nil
            }
        }
    }

    public var clock: Int64 { lock.withLock { now } }
    public var nonce: Int64 { lock.withLock { nextNonce } }
    public var positionQuantity: Quantity { lock.withLock { position } }
    public var entryPrice: Price { lock.withLock { entry } }
    public var isolatedMargin: Notional { lock.withLock { allocatedMargin } }
    /// The isolated margin with the unrealised P&L at the mark.
    public var isolatedEquity: Notional {
        lock.withLock { allocatedMargin + position.magnitude * (position.isPositive ? mark - entry : entry - mark) }
    }
    public var marginIsIsolated: Bool { lock.withLock { isolated } }
    public var leverageFraction: Int64 { lock.withLock { initialMarginFraction } }
    public var wallet: Notional { lock.withLock { collateral } }
    public var allOrders: [LighterTwinOrder] { lock.withLock { orders } }
    public var allTrades: [LighterTwinTrade] { lock.withLock { trades } }
    public var acceptedTransactions: [LighterTwinTx] { lock.withLock { transactions } }
    public var scheduledCancelAll: Int64? { lock.withLock { scheduledCancelAt } }
    public var createdPools: [(index: Int64, fee: Int64, shares: Int64, minimum: Int64)] { lock.withLock { pools } }

    /// A deposit (positive) or withdrawal (negative) of USDC on the account, as the L1 bridge or a
    /// pool's depositors would make it.
    public func adjustCollateral(by amount: Notional) { lock.withLock { collateral += amount } }

    /// Whether `accountLimits` lets the account create public pools (whitelisted by Lighter).
    public func setPoolWhitelisted(_ value: Bool) { lock.withLock { poolWhitelisted = value } }

    /// Serves a public pool's account (read-only): NAV, total and operator shares, the minimum
    /// operator share (of 10,000), the last share price.
    public func servePool(index: Int64, nav: Notional, totalShares: Int64, operatorShares: Int64, minimum: Int64, sharePrice: String) {
        lock.withLock { servedPool = (index, nav, totalShares, operatorShares, minimum, sharePrice) }
    }

    /// Sets the hourly funding rows `fundings` serves (percent per hour, unsigned, with the
    /// paying side) and the `funding-rates` snapshot (a fraction per 8 h).
    public func setFunding(rows: [(time: Int64, ratePercentPerHour: String, direction: String)], snapshot: String) {
        lock.withLock {
            fundings = rows
            fundingRateSnapshot = snapshot
        }
    }

    // MARK: Routing

    private func handle(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        lock.lock()
        let before = (orders, trades.count)
        defer {
            publishChanges(since: before)
            lock.unlock()
        }
        if faultState.rateLimited > 0 {
            faultState.rateLimited -= 1
            return Self.error(429, 23000, "Too Many Requests").withHeader("Retry-After", "1")
        }
        let query = request.query
        switch (request.method, request.path) {
        case ("GET", "/api/v1/orderBookDetails"):
            guard query["market_id"].flatMap({ Int64($0) }) == market else { return Self.error(400, 20001, "invalid param ") }
            return .json(orderBookDetails())
        case ("GET", "/api/v1/nextNonce"):
            guard query["account_index"].flatMap({ Int64($0) }) == accountIndex,
                query["api_key_index"].flatMap({ Int64($0) }) == apiKeyIndex
            else { return Self.error(400, 21100, "account not found") }
            return .json(#"{"code":200,"nonce":\#(nextNonce)}"#)
        case ("POST", "/api/v1/sendTx"):
            return sendTx(request)
        case ("GET", "/api/v1/account"):
            if let pool = servedPool, query["by"] == "index", query["value"].flatMap({ Int64($0) }) == pool.index {
                return .json(poolJSON(pool))
            }
            guard query["by"] == "index", query["value"].flatMap({ Int64($0) }) == accountIndex else {
                return Self.error(400, 21100, "account not found")
            }
            return .json(accountJSON())
        case ("GET", "/api/v1/accountLimits"):
            if let refusal = authenticate(request) { return refusal }
            return .json(#"{"code":200,"max_llp_percentage":25,"user_tier":"std","can_create_public_pool":\#(poolWhitelisted)}"#)
        case ("GET", "/api/v1/accountActiveOrders"):
            if let refusal = authenticate(request) { return refusal }
            let active = orders.filter(\.isActive)
            return .json(#"{"code":200,"orders":[\#(active.map(orderJSON).joined(separator: ","))]}"#)
        case ("GET", "/api/v1/accountOrders"):
            if let refusal = authenticate(request) { return refusal }
            let wanted = Set((query["client_order_indexes"] ?? "").split(separator: ",").compactMap { Int64($0) })
            let found = orders.filter { wanted.contains($0.clientOrderIndex) }
            return .json(#"{"code":200,"orders":[\#(found.map(orderJSON).joined(separator: ","))]}"#)
        case ("GET", "/api/v1/trades"):
            if let refusal = authenticate(request) { return refusal }
            return tradesPage(query)
        case ("GET", "/api/v1/fundings"):
            let rows = fundings.map {
                #"{"timestamp":\#($0.time / 1000),"value":"0","rate":"\#($0.ratePercentPerHour)","direction":"\#($0.direction)"}"#
            }
            return .json(#"{"code":200,"resolution":"1h","fundings":[\#(rows.joined(separator: ","))]}"#)
        case ("GET", "/api/v1/funding-rates"):
            return .json(
                #"{"code":200,"funding_rates":[{"market_id":\#(market),"exchange":"binance","symbol":"NMR","rate":0.0001},{"market_id":\#(market),"exchange":"lighter","symbol":"NMR","rate":\#(fundingRateSnapshot)}]}"#
            )
        default:
            return HTTPResponseSpec(status: 403, headers: [:], body: [])
        }
    }

    static func error(_ status: Int, _ code: Int, _ message: String) -> HTTPResponseSpec {
        .json(#"{"code":\#(code),"message":"\#(message)"}"#, status: status)
    }

    /// Private reads need `Authorization: deadline:account:key:signature` for this account, not
    /// expired (lighter-live.md §2.3).
    private func authenticate(_ request: HTTPRequestRecord) -> HTTPResponseSpec? {
        let parts = (request.headers["authorization"] ?? "").split(separator: ":")
        guard parts.count == 4, let deadline = Int64(parts[0]), Int64(parts[1]) == accountIndex, Int64(parts[2]) == apiKeyIndex,
            parts[3].count == 160, deadline * 1000 > now
        else { return Self.error(400, 20013, "invalid auth") }
        if let account = request.query["account_index"].flatMap({ Int64($0) }), account != accountIndex {
            return Self.error(400, 21100, "account not found")
        }
        return nil
    }

    // MARK: Transactions

    private func sendTx(_ request: HTTPRequestRecord) -> HTTPResponseSpec {
        var form: [String: String] = [:]
        for (name, value) in HTTPParsing.parseQuery(Substring(request.bodyText)) { form[name] = value }
        guard let typeText = form["tx_type"], let type = Int64(typeText), let infoText = form["tx_info"],
            let info = try? JSONParser.parse(infoText)
        else { return Self.error(400, 20001, "invalid param ") }
        if faultState.rateLimitedSendTx > 0 {
            faultState.rateLimitedSendTx -= 1
            return Self.error(429, 23000, "Too Many Requests").withHeader("Retry-After", "1")
        }
        if faultState.rejectKey { return Self.error(400, 21120, "invalid signature") }
        guard info["AccountIndex"]?.int64Value == accountIndex, info["ApiKeyIndex"]?.int64Value == apiKeyIndex else {
            return Self.error(400, 21120, "invalid signature")
        }
        guard let nonce = info["Nonce"]?.int64Value, let expiredAt = info["ExpiredAt"]?.int64Value,
            let signature = info["Sig"]?.stringValue, !signature.isEmpty
        else { return Self.error(400, 20001, "invalid param ") }
        if faultState.invalidNonce > 0 {
            faultState.invalidNonce -= 1
            return Self.error(400, 21104, "invalid nonce")
        }
        let gapAllowed = faultState.acceptNonceGaps && nonce > nextNonce
        guard nonce == nextNonce || gapAllowed else { return Self.error(400, 21104, "invalid nonce") }
        guard expiredAt > now else { return Self.error(400, 21110, "transaction expired") }
        if faultState.serverErrorBeforeExecution > 0 {
            faultState.serverErrorBeforeExecution -= 1
            return .text("internal server error", status: 500)
        }
        let refusal: HTTPResponseSpec?
        switch type {
        case 14: refusal = createOrder(info, nonce: nonce)
        case 15: refusal = cancelOrder(info)
        case 16: refusal = cancelAll(info)
        case 20: refusal = updateLeverage(info)
        case 29: refusal = updateMargin(info)
        case 10: refusal = createPool(info)
        default: refusal = Self.error(400, 20001, "unsupported tx type \(type)")
        }
        if let refusal { return refusal }
        nextNonce = nonce + 1
        var hash = ""
        var generator = SplitMix64(seed: UInt64(bitPattern: nonce &* 7919 &+ type))
        for _ in 0..<5 { hash += String(format: "%016llx", generator.next()) }
        transactions.append(LighterTwinTx(type: type, nonce: nonce, hash: hash, info: infoText))
        if faultState.dropAnswerAfterExecution > 0 {
            faultState.dropAnswerAfterExecution -= 1
            return HTTPResponseSpec(dropConnection: true)
        }
        return .json(
            #"{"code":200,"message":"{\"ratelimit\": \"didn't use volume quota\"}","tx_hash":"\#(hash)","predicted_execution_time_ms":\#(now + 300),"volume_quota_remaining":1000}"#
        )
    }

    private var sizeStep: Int64 { FixedMath.pow10[Quantity.decimals - sizeDecimals] }
    private var priceStep: Int64 { FixedMath.pow10[Price.decimals - priceDecimals] }

    private func createOrder(_ info: JSONValue, nonce: Int64) -> HTTPResponseSpec? {
        guard info["MarketIndex"]?.int64Value == market else { return Self.error(400, 21701, "invalid market index") }
        guard let coi = info["ClientOrderIndex"]?.int64Value, (1...((1 << 48) - 1)).contains(coi),
            let base = info["BaseAmount"]?.int64Value, base > 0, let price = info["Price"]?.int64Value, price >= 1,
            let isAsk = info["IsAsk"]?.int64Value, let type = info["Type"]?.int64Value, let tif = info["TimeInForce"]?.int64Value,
            let reduceOnly = info["ReduceOnly"]?.int64Value, let trigger = info["TriggerPrice"]?.int64Value,
            let expiry = info["OrderExpiry"]?.int64Value
        else { return Self.error(400, 20001, "invalid param ") }
        if orders.contains(where: { $0.clientOrderIndex == coi && $0.isActive }) {
            return Self.error(400, 21728, "client order index already exists")
        }
        // The signer's validator rules (lighter-live.md §4.3).
        switch type {
        case 1:
            guard tif == 0, expiry == 0, trigger == 0 else { return Self.error(400, 21711, "invalid expiry") }
        case 2, 4:
            guard tif == 0, trigger > 0, expiry > now + 300_000 else { return Self.error(400, 21711, "invalid expiry") }
            guard reduceOnly == 1 else { return Self.error(400, 20001, "conditional orders here must be reduce-only") }
        default:
            return Self.error(400, 20001, "the twin takes market, stop-loss and take-profit orders")
        }
        let size = Quantity(raw: base * sizeStep)
        guard size >= Quantity(minBase)! else { return Self.error(400, 21706, "invalid order base amount") }
        var order = LighterTwinOrder(
            orderIndex: nextOrderIndex, clientOrderIndex: coi, isAsk: isAsk == 1, type: type, baseAmount: base, filledBase: 0,
            filledQuote: .zero, price: price, triggerPrice: trigger, reduceOnly: reduceOnly == 1, status: "open", nonce: nonce,
            createdAt: now, updatedAt: now)
        nextOrderIndex += 1
        if type == 1 {
            execute(&order)
            orders.append(order)
        } else {
            orders.append(order)
            triggerResting()
        }
        return nil
    }

    /// Fills `order` at the mark, all or nothing, or cancels it with the venue's reason.
    private func execute(_ order: inout LighterTwinOrder) {
        order.updatedAt = now
        let limit = Price(raw: order.price * priceStep)
        // The worst acceptable price.
        if order.isAsk ? mark < limit : mark > limit {
            order.status = "canceled-too-much-slippage"
            return
        }
        var size = Quantity(raw: order.baseAmount * sizeStep)
        let signedChange = order.isAsk ? Quantity(raw: -size.raw) : size
        if order.reduceOnly {
            let reduces = position.isPositive ? order.isAsk : position.isNegative ? !order.isAsk : false
            guard reduces else {
                order.status = "canceled-reduce-only"
                return
            }
            size = min(size, position.magnitude)
        }
        let increasing = position.isZero || (position.isPositive == signedChange.isPositive)
        if increasing {
            let needed = Notional(raw: FixedMath.mulDiv((size * mark).raw, initialMarginFraction, 10_000, .up))
            let free = collateral - allocatedMargin - crossMarginInUse()
            guard needed <= free else {
                order.status = "canceled-margin-not-allowed"
                return
            }
            if isolated { allocatedMargin += needed }
        }
        apply(fill: size, isAsk: order.isAsk, price: mark)
        let quote = size * mark
        order.filledBase = size.raw / sizeStep
        order.filledQuote = quote
        order.status = "filled"
        trades.append(
            LighterTwinTrade(
                tradeID: nextTradeID, size: size, price: mark, isAsk: order.isAsk, orderIndex: order.orderIndex,
                clientOrderIndex: order.clientOrderIndex, fee: .zero, timestamp: now))
        nextTradeID += 1
    }

    /// Cross margin held by a cross position (initial margin at the mark).
    private func crossMarginInUse() -> Notional {
        guard !isolated, !position.isZero else { return .zero }
        return Notional(raw: FixedMath.mulDiv((position.magnitude * mark).raw, initialMarginFraction, 10_000, .up))
    }

    private func apply(fill size: Quantity, isAsk: Bool, price: Price) {
        let change = isAsk ? Quantity(raw: -size.raw) : size
        let before = position
        let after = before + change
        if before.isZero || before.isPositive == change.isPositive {
            // Increase: the weighted entry (all three units carry 8 places).
            let cost = Int128(before.magnitude.raw) * Int128(entry.raw) + Int128(size.raw) * Int128(price.raw)
            entry = Price(raw: Int64(cost / Int128(after.magnitude.raw)))
        } else {
            let closed = min(size, before.magnitude)
            let perUnit = before.isPositive ? price - entry : entry - price
            let pnl = closed * perUnit
            realized += pnl
            collateral += pnl
            if isolated {
                // The closed share of the isolated margin goes back, with the closed part's P&L.
                let released = Notional(raw: FixedMath.mulDiv(allocatedMargin.raw, closed.raw, before.magnitude.raw, .down))
                allocatedMargin = max(allocatedMargin - released, .zero)
            }
            if size > before.magnitude { entry = price }
            if after.isZero {
                entry = .zero
                allocatedMargin = .zero
            }
        }
        position = after
    }

    /// Resting stops and take-profits whose trigger the mark has reached execute (reduce-only).
    private func triggerResting() {
        for index in orders.indices where orders[index].isActive && orders[index].type != 1 {
            let trigger = Price(raw: orders[index].triggerPrice * priceStep)
            let isAsk = orders[index].isAsk
            let stop = orders[index].type == 2
            // A sell stop fires at or below its trigger, a buy stop at or above; take-profits the other way.
            let fires = stop ? (isAsk ? mark <= trigger : mark >= trigger) : (isAsk ? mark >= trigger : mark <= trigger)
            guard fires else { continue }
            var order = orders[index]
            order.price = isAsk ? 1 : Int64(Int32.max)
            execute(&order)
            order.price = orders[index].price
            orders[index] = order
        }
    }

    private func cancelOrder(_ info: JSONValue) -> HTTPResponseSpec? {
        guard info["MarketIndex"]?.int64Value == market, let index = info["Index"]?.int64Value else {
            return Self.error(400, 20001, "invalid param ")
        }
        // Either index range: client order index below 2⁴⁸, the venue's above.
        if let position = orders.firstIndex(where: { $0.isActive && ($0.clientOrderIndex == index || $0.orderIndex == index) }) {
            orders[position].status = "canceled"
            orders[position].updatedAt = now
        }
        return nil
    }

    private func createPool(_ info: JSONValue) -> HTTPResponseSpec? {
        guard poolWhitelisted else { return Self.error(400, 21901, "account is not allowed to create public pool") }
        guard let fee = info["OperatorFee"]?.int64Value, (0...1_000_000).contains(fee), let shares = info["InitialTotalShares"]?.int64Value,
            let minimum = info["MinOperatorShareRate"]?.int64Value, (0...10_000).contains(minimum)
        else { return Self.error(400, 20001, "invalid param ") }
        guard shares >= 1_000_000 else { return Self.error(400, 21902, "initial total shares below minimum") }
        let cost = Notional(raw: shares * 1000 * (Notional.scale / 1_000_000))
        guard cost <= collateral - allocatedMargin - crossMarginInUse() else { return Self.error(400, 21739, "not enough margin") }
        collateral -= cost
        pools.append((281_474_976_710_000 - Int64(pools.count), fee, shares, minimum))
        return nil
    }

    private func poolJSON(
        _ pool: (index: Int64, nav: Notional, totalShares: Int64, operatorShares: Int64, minimum: Int64, sharePrice: String)
    )
        -> String
    {
        let nav = decimal(pool.nav.raw, places: 6, of: Notional.decimals)
        return
            #"{"code":200,"total":1,"accounts":[{"account_type":2,"index":\#(pool.index),"account_index":\#(pool.index),"collateral":"\#(nav)","available_balance":"\#(nav)","total_asset_value":"\#(nav)","cross_asset_value":"\#(nav)","positions":[],"shares":[],"pool_info":{"status":0,"operator_fee":"100000","min_operator_share_rate":"\#(pool.minimum)","total_shares":\#(pool.totalShares),"operator_shares":\#(pool.operatorShares),"annual_percentage_yield":"12.5","daily_returns":[],"share_prices":[{"timestamp":\#(now / 1000),"share_price":"\#(pool.sharePrice)"}],"sharpe_ratio":0}}]}"#
    }

    private func cancelAllActive(status: String) {
        for index in orders.indices where orders[index].isActive {
            orders[index].status = status
            orders[index].updatedAt = now
        }
    }

    private func cancelAll(_ info: JSONValue) -> HTTPResponseSpec? {
        guard let tif = info["TimeInForce"]?.int64Value, let time = info["Time"]?.int64Value else {
            return Self.error(400, 20001, "invalid param ")
        }
        switch tif {
        case 0: cancelAllActive(status: "canceled")
        case 1:
            guard time >= now + 300_000, time <= now + 15 * 86_400_000 else { return Self.error(400, 21711, "invalid expiry") }
            scheduledCancelAt = time
        case 2: scheduledCancelAt = nil
        default: return Self.error(400, 20001, "invalid param ")
        }
        return nil
    }

    private func updateLeverage(_ info: JSONValue) -> HTTPResponseSpec? {
        guard info["MarketIndex"]?.int64Value == market, let fraction = info["InitialMarginFraction"]?.int64Value,
            let mode = info["MarginMode"]?.int64Value, mode == 0 || mode == 1
        else { return Self.error(400, 20001, "invalid param ") }
        guard fraction >= minInitialMarginFraction, fraction <= 10_000 else {
            return Self.error(400, 21508, "invalid initial margin fraction")
        }
        if !position.isZero, (mode == 1) != isolated {
            return Self.error(400, 21740, "cannot change margin mode with an open position")
        }
        initialMarginFraction = fraction
        if position.isZero { isolated = mode == 1 }
        return nil
    }

    private func updateMargin(_ info: JSONValue) -> HTTPResponseSpec? {
        guard info["MarketIndex"]?.int64Value == market, let micro = info["USDCAmount"]?.int64Value, micro > 0,
            let direction = info["Direction"]?.int64Value, direction == 0 || direction == 1
        else { return Self.error(400, 20001, "invalid param ") }
        guard isolated, !position.isZero else { return Self.error(400, 21741, "no isolated position") }
        let amount = Notional(raw: micro * FixedMath.pow10[Notional.decimals - 6])
        if direction == 1 {
            guard amount <= collateral - allocatedMargin else { return Self.error(400, 21739, "not enough margin") }
            allocatedMargin += amount
        } else {
            let required = Notional(
                raw: FixedMath.mulDiv((position.magnitude * mark).raw, initialMarginFraction, 10_000, .up))
            guard allocatedMargin - amount >= required else { return Self.error(400, 21739, "not enough margin") }
            allocatedMargin -= amount
        }
        return nil
    }

    // MARK: Answers

    private func decimal(_ raw: Int64, places: Int, of decimals: Int) -> String {
        // A value with `decimals` places written with `places` places.
        let value = Int128(raw)
        let scale = Int128(FixedMath.pow10[decimals - places])
        let scaled = value / scale
        let sign = scaled < 0 ? "-" : ""
        let magnitude = scaled < 0 ? -scaled : scaled
        let unit = Int128(FixedMath.pow10[places])
        let fraction = String(magnitude % unit)
        return places == 0
            ? "\(sign)\(magnitude / unit)"
            : "\(sign)\(magnitude / unit).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
    }

    private func orderBookDetails() -> String {
        #"{"code":200,"order_book_details":[{"symbol":"NMR","market_id":\#(market),"market_type":"perp","status":"active","taker_fee":"0.0000","maker_fee":"0.0000","liquidation_fee":"1.0000","min_base_amount":"\#(minBase)","min_quote_amount":"\#(minQuote)","supported_size_decimals":\#(sizeDecimals),"supported_price_decimals":\#(priceDecimals),"supported_quote_decimals":6,"size_decimals":\#(sizeDecimals),"price_decimals":\#(priceDecimals),"quote_multiplier":1,"default_initial_margin_fraction":6666,"min_initial_margin_fraction":\#(minInitialMarginFraction),"maintenance_margin_fraction":\#(maintenanceMarginFraction),"closeout_margin_fraction":1000,"last_trade_price":\#(decimal(mark.raw, places: priceDecimals, of: Price.decimals)),"mark_price":"\#(decimal(mark.raw, places: priceDecimals, of: Price.decimals))","index_price":"\#(decimal(mark.raw, places: priceDecimals, of: Price.decimals))","daily_base_token_volume":103.19,"open_interest":6540.92}]}"#
    }

    /// The isolated (or cross) liquidation price of the position: equity = maintenance margin.
    /// Short `s` at entry `e` with margin `m`: `P = (m + s·e) ÷ (s·(1 + mmf))`; long: `P = (s·e − m) ÷ (s·(1 − mmf))`.
    private func liquidationPrice() -> Price? {
        guard !position.isZero else { return nil }
        let margin = isolated ? allocatedMargin : collateral
        let size = position.magnitude
        let value = size * entry
        let mmf = Int128(maintenanceMarginFraction)
        let numerator: Int128
        let denominatorFactor: Int128
        if position.isNegative {
            numerator = Int128(margin.raw) + Int128(value.raw)
            denominatorFactor = 10_000 + mmf
        } else {
            numerator = Int128(value.raw) - Int128(margin.raw)
            denominatorFactor = 10_000 - mmf
        }
        guard numerator > 0 else { return nil }
        // P = numerator / (size × factor/10000), in Price units.
        let priceRaw =
            numerator * Int128(Price.scale) * Int128(Quantity.scale) * 10_000
            / (Int128(Notional.scale) * Int128(size.raw) * denominatorFactor)
        return Int64(exactly: priceRaw).map { Price(raw: $0) }
    }

    private func accountJSON() -> String {
        var positions = ""
        if !position.isZero {
            let size = position.magnitude
            let value = size * mark
            let unrealized = size * (position.isPositive ? mark - entry : entry - mark)
            let percent = Rate(raw: initialMarginFraction * (Rate.scale / 100))
            positions =
                #"{"market_id":\#(market),"symbol":"NMR","initial_margin_fraction":"\#(percent)","open_order_count":0,"pending_order_count":0,"position_tied_order_count":0,"sign":\#(position.isNegative ? -1 : 1),"position":"\#(decimal(size.raw, places: sizeDecimals, of: Quantity.decimals))","avg_entry_price":"\#(decimal(entry.raw, places: priceDecimals, of: Price.decimals))","position_value":"\#(decimal(value.raw, places: 6, of: Notional.decimals))","unrealized_pnl":"\#(decimal(unrealized.raw, places: 6, of: Notional.decimals))","realized_pnl":"\#(decimal(realized.raw, places: 6, of: Notional.decimals))","liquidation_price":"\#(liquidationPrice().map { decimal($0.raw, places: priceDecimals, of: Price.decimals) } ?? "0")","total_funding_paid_out":"0.000000","margin_mode":\#(isolated ? 1 : 0),"allocated_margin":"\#(decimal(allocatedMargin.raw, places: 6, of: Notional.decimals))"}"#
        }
        let available = collateral - allocatedMargin - crossMarginInUse()
        return
            #"{"code":200,"total":1,"accounts":[{"code":0,"account_type":0,"index":\#(accountIndex),"l1_address":"0x0000000000000000000000000000000000000001","cancel_all_time":\#(scheduledCancelAt ?? 0),"total_order_count":\#(orders.filter(\.isActive).count),"pending_order_count":0,"status":1,"collateral":"\#(decimal(collateral.raw, places: 6, of: Notional.decimals))","account_index":\#(accountIndex),"name":"","description":"","can_invite":true,"referral_points_percentage":"","available_balance":"\#(decimal(available.raw, places: 6, of: Notional.decimals))","total_asset_value":"\#(decimal(collateral.raw, places: 6, of: Notional.decimals))","cross_asset_value":"\#(decimal(collateral.raw, places: 6, of: Notional.decimals))","positions":[\#(positions)],"shares":[]}]}"#
    }

    private func orderJSON(_ order: LighterTwinOrder) -> String {
        let remaining = order.status == "open" ? order.baseAmount - order.filledBase : 0
        let typeName = [0: "limit", 1: "market", 2: "stop-loss", 4: "take-profit"][order.type] ?? "limit"
        return
            #"{"order_index":\#(order.orderIndex),"client_order_index":\#(order.clientOrderIndex),"order_id":"\#(order.orderIndex)","client_order_id":"\#(order.clientOrderIndex)","market_index":\#(market),"owner_account_index":\#(accountIndex),"initial_base_amount":"\#(decimal(order.baseAmount * sizeStep, places: sizeDecimals, of: Quantity.decimals))","price":"\#(decimal(order.price * priceStep, places: priceDecimals, of: Price.decimals))","nonce":\#(order.nonce),"remaining_base_amount":"\#(decimal(remaining * sizeStep, places: sizeDecimals, of: Quantity.decimals))","is_ask":\#(order.isAsk),"base_size":\#(order.baseAmount),"base_price":\#(order.price),"filled_base_amount":"\#(decimal(order.filledBase * sizeStep, places: sizeDecimals, of: Quantity.decimals))","filled_quote_amount":"\#(decimal(order.filledQuote.raw, places: 6, of: Notional.decimals))","side":"\#(order.isAsk ? "sell" : "buy")","type":"\#(typeName)","time_in_force":"immediate-or-cancel","reduce_only":\#(order.reduceOnly),"trigger_price":"\#(decimal(order.triggerPrice * priceStep, places: priceDecimals, of: Price.decimals))","order_expiry":0,"status":"\#(order.status)","trigger_status":"na","trigger_time":0,"parent_order_index":0,"parent_order_id":"0","to_trigger_order_id_0":"0","to_trigger_order_id_1":"0","to_cancel_order_id_0":"0","block_height":1,"timestamp":\#(order.createdAt / 1000),"created_at":\#(order.createdAt),"updated_at":\#(order.updatedAt),"transaction_time":\#(order.updatedAt * 1000)}"#
    }

    private func tradeJSON(_ trade: LighterTwinTrade) -> String {
        let book: Int64 = 281_474_976_710_654
        let ours = (account: accountIndex, id: trade.orderIndex, client: trade.clientOrderIndex)
        let theirs = (account: book, id: trade.orderIndex + 1_000_000, client: Int64(0))
        let ask = trade.isAsk ? ours : theirs
        let bid = trade.isAsk ? theirs : ours
        let price = decimal(trade.price.raw, places: priceDecimals, of: Price.decimals)
        let size = decimal(trade.size.raw, places: sizeDecimals, of: Quantity.decimals)
        return
            #"{"trade_id":\#(trade.tradeID),"tx_hash":"00","type":"trade","market_id":\#(market),"size":"\#(size)","price":"\#(price)","usd_amount":"\#(decimal((trade.size * trade.price).raw, places: 6, of: Notional.decimals))","ask_id":\#(ask.id),"bid_id":\#(bid.id),"ask_client_id":\#(ask.client),"bid_client_id":\#(bid.client),"ask_account_id":\#(ask.account),"bid_account_id":\#(bid.account),"is_maker_ask":\#(!trade.isAsk),"block_height":1,"timestamp":\#(trade.timestamp),"taker_fee":"0","maker_fee":"0"}"#
    }

    private func tradesPage(_ query: [String: String]) -> HTTPResponseSpec {
        let from = query["from"].flatMap { Int64($0) } ?? 0
        let limit = min(max(query["limit"].flatMap { Int($0) } ?? 100, 1), 100)
        let start = query["cursor"].flatMap { Int($0) } ?? 0
        let matching = trades.filter { $0.timestamp >= from }
        guard start >= 0, start <= matching.count else { return Self.error(400, 20001, "invalid param ") }
        let page = Array(matching[start..<min(start + limit, matching.count)])
        let next = start + page.count < matching.count ? "\"\(start + page.count)\"" : "\"\""
        return .json(#"{"code":200,"next_cursor":\#(next),"trades":[\#(page.map(tradeJSON).joined(separator: ","))]}"#)
    }
}

/// The twin's account streams: one outbound queue per connection.
final class LighterTwinStreams: @unchecked Sendable {
    private let lock = NSLock()
    private var subscribers: [Int: AsyncStream<String>.Continuation] = [:]
    private var nextID = 0
    private var closed = false

    var count: Int { lock.withLock { subscribers.count } }

    func publish(_ text: String) {
        let targets = lock.withLock { Array(subscribers.values) }
        for target in targets { target.yield(text) }
    }

    func closeAll(reopen: Bool = false) {
        let targets = lock.withLock { () -> [AsyncStream<String>.Continuation] in
            if !reopen { closed = true }
            let all = Array(subscribers.values)
            subscribers = [:]
            return all
        }
        for target in targets { target.finish() }
    }

    func session(twin: LighterTwin) -> LoopbackHTTPServer.WebSocketSession {
        { [self] inbound, outbound in
            let (stream, continuation) = AsyncStream<String>.makeStream()
            let id = lock.withLock { () -> Int? in
                guard !closed else { return nil }
                nextID += 1
                subscribers[nextID] = continuation
                return nextID
            }
            guard let id else { return }
            defer { _ = lock.withLock { subscribers.removeValue(forKey: id) } }
            try await outbound.write(.text(#"{"type":"connected"}"#))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 16) {
                        guard case .text(let text) = message, let json = try? JSONParser.parse(text) else { continue }
                        if json["type"]?.stringValue == "subscribe", let channel = json["channel"]?.stringValue,
                            let answer = twin.subscribed(channel: channel, auth: json["auth"]?.stringValue)
                        {
                            continuation.yield(answer)
                        }
                    }
                    continuation.finish()
                }
                group.addTask {
                    for await text in stream { try await outbound.write(.text(text)) }
                }
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        }
    }
}
