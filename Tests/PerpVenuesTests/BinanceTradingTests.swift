import Crypto
import Foundation
import Logging
import PerpExecution
import PerpModel
import Synchronization
import TestSupport
import Testing

@testable import PerpVenues

// The Binance USD-M trading adapter against a loopback server (reliability-anchors.md §2.1).

/// An obviously fake key pair; the secret is the canary searched for in every text.
let fakeKey = "FAKEKEYfakekeyFAKEKEYfakekey0000"
let canarySecret = "CANARYsecretDoNotPrintCANARYsecret0123456789"
let venueTime: Int64 = 1_700_000_000_000

/// A wall clock the test moves.
final class FakeClock: Sendable {
    let now = Mutex<Int64>(venueTime)
    var read: @Sendable () -> Int64 { { [self] in now.withLock { $0 } } }
    func advance(_ ms: Int64) { now.withLock { $0 += ms } }
}

/// Answers `GET /fapi/v1/time` itself and everything else with `answer`; records nothing
/// extra (the server records every request).
final class AnswerTable: Sendable {
    let table = Mutex<[String: [HTTPResponseSpec]]>([:])
}

final class TradingLoopback: Sendable {
    let script = AnswerTable()
    let server: LoopbackHTTPServer

    init() throws {
        let answers = script
        server = try LoopbackHTTPServer { request in
            if request.path == "/fapi/v1/time" { return .json(#"{"serverTime":\#(venueTime)}"#) }
            let key = "\(request.method) \(request.path)"
            return answers.table.withLock { table -> HTTPResponseSpec in
                guard var list = table[key], !list.isEmpty else { return .json(#"{"code":-9999,"msg":"no answer scripted"}"#, status: 400) }
                let first = list.removeFirst()
                table[key] = list.isEmpty ? [first] : list
                return first
            }
        }
    }

    /// Scripts the answers to `method path`, in order; the last repeats.
    func on(_ method: String, _ path: String, _ responses: HTTPResponseSpec...) {
        script.table.withLock { $0["\(method) \(path)"] = responses }
    }

    func requests(_ method: String, _ path: String) -> [HTTPRequestRecord] {
        server.requests.filter { $0.method == method && $0.path == path }
    }

    func trader(clock: FakeClock = FakeClock(), sleeps: SleepRecorder = SleepRecorder(), transport: (any HTTPTransport)? = nil)
        -> BinanceUSDMTrader
    {
        BinanceUSDMTrader(
            baseURL: URL(string: server.baseURL)!, credentials: BinanceCredentials(apiKey: fakeKey, secret: canarySecret),
            symbol: "NMRUSDT", transport: transport ?? URLSessionTransport(timeout: 5), clock: clock.read,
            logger: Logger(label: "test"), sleeper: sleeps.sleeper)
    }
}

func intent(_ kind: OrderKind = .market, id: String = "np-abc123-1e", quantity: String = "1.5", trigger: String? = nil)
    -> OrderIntent
{
    OrderIntent(
        sequence: 1, clientID: id, kind: kind, purpose: kind == .market ? .entry : .stop, side: .long,
        quantity: Quantity(quantity)!, triggerPrice: trigger.flatMap { Price($0) }, reduceOnly: kind != .market,
        createdAt: Timestamp(milliseconds: venueTime))
}

func orderJSON(id: String = "np-abc123-1e", status: String = "FILLED", qty: String = "1.5", executed: String = "1.5") -> String {
    #"{"clientOrderId":"\#(id)","orderId":123456,"status":"\#(status)","side":"BUY","type":"MARKET","origType":"MARKET","origQty":"\#(qty)","executedQty":"\#(executed)","avgPrice":"8.25","stopPrice":"0","reduceOnly":false,"updateTime":1700000000100}"#
}

func algoJSON(id: String = "np-abc123-2s", status: String = "NEW", actual: String = "") -> String {
    #"{"algoId":2146760,"clientAlgoId":"\#(id)","algoType":"CONDITIONAL","orderType":"STOP_MARKET","symbol":"NMRUSDT","side":"SELL","quantity":"1.5","algoStatus":"\#(status)","actualOrderId":"\#(actual)","triggerPrice":"7.5","reduceOnly":true,"updateTime":1700000000200}"#
}

func binanceError(_ code: Int, _ message: String, status: Int = 400) -> HTTPResponseSpec {
    .json(#"{"code":\#(code),"msg":"\#(message)"}"#, status: status)
}

extension SubmitOutcome {
    var label: String {
        switch self {
        case .accepted: return "accepted"
        case .rejected(let code, _): return "rejected \(code)"
        case .unknown: return "unknown"
        }
    }
}

@Suite("BinanceTrading signing and requests")
struct BinanceTradingRequestTests {
    @Test func goldenVector() {
        let signer = BinanceSigner(secret: "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
        let message = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
        #expect(signer.signature(for: message) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
        #expect(String(describing: signer) == "<redacted>")
    }

    @Test func signedMarketOrderHasBinancesShape() async throws {
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/order", .json(orderJSON()))
        let transport = AsyncHTTPClientTransport(timeout: .seconds(5))
        let trader = twin.trader(transport: transport)
        let outcome = await trader.submit(intent())
        try await transport.shutdown()
        guard case .accepted(let order) = outcome else {
            Issue.record("expected accepted, got \(outcome)")
            return
        }
        #expect(order.status == .filled && order.filledQuantity == Quantity("1.5")! && order.averagePrice == Price("8.25"))
        let posts = twin.requests("POST", "/fapi/v1/order")
        try #require(posts.count == 1)
        let request = posts[0]
        #expect(request.header("x-mbx-apikey") == fakeKey)
        // The server recomputes the HMAC over everything before `&signature=`.
        let target = request.rawTarget
        let query = try #require(target.split(separator: "?", maxSplits: 1).last.map(String.init))
        let range = try #require(query.range(of: "&signature=", options: .backwards))
        let payload = String(query[..<range.lowerBound])
        let signature = String(query[range.upperBound...])
        let mac = HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: SymmetricKey(data: Array(canarySecret.utf8)))
        #expect(signature == mac.map { String(format: "%02x", $0) }.joined())
        #expect(request.query["recvWindow"] == "5000")
        let timestamp = try #require(request.query["timestamp"].flatMap { Int64($0) })
        #expect(timestamp < venueTime + 1000 && venueTime - timestamp <= 5000)
        #expect(request.query["symbol"] == "NMRUSDT" && request.query["side"] == "BUY" && request.query["type"] == "MARKET")
        #expect(request.query["quantity"] == "1.5" && request.query["newClientOrderId"] == "np-abc123-1e")
        #expect(request.query["newOrderRespType"] == "RESULT" && request.query["reduceOnly"] == nil)
        #expect(request.query["positionSide"] == nil)
        #expect(!target.contains(canarySecret))
    }

    @Test func conditionalOrderGoesToTheAlgoAPI() async throws {
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/algoOrder", .json(algoJSON()))
        let trader = twin.trader()
        let outcome = await trader.submit(intent(.stopMarket, id: "np-abc123-2s", trigger: "7.50"))
        #expect(outcome.label == "accepted")
        let request = try #require(twin.requests("POST", "/fapi/v1/algoOrder").first)
        #expect(request.query["algoType"] == "CONDITIONAL" && request.query["type"] == "STOP_MARKET")
        #expect(request.query["triggerPrice"] == "7.5" && request.query["reduceOnly"] == "true")
        #expect(request.query["workingType"] == "MARK_PRICE" && request.query["clientAlgoId"] == "np-abc123-2s")
    }

    @Test func invalidTimestampResyncsAndResendsExactlyOnce() async throws {
        let twin = try TradingLoopback()
        twin.on(
            "POST", "/fapi/v1/order", binanceError(-1021, "Timestamp for this request is outside of the recvWindow."), .json(orderJSON()))
        let trader = twin.trader()
        #expect(await trader.submit(intent()).label == "accepted")
        #expect(twin.requests("POST", "/fapi/v1/order").count == 2)
        #expect(twin.requests("GET", "/fapi/v1/time").count == 2)

        let again = try TradingLoopback()
        again.on("POST", "/fapi/v1/order", binanceError(-1021, "Timestamp for this request is outside of the recvWindow."))
        let second = again.trader()
        #expect(await second.submit(intent()).label == "rejected -1021")
        #expect(again.requests("POST", "/fapi/v1/order").count == 2)
        #expect(again.requests("GET", "/fapi/v1/time").count == 2)
    }

    @Test func rateLimitIsRejectedAndItsRetryAfterHonoured() async throws {
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/order", binanceError(-1015, "Too many new orders.", status: 429).withHeader("Retry-After", "7"))
        twin.on("GET", "/fapi/v1/order", .json(orderJSON()))
        let sleeps = SleepRecorder()
        let trader = twin.trader(sleeps: sleeps)
        let outcome = await trader.submit(intent())
        guard case .rejected(let code, let message) = outcome else {
            Issue.record("expected rejected, got \(outcome)")
            return
        }
        #expect(code == -1015 && message.contains("retry after 7 s"))
        #expect(sleeps.durations.isEmpty)
        _ = await trader.lookup(clientID: "np-abc123-1e", kind: .market)
        #expect(sleeps.durations == [.milliseconds(7000)])
    }

    @Test func usedWeightNearTheLimitPacesTheNextRequest() async throws {
        let twin = try TradingLoopback()
        twin.on("GET", "/fapi/v1/order", HTTPResponseSpec.json(orderJSON()).withHeader("X-MBX-USED-WEIGHT-1M", "2100"))
        let sleeps = SleepRecorder()
        let clock = FakeClock()
        clock.advance(15_000)  // 15 s into a minute
        let trader = twin.trader(clock: clock, sleeps: sleeps)
        _ = await trader.lookup(clientID: "np-abc123-1e", kind: .market)
        #expect(sleeps.durations.isEmpty)
        _ = await trader.lookup(clientID: "np-abc123-1e", kind: .market)
        #expect(sleeps.durations.count == 1)
        #expect(sleeps.durations.allSatisfy { $0 > .zero && $0 <= .seconds(60) })
    }

    @Test func banBlocksEverySendUntilItEnds() async throws {
        let twin = try TradingLoopback()
        twin.on(
            "POST", "/fapi/v1/order",
            binanceError(-1003, "Way too many requests; IP banned.", status: 418).withHeader("Retry-After", "300"), .json(orderJSON()))
        let clock = FakeClock()
        let trader = twin.trader(clock: clock)
        #expect(await trader.submit(intent()).label == "rejected 418")
        let sentBefore = twin.server.requests.count
        let blocked = await trader.submit(intent())
        guard case .rejected(418, let message) = blocked else {
            Issue.record("expected rejected 418 while banned, got \(blocked)")
            return
        }
        #expect(message.contains("banned until"))
        if case .unknown = await trader.lookup(clientID: "np-abc123-1e", kind: .market) {
        } else {
            Issue.record("lookup while banned is not unknown")
        }
        #expect(twin.server.requests.count == sentBefore)
        clock.advance(301_000)
        #expect(await trader.submit(intent()).label == "accepted")
    }

    @Test func droppedConnectionAfterAcceptanceIsUnknownAndSentOnce() async throws {
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/order", .drop)
        let transport = AsyncHTTPClientTransport(timeout: .seconds(5))
        let trader = twin.trader(transport: transport)
        let outcome = await trader.submit(intent())
        try await transport.shutdown()
        #expect(outcome.label == "unknown")
        #expect(twin.requests("POST", "/fapi/v1/order").count == 1)
    }

    @Test func timeoutIsUnknown() async throws {
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/order", HTTPResponseSpec.json(orderJSON()).delayed(by: 2))
        let transport = AsyncHTTPClientTransport(timeout: .milliseconds(300))
        let trader = twin.trader(transport: transport)
        let outcome = await trader.submit(intent())
        try await transport.shutdown()
        #expect(outcome.label == "unknown")
        #expect(twin.requests("POST", "/fapi/v1/order").count == 1)
    }
}

@Suite("BinanceTrading outcome classification")
struct BinanceTradingClassificationTests {
    static let submitCases: [(HTTPResponseSpec, String)] = [
        (.json(orderJSON()), "accepted"),
        (binanceError(-1111, "Precision is over the maximum defined for this asset."), "rejected -1111"),
        (binanceError(-2019, "Margin is insufficient."), "rejected -2019"),
        (binanceError(-2021, "Order would immediately trigger."), "rejected -2021"),
        (binanceError(-2022, "ReduceOnly Order is rejected."), "rejected -2022"),
        (binanceError(-2027, "Exceeded the maximum allowable position at current leverage."), "rejected -2027"),
        (binanceError(-4003, "Quantity less than or equal to zero."), "rejected -4003"),
        (binanceError(-4014, "Price not increased by tick size."), "rejected -4014"),
        (binanceError(-4023, "Quantity not increased by step size."), "rejected -4023"),
        (binanceError(-4131, "The counterparty's best price does not meet the PERCENT_PRICE filter limit."), "rejected -4131"),
        (binanceError(-4164, "Order's notional must be no smaller than 5.0"), "rejected -4164"),
        (binanceError(-4116, "ClientOrderId is duplicated."), "rejected -4116"),
        (binanceError(-2015, "Invalid API-key, IP, or permissions for action.", status: 401), "rejected -2015"),
        (binanceError(-1102, "Mandatory parameter was not sent."), "rejected -1102"),
        (binanceError(-1121, "Invalid symbol."), "rejected -1121"),
        (binanceError(-1006, "An unexpected response was received from the message bus. Execution status unknown."), "unknown"),
        (
            binanceError(-1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown."),
            "unknown"
        ),
        (binanceError(-1000, "Unknown error, please check your request or try again later.", status: 503), "unknown"),
        (.json(#"{"code":-1001,"msg":"Service Unavailable."}"#, status: 503), "unknown"),
        (.text("<html>502 Bad Gateway</html>", status: 502), "unknown"),
        (.status(408), "unknown"),
        (.text("<html>403 Forbidden</html>", status: 403), "unknown"),
        (.json(#"{"clientOrderId":"np-abc123-1e","orderId":1"#), "unknown"),
        (.json(#"{"code":0}"#), "unknown"),
        (.json(orderJSON(id: "someone-else")), "unknown"),
    ]

    @Test(arguments: 0..<submitCases.count)
    func submitAnswer(_ index: Int) async throws {
        let (answer, expected) = Self.submitCases[index]
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/order", answer)
        let outcome = await twin.trader().submit(intent())
        #expect(outcome.label == expected, "case \(index): \(outcome)")
        #expect(twin.requests("POST", "/fapi/v1/order").count == 1)
    }

    @Test func lookupAndCancelCodes() async throws {
        let twin = try TradingLoopback()
        let trader = twin.trader()
        twin.on("GET", "/fapi/v1/order", binanceError(-2013, "Order does not exist."))
        #expect(await trader.lookup(clientID: "np-abc123-1e", kind: .market) == .notFound)
        twin.on("GET", "/fapi/v1/order", binanceError(-1021, "Timestamp for this request is outside of the recvWindow."))
        if case .unknown = await trader.lookup(clientID: "np-abc123-1e", kind: .market) {} else { Issue.record("-1021 lookup not unknown") }
        twin.on("GET", "/fapi/v1/order", binanceError(-2015, "Invalid API-key, IP, or permissions for action.", status: 401))
        if case .unknown = await trader.lookup(clientID: "np-abc123-1e", kind: .market) {} else { Issue.record("-2015 lookup not unknown") }
        twin.on("GET", "/fapi/v1/order", .status(503))
        if case .unknown = await trader.lookup(clientID: "np-abc123-1e", kind: .market) {} else { Issue.record("503 lookup not unknown") }
        twin.on("GET", "/fapi/v1/order", .json(orderJSON(status: "PARTIALLY_FILLED", executed: "0.5")))
        guard case .found(let order) = await trader.lookup(clientID: "np-abc123-1e", kind: .market) else {
            Issue.record("lookup not found")
            return
        }
        #expect(order.status == .partiallyFilled && order.filledQuantity == Quantity("0.5")!)

        twin.on("DELETE", "/fapi/v1/order", binanceError(-2011, "Unknown order sent."))
        #expect(await trader.cancel(clientID: "np-abc123-1e", kind: .market) == .notOpen)
        twin.on("DELETE", "/fapi/v1/order", .json(orderJSON(status: "CANCELED", executed: "0")))
        if case .cancelled(let order?) = await trader.cancel(clientID: "np-abc123-1e", kind: .market) {
            #expect(order.status == .cancelled)
        } else {
            Issue.record("cancel not cancelled")
        }
        twin.on("DELETE", "/fapi/v1/order", .status(500))
        if case .unknown = await trader.cancel(clientID: "np-abc123-1e", kind: .market) {} else { Issue.record("500 cancel not unknown") }
    }

    @Test func algoLookupFollowsTheActualOrder() async throws {
        let twin = try TradingLoopback()
        let trader = twin.trader()
        twin.on("GET", "/fapi/v1/algoOrder", .json(algoJSON(status: "NEW")))
        guard case .found(let resting) = await trader.lookup(clientID: "np-abc123-2s", kind: .stopMarket) else {
            Issue.record("resting algo not found")
            return
        }
        #expect(resting.status == .accepted && resting.kind == .stopMarket && resting.triggerPrice == Price("7.5"))
        twin.on("GET", "/fapi/v1/algoOrder", .json(algoJSON(status: "FINISHED", actual: "777")))
        twin.on(
            "GET", "/fapi/v1/order",
            .json(
                #"{"clientOrderId":"x1","orderId":777,"status":"FILLED","side":"SELL","type":"MARKET","origQty":"1.5","executedQty":"1.5","avgPrice":"7.49","updateTime":1700000000300}"#
            ))
        guard case .found(let finished) = await trader.lookup(clientID: "np-abc123-2s", kind: .stopMarket) else {
            Issue.record("finished algo not found")
            return
        }
        #expect(finished.status == .filled && finished.triggeredOrderID == "777" && finished.clientID == "np-abc123-2s")
        #expect(twin.requests("GET", "/fapi/v1/order").last?.query["orderId"] == "777")
        twin.on("GET", "/fapi/v1/algoOrder", binanceError(-2013, "Order does not exist."))
        #expect(await trader.lookup(clientID: "np-abc123-2s", kind: .stopMarket) == .notFound)
        twin.on("DELETE", "/fapi/v1/algoOrder", binanceError(-2011, "Unknown order sent."))
        #expect(await trader.cancel(clientID: "np-abc123-2s", kind: .stopMarket) == .notOpen)
    }

    static let malformedBodies: [String] = [
        #"{"clientOrderId":"np-abc123-1e","orderId":123456,"status":"FIL"#,
        #"{"clientOrderId":["np"],"orderId":{},"status":7,"side":null,"origQty":true,"executedQty":"x"}"#,
        orderJSON(qty: "NaN"), orderJSON(executed: "nan"), orderJSON(qty: "1e400"),
        orderJSON(qty: "99999999999999999999999999999"), orderJSON(qty: "-1.5", executed: "0"),
        orderJSON(qty: "1.5", executed: "2"), orderJSON(qty: "0", executed: "0"),
        #"[1,2,3]"#, "", "null", String(repeating: "[", count: 5000),
    ]

    @Test func malformedAnswersNeverCrashAndAreNeverAccepted() async throws {
        let twin = try TradingLoopback()
        let trader = twin.trader()
        for body in Self.malformedBodies {
            twin.on("POST", "/fapi/v1/order", .json(body))
            twin.on("GET", "/fapi/v1/order", .json(body))
            #expect(await trader.submit(intent()).label == "unknown", "\(body.prefix(60))")
            if case .unknown = await trader.lookup(clientID: "np-abc123-1e", kind: .market) {
            } else {
                Issue.record("lookup of \(body.prefix(60)) is not unknown")
            }
            #expect(BinanceWire.order((try? JSONParser.parse(body)) ?? .null) == nil)
        }
    }
}

@Suite("BinanceTrading rules and snapshot")
struct BinanceTradingReadTests {
    static let exchangeInfo = #"""
        {"symbols":[{"symbol":"NMRUSDT","filters":[
          {"filterType":"PRICE_FILTER","tickSize":"0.0010","minPrice":"0.001","maxPrice":"1000"},
          {"filterType":"LOT_SIZE","stepSize":"0.01","maxQty":"100000","minQty":"0.01"},
          {"filterType":"MARKET_LOT_SIZE","stepSize":"0.1","maxQty":"5000","minQty":"0.1"},
          {"filterType":"MIN_NOTIONAL","notional":"5"}]}]}
        """#

    @Test func rulesTakeTheLargerStep() async throws {
        let twin = try TradingLoopback()
        twin.on("GET", "/fapi/v1/exchangeInfo", .json(Self.exchangeInfo))
        let rules = try await twin.trader().rules()
        #expect(rules.tickSize == Price("0.001") && rules.lotSize == Quantity("0.1"))
        #expect(rules.maxMarketQuantity == Quantity("5000") && rules.minNotional == Notional("5"))
        twin.on(
            "GET", "/fapi/v1/exchangeInfo",
            .json(#"{"symbols":[{"symbol":"NMRUSDT","filters":[{"filterType":"PRICE_FILTER","tickSize":"NaN"}]}]}"#))
        await #expect(throws: VenueError.self) { try await twin.trader().rules() }
    }

    static let docex = "binance_usdm/docex_GetExchangeInfo.json"

    @Test(.enabled(if: hasSharedPayload(docex), "../shared/data/api/\(docex) is absent"))
    func rulesFromTheDocumentedExample() throws {
        let bytes = try #require(sharedPayload(Self.docex))
        let json = try JSONParser.parse(bytes)
        guard case .success(let rules) = BinanceWire.rules(json, symbol: "BLZUSDT") else {
            Issue.record("BLZUSDT rules did not read")
            return
        }
        #expect(rules.tickSize == Price("0.0001") && rules.lotSize.isPositive && rules.maxMarketQuantity.isPositive)
    }

    static func scripted(_ twin: TradingLoopback) {
        twin.on("GET", "/fapi/v1/openOrders", .json("[\(orderJSON(status: "NEW", executed: "0"))]"))
        twin.on("GET", "/fapi/v1/openAlgoOrders", .json("[\(algoJSON())]"))
        twin.on(
            "GET", "/fapi/v3/positionRisk",
            .json(
                #"[{"symbol":"NMRUSDT","positionSide":"BOTH","positionAmt":"-3.2","entryPrice":"8.1","markPrice":"8.0","liquidationPrice":"12.5","isolatedMargin":"5.2","leverage":"5"}]"#
            ))
        twin.on(
            "GET", "/fapi/v3/balance",
            .json(#"[{"asset":"BNB","balance":"1","availableBalance":"1"},{"asset":"USDT","balance":"100.5","availableBalance":"90.25"}]"#))
        twin.on(
            "GET", "/fapi/v1/userTrades",
            .json(
                #"[{"id":2,"orderId":9,"side":"SELL","qty":"3.2","price":"8.1","commission":"0.0104","realizedPnl":"0","time":1699999990000}]"#
            ))
    }

    @Test func snapshotReadsEveryPart() async throws {
        let twin = try TradingLoopback()
        Self.scripted(twin)
        let snapshot = try await twin.trader().snapshot(fillsSince: Timestamp(milliseconds: venueTime - 3_600_000))
        #expect(snapshot.openOrders.count == 2)
        #expect(snapshot.position.quantity == Quantity("-3.2") && snapshot.position.leverage == 5)
        #expect(snapshot.balance == VenueBalance(wallet: Notional("100.5")!, available: Notional("90.25")!))
        #expect(snapshot.fills.map(\.tradeID) == ["2"])
        #expect(twin.requests("GET", "/fapi/v1/userTrades").first?.query["startTime"] == String(venueTime - 3_600_000))
    }

    @Test func aCloseAllStopWithoutQuantityStillLists() throws {
        let text = algoJSON().replacingOccurrences(of: #""quantity":"1.5""#, with: #""quantity":"0","closePosition":true"#)
        #expect(BinanceWire.algoOrder(try JSONParser.parse(text))?.order.quantity == .zero)
        let plain = algoJSON().replacingOccurrences(of: #""quantity":"1.5""#, with: #""quantity":"0""#)
        #expect(BinanceWire.algoOrder(try JSONParser.parse(plain)) == nil)
    }

    @Test func tradesArePagedByWindowAndFromID() async throws {
        let twin = try TradingLoopback()
        Self.scripted(twin)
        func row(_ id: Int) -> String {
            #"{"id":\#(id),"orderId":9,"side":"BUY","qty":"0.1","price":"8","commission":"0.001","realizedPnl":"0","time":\#(venueTime - 1000)}"#
        }
        let full = "[" + (1...1000).map(row).joined(separator: ",") + "]"
        twin.on("GET", "/fapi/v1/userTrades", .json("[]"), .json(full), .json("[\(row(1000)),\(row(1001))]"))
        let snapshot = try await twin.trader().snapshot(fillsSince: Timestamp(milliseconds: venueTime - 10 * 86_400_000))
        let asked = twin.requests("GET", "/fapi/v1/userTrades")
        #expect(asked.count == 3)
        // Two windows of at most 7 days, the second paged on by fromId.
        let first = try #require(asked.first)
        let spans = asked.compactMap { request -> Int64? in
            guard let start = request.query["startTime"].flatMap({ Int64($0) }), let end = request.query["endTime"].flatMap({ Int64($0) })
            else { return nil }
            return end - start
        }
        #expect(spans.allSatisfy { $0 < 7 * 86_400_000 } && first.query["startTime"] == String(venueTime - 10 * 86_400_000))
        #expect(asked.last?.query["fromId"] == "1001" && asked.last?.query["startTime"] == nil)
        #expect(snapshot.fills.count == 1001 && Set(snapshot.fills.map(\.tradeID)).count == 1001)
    }

    @Test func aFailedPartIsNeverAPartialSnapshot() async throws {
        for (path, failure) in [
            ("/fapi/v3/positionRisk", HTTPResponseSpec.status(503)),
            ("/fapi/v3/positionRisk", .json(#"[{"symbol":"NMRUSDT","positionAmt":"NaN"}]"#)),
            ("/fapi/v3/balance", .json("[]")), ("/fapi/v1/openAlgoOrders", .json(#"{"code":0}"#)), ("/fapi/v1/userTrades", .drop),
        ] {
            let twin = try TradingLoopback()
            Self.scripted(twin)
            twin.on("GET", path, failure)
            await #expect(throws: (any Error).self, "\(path)") {
                _ = try await twin.trader().snapshot(fillsSince: Timestamp(milliseconds: venueTime - 3_600_000))
            }
        }
    }

    @Test func prepareAcceptsNoNeedToChange() async throws {
        let twin = try TradingLoopback()
        twin.on("POST", "/fapi/v1/marginType", binanceError(-4046, "No need to change margin type."))
        twin.on("POST", "/fapi/v1/leverage", .json(#"{"leverage":3,"maxNotionalValue":"1000000","symbol":"NMRUSDT"}"#))
        try await twin.trader().prepare(leverage: 3, isolated: true)
        #expect(twin.requests("POST", "/fapi/v1/marginType").first?.query["marginType"] == "ISOLATED")
        #expect(twin.requests("POST", "/fapi/v1/leverage").first?.query["leverage"] == "3")
        twin.on("POST", "/fapi/v1/heartbeat-none", .status(200))
        twin.on("POST", "/fapi/v1/countdownCancelAll", .json(#"{"symbol":"NMRUSDT","countdownTime":"120000"}"#))
        try await twin.trader().heartbeat(countdown: .seconds(120))
        #expect(twin.requests("POST", "/fapi/v1/countdownCancelAll").first?.query["countdownTime"] == "120000")
    }
}

@Suite("BinanceTrading stream events")
struct BinanceTradingStreamTests {
    @Test func orderTradeUpdateGivesOrderAndFill() {
        let text =
            #"{"e":"ORDER_TRADE_UPDATE","T":1700000000500,"E":1700000000501,"o":{"s":"NMRUSDT","c":"np-abc123-1e","S":"BUY","o":"MARKET","q":"1.5","ap":"8.25","sp":"0","x":"TRADE","X":"FILLED","i":123456,"l":"1.5","z":"1.5","L":"8.25","n":"0.0049","N":"USDT","t":99,"rp":"0","R":false}}"#
        guard case .events(let events) = BinanceUSDMTrader.decode(text, symbol: "NMRUSDT"), events.count == 2,
            case .order(let order) = events[0], case .fill(let fill) = events[1]
        else {
            Issue.record("not order + fill")
            return
        }
        #expect(order.status == .filled && fill.tradeID == "99" && fill.quantity == Quantity("1.5") && fill.clientID == "np-abc123-1e")
        #expect(BinanceUSDMTrader.decode(text.replacingOccurrences(of: #""l":"1.5""#, with: #""l":"-1.5""#), symbol: "NMRUSDT") != .ignored)
        if case .malformed = BinanceUSDMTrader.decode(text.replacingOccurrences(of: #""l":"1.5""#, with: #""l":"-1.5""#), symbol: "NMRUSDT")
        {
        } else {
            Issue.record("a negative last quantity was not skipped")
        }
        #expect(BinanceUSDMTrader.decode(text.replacingOccurrences(of: "NMRUSDT", with: "BTCUSDT"), symbol: "NMRUSDT") == .ignored)
    }

    @Test func algoAndAccountUpdates() {
        let algo =
            #"{"e":"ALGO_UPDATE","T":1750515742297,"E":1750515742303,"o":{"caid":"np-abc123-2s","aid":2148719,"at":"CONDITIONAL","o":"STOP_MARKET","s":"NMRUSDT","S":"SELL","ps":"BOTH","f":"GTC","q":"1.5","X":"FINISHED","ai":"777","ap":"7.49","aq":"1.5","tp":"7.5","R":true}}"#
        guard case .events(let events) = BinanceUSDMTrader.decode(algo, symbol: "NMRUSDT"), case .order(let order)? = events.first else {
            Issue.record("ALGO_UPDATE did not read")
            return
        }
        #expect(order.status == .filled && order.kind == .stopMarket && order.triggeredOrderID == "777" && order.clientID == "np-abc123-2s")
        let account =
            #"{"e":"ACCOUNT_UPDATE","T":1700000000600,"a":{"m":"ORDER","B":[{"a":"USDT","wb":"100.1","cw":"95.0","bc":"0"}],"P":[{"s":"NMRUSDT","pa":"1.5","ep":"8.25","up":"0","mt":"isolated","iw":"2.5","ps":"BOTH"}]}}"#
        guard case .events(let updates) = BinanceUSDMTrader.decode(account, symbol: "NMRUSDT") else {
            Issue.record("ACCOUNT_UPDATE did not read")
            return
        }
        #expect(updates.count == 2)
        #expect(BinanceUSDMTrader.decode(#"{"e":"listenKeyExpired","E":1}"#, symbol: "NMRUSDT") == .listenKeyExpired)
        for garbage in ["", "{", "[]", #"{"e":"ORDER_TRADE_UPDATE"}"#, #"{"e":"ALGO_UPDATE","o":{"s":"NMRUSDT","q":"NaN"}}"#] {
            if case .events = BinanceUSDMTrader.decode(garbage, symbol: "NMRUSDT") { Issue.record("\(garbage) gave events") }
        }
    }
}

@Suite("BinanceTrading credentials")
struct BinanceTradingCredentialsTests {
    static func home() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nmrperp-cred-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("keys"), withIntermediateDirectories: true)
        return dir.path
    }

    static func write(_ text: String, home: String, mode: Int) throws {
        let path = home + "/keys/binance.json"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    static func message(_ body: () throws -> BinanceCredentials?) -> String {
        do {
            _ = try body()
            return ""
        } catch {
            return String(describing: error) + String(reflecting: error)
        }
    }

    @Test func environmentFileAndRefusals() throws {
        let home = try Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        let env = ["NMRPERP_BINANCE_API_KEY": fakeKey, "NMRPERP_BINANCE_API_SECRET": canarySecret]
        let fromEnv = try #require(try BinanceCredentials.load(environment: env, home: home))
        for text in [String(describing: fromEnv), String(reflecting: fromEnv), "\(fromEnv)"] {
            #expect(text == "<redacted>")
        }
        var dumped = ""
        dump(fromEnv, to: &dumped)
        #expect(!dumped.contains(canarySecret) && !dumped.contains(fakeKey))
        #expect(try BinanceCredentials.load(environment: [:], home: home) == nil)
        let lonely = Self.message { try BinanceCredentials.load(environment: ["NMRPERP_BINANCE_API_SECRET": canarySecret], home: home) }
        #expect(lonely.contains("NMRPERP_BINANCE_API_KEY") && !lonely.contains(canarySecret))

        try Self.write(#"{"api_key":"\#(fakeKey)","api_secret":"\#(canarySecret)"}"#, home: home, mode: 0o600)
        #expect(try BinanceCredentials.load(environment: [:], home: home) != nil)
        try Self.write(#"{"api_key":"\#(fakeKey)","api_secret":"\#(canarySecret)"}"#, home: home, mode: 0o644)
        let open = Self.message { try BinanceCredentials.load(environment: [:], home: home) }
        #expect(open.contains("0644") && open.contains("chmod 600") && !open.contains(canarySecret))
        for bad in [
            #"{"api_key":"\#(fakeKey)","api_secret":"\#(canarySecret)""#, #"{"api_key":"\#(fakeKey)"}"#,
            #"{"api_key":"\#(fakeKey)","api_secret":42}"#, #"["\#(canarySecret)"]"#, #"{"api_secret":"\#(canarySecret)\n"}"#,
            #"{"api_key":"\#(fakeKey)","api_secret":"\#(canarySecret) x"}"#, "\(canarySecret)",
        ] {
            try Self.write(bad, home: home, mode: 0o600)
            let text = Self.message { try BinanceCredentials.load(environment: [:], home: home) }
            #expect(!text.isEmpty && !text.contains(canarySecret) && !text.contains("CANARY"), "\(text)")
        }
    }
}
