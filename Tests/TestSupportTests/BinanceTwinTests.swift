import Foundation
import PerpModel
import Testing

@testable import TestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A signed-request client for the twin (what a real Binance client does, minimally).
private struct TwinClient {
    let twin: BinanceUSDMTwin
    var apiKey = BinanceUSDMTwin.Credentials.test.apiKey
    var secret = BinanceUSDMTwin.Credentials.test.secret

    struct Answer {
        var status: Int
        var body: String
        var headers: [AnyHashable: Any]
        func header(_ name: String) -> String? {
            headers.first { ($0.key as? String)?.lowercased() == name.lowercased() }?.value as? String
        }
    }

    func send(
        _ method: String, _ path: String, _ params: [(String, String)] = [], signed: Bool = true,
        timestamp: Int64? = nil, badSignature: Bool = false, timeout: Double = 3
    ) async throws -> Answer {
        var pairs = params
        if signed { pairs.append(("timestamp", String(timestamp ?? twin.nowMillis))) }
        var query = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        if signed {
            let signature = BinanceUSDMTwin.signature(of: query, secret: badSignature ? "wrong" : secret)
            query += (query.isEmpty ? "" : "&") + "signature=" + signature
        }
        guard let url = URL(string: twin.baseURL + path + (query.isEmpty ? "" : "?" + query)) else {
            throw RawClient.Failure(message: "bad url")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = timeout
        request.setValue(apiKey, forHTTPHeaderField: "X-MBX-APIKEY")
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw RawClient.Failure(message: "not HTTP") }
        return Answer(status: http.statusCode, body: String(decoding: data, as: UTF8.self), headers: http.allHeaderFields)
    }

    func market(_ side: String, _ quantity: String, id: String, reduceOnly: Bool = false) async throws -> Answer {
        var params = [
            ("symbol", "NMRUSDT"), ("side", side), ("type", "MARKET"), ("quantity", quantity), ("newClientOrderId", id),
            ("newOrderRespType", "RESULT"),
        ]
        if reduceOnly { params.append(("reduceOnly", "true")) }
        return try await send("POST", "/fapi/v1/order", params)
    }

    func stop(_ side: String, _ quantity: String, trigger: String, id: String, type: String = "STOP_MARKET") async throws -> Answer {
        try await send(
            "POST", "/fapi/v1/algoOrder",
            [
                ("algoType", "CONDITIONAL"), ("symbol", "NMRUSDT"), ("side", side), ("type", type), ("quantity", quantity),
                ("triggerPrice", trigger), ("reduceOnly", "true"), ("clientAlgoId", id),
            ])
    }
}

/// Flat bars at 20 USDT, 15 minutes apart, from SyntheticBars.start; `overrides` replaces some.
private func flatBars(_ count: Int, overrides: [Int: (open: String, high: String, low: String, close: String)] = [:]) -> [TwinBar] {
    (0..<count).map { index in
        let values = overrides[index] ?? ("20", "20.1", "19.9", "20")
        return TwinBar(
            openTime: Timestamp(milliseconds: SyntheticBars.start + Int64(index) * 900_000), open: Price(values.open) ?? .zero,
            high: Price(values.high) ?? .zero, low: Price(values.low) ?? .zero, close: Price(values.close) ?? .zero,
            volume: Quantity(1000))
    }
}

/// A twin whose clock has closed the first `closed` bars.
private func makeTwin(_ bars: [TwinBar], closed: Int = 1) throws -> BinanceUSDMTwin {
    let twin = try BinanceUSDMTwin(bars: bars)
    twin.advance(toMillis: SyntheticBars.start + Int64(closed) * 900_000)
    return twin
}

@Suite("BinanceUSDMTwin")
struct BinanceTwinTests {
    @Test func signatureKeyAndTiming() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        let ok = try await client.send("GET", "/fapi/v3/balance")
        #expect(ok.status == 200)
        #expect(ok.body.contains(#""balance":"10000""#))

        let wrong = try await client.send("GET", "/fapi/v3/balance", badSignature: true)
        #expect(wrong.status == 400 && wrong.body.contains("-1022"))
        var stranger = client
        stranger.apiKey = "someone-else"
        let badKey = try await stranger.send("GET", "/fapi/v3/balance")
        #expect(badKey.status == 401 && badKey.body.contains("-2015"))

        let stale = try await client.send("GET", "/fapi/v3/balance", timestamp: twin.nowMillis - 5001)
        #expect(stale.status == 400 && stale.body.contains("-1021"))
        let ahead = try await client.send("GET", "/fapi/v3/balance", timestamp: twin.nowMillis + 1000)
        #expect(ahead.body.contains("-1021"))
        let extreme = try await client.send("GET", "/fapi/v3/balance", timestamp: .min)  // no overflow
        #expect(extreme.body.contains("-1021"))
        let trades = try await client.send(
            "GET", "/fapi/v1/userTrades", [("symbol", "NMRUSDT"), ("startTime", "9223372036854775807")])
        #expect(trades.status == 200)
        let edge = try await client.send("GET", "/fapi/v3/balance", timestamp: twin.nowMillis - 5000)
        #expect(edge.status == 200)
    }

    /// Binance's golden vector (reliability-anchors.md §2.1 "Signing").
    @Test func signatureMatchesBinanceVector() {
        let signature = BinanceUSDMTwin.signature(
            of: "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559",
            secret: "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
        #expect(signature == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71")
        #expect(String(describing: BinanceUSDMTwin.Credentials.test) == "<redacted>")
    }

    @Test func marketOrdersFillAndTheBooksFollowExactly() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        let buy = try await client.market("BUY", "1.0", id: "np-a-1e")
        #expect(buy.status == 200)
        #expect(buy.body.contains(#""status":"FILLED""#) && buy.body.contains(#""avgPrice":"20""#))
        #expect(twin.position.quantity == Quantity(1))
        #expect(twin.position.entryPrice == Price(20))
        #expect(twin.walletBalance == Notional("9999.99"))  // fee 20 × 1 × 0.05 %

        twin.setPrice(Price(21))
        let sell = try await client.market("SELL", "1.0", id: "np-a-2x", reduceOnly: true)
        #expect(sell.status == 200)
        #expect(twin.position.quantity == .zero)
        #expect(twin.position.realizedPnL == Notional(1))
        #expect(twin.position.fees == Notional("0.0205"))
        #expect(twin.walletBalance == Notional("10000.9795"))
        #expect(twin.trades.count == 2)

        let trades = try await client.send("GET", "/fapi/v1/userTrades", [("symbol", "NMRUSDT"), ("fromId", String(twin.trades[1].id))])
        #expect(trades.body.contains(#""realizedPnl":"1""#) && !trades.body.contains(#""realizedPnl":"0""#))
        let flat = try await client.send("GET", "/fapi/v3/positionRisk", [("symbol", "NMRUSDT")])
        #expect(flat.body == "[]")

        // Reduce-only with no position, off-step quantity, tiny notional, zero quantity.
        #expect(try await client.market("SELL", "1.0", id: "x1", reduceOnly: true).body.contains("-2022"))
        #expect(try await client.market("BUY", "1.05", id: "x2").body.contains("-1111"))
        #expect(try await client.market("BUY", "0.2", id: "x3").body.contains("-4164"))
        #expect(try await client.market("BUY", "0", id: "x4").body.contains("-4003"))

        // A flip: long 1 at 21, sell 3 at 22 → +1 realized on the closed part, short 2 at 22.
        // Without RESULT the answer is the ACK (NEW, nothing executed) although it filled.
        let ack = try await client.send(
            "POST", "/fapi/v1/order",
            [("symbol", "NMRUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "1"), ("newClientOrderId", "np-a-3e")])
        #expect(ack.body.contains(#""status":"NEW""#) && ack.body.contains(#""executedQty":"0""#))
        #expect(twin.position.quantity == Quantity(1))
        twin.setPrice(Price(22))
        #expect(try await client.market("SELL", "3", id: "np-a-4e").status == 200)
        #expect(twin.position.quantity == Quantity(-2))
        #expect(twin.position.entryPrice == Price(22))
        #expect(twin.position.realizedPnL == Notional(2))
        let lookup = try await client.send("GET", "/fapi/v1/order", [("symbol", "NMRUSDT"), ("origClientOrderId", "nope")])
        #expect(lookup.body.contains("-2013"))
        let cancel = try await client.send("DELETE", "/fapi/v1/order", [("symbol", "NMRUSDT"), ("origClientOrderId", "np-a-1e")])
        #expect(cancel.body.contains("-2011"))
    }

    /// The trap: `newClientOrderId` is unique among open orders only, so a blind resend of a
    /// filled market order opens a second position.
    @Test func reusingAFilledOrdersClientIDOpensASecondOrder() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        #expect(try await client.market("BUY", "1.0", id: "np-t-1e").status == 200)
        #expect(try await client.market("BUY", "1.0", id: "np-t-1e").status == 200)
        #expect(twin.ordersAccepted(clientID: "np-t-1e") == 2)
        #expect(twin.duplicateClientIDs == ["np-t-1e"])
        #expect(twin.position.quantity == Quantity(2))
    }

    @Test func conditionalTypesNeedTheAlgoAPI() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        let answer = try await client.send(
            "POST", "/fapi/v1/order",
            [("symbol", "NMRUSDT"), ("side", "SELL"), ("type", "STOP_MARKET"), ("quantity", "1"), ("stopPrice", "19")])
        #expect(answer.status == 400)
        #expect(answer.body.contains("-4120") && answer.body.contains("Algo Order API"))
        #expect(twin.orders.isEmpty)
    }

    @Test func algoStopTriggersWhenABarCrossesIt() async throws {
        let bars = flatBars(6, overrides: [2: ("19.9", "20", "19", "19.2"), 4: ("18", "18.5", "17.5", "18")])
        let twin = try makeTwin(bars)
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        #expect(try await client.market("BUY", "2.0", id: "np-s-1e").status == 200)
        let stop = try await client.stop("SELL", "2.0", trigger: "19.5", id: "np-s-2s")
        #expect(stop.status == 200 && stop.body.contains(#""algoStatus":"NEW""#))
        let target = try await client.stop("SELL", "2.0", trigger: "21", id: "np-s-3t", type: "TAKE_PROFIT_MARKET")
        #expect(target.status == 200)
        let immediate = try await client.stop("SELL", "2.0", trigger: "20.5", id: "np-s-4s")
        #expect(immediate.body.contains("-2021"))

        twin.advance(toMillis: SyntheticBars.start + 2 * 900_000)  // bar 1: no cross
        #expect(twin.algoOrders.allSatisfy { $0.status == "NEW" })
        twin.advance(toMillis: SyntheticBars.start + 3 * 900_000)  // bar 2: low 19 crosses 19.5
        let fired = try #require(twin.algoOrders.first { $0.clientAlgoID == "np-s-2s" })
        #expect(fired.status == "FINISHED")
        let actual = try #require(twin.orders.first { $0.orderID == fired.actualOrderID })
        #expect(actual.averagePrice == Price("19.5") && actual.origType == "STOP_MARKET" && actual.status == "FILLED")
        #expect(twin.position.quantity == .zero)
        #expect(twin.position.realizedPnL == Notional(-1))  // 2 × (19.5 − 20)

        let query = try await client.send("GET", "/fapi/v1/algoOrder", [("clientAlgoId", "np-s-2s")])
        #expect(query.body.contains(#""actualOrderId":"\#(actual.orderID)""#))
        let open = try await client.send("GET", "/fapi/v1/openAlgoOrders", [("symbol", "NMRUSDT")])
        #expect(open.body.contains("np-s-3t") && !open.body.contains("np-s-2s"))
        let cancel = try await client.send("DELETE", "/fapi/v1/algoOrder", [("symbol", "NMRUSDT"), ("clientAlgoId", "np-s-3t")])
        #expect(cancel.body.contains(#""msg":"success""#))
    }

    @Test func algoStopFillsAtTheOpenWhenTheBarGapsThroughIt() throws {
        let stop = TwinAlgoOrder(
            algoID: 1, clientAlgoID: "s", type: "STOP_MARKET", side: .short, quantity: Quantity(1), triggerPrice: Price(19),
            reduceOnly: true, closePosition: false, status: "NEW", createTime: 0, updateTime: 0)
        let gap = TwinBar(
            openTime: Timestamp(milliseconds: 0), open: Price(18), high: Price(18), low: Price(17), close: Price(17), volume: .zero)
        #expect(TwinBook.triggerFill(stop, gap) == Price(18))
        var buyStop = stop
        buyStop.side = .long
        #expect(TwinBook.triggerFill(buyStop, gap) == nil)
    }

    @Test func countdownCancelAllFiresAfterItsDeadline() async throws {
        let twin = try makeTwin(flatBars(8))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        #expect(try await client.market("BUY", "1.0", id: "np-c-1e").status == 200)
        #expect(try await client.stop("SELL", "1.0", trigger: "15", id: "np-c-2s").status == 200)
        let armed = try await client.send("POST", "/fapi/v1/countdownCancelAll", [("symbol", "NMRUSDT"), ("countdownTime", "120000")])
        #expect(armed.body.contains(#""countdownTime":"120000""#))
        let start = twin.nowMillis
        twin.advance(toMillis: start + 60_000)
        #expect(
            try await client.send("POST", "/fapi/v1/countdownCancelAll", [("symbol", "NMRUSDT"), ("countdownTime", "120000")]).status == 200
        )
        twin.advance(toMillis: start + 170_000)  // refreshed at +60 s: deadline +180 s
        #expect(twin.algoOrders[0].status == "NEW")
        twin.advance(toMillis: start + 181_000)
        #expect(twin.algoOrders[0].status == "CANCELED")
        #expect(twin.countdownFirings == [start + 180_000])
        #expect(twin.position.quantity == Quantity(1))  // orders, not positions
    }

    @Test func marginTypeLeverageAndMarketData() async throws {
        let twin = try makeTwin(flatBars(10), closed: 3)
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        #expect(
            try await client.send("POST", "/fapi/v1/marginType", [("symbol", "NMRUSDT"), ("marginType", "CROSSED")]).body.contains("-4046"))
        #expect(try await client.send("POST", "/fapi/v1/marginType", [("symbol", "NMRUSDT"), ("marginType", "ISOLATED")]).status == 200)
        #expect(
            try await client.send("POST", "/fapi/v1/leverage", [("symbol", "NMRUSDT"), ("leverage", "3")]).body.contains(#""leverage":3"#))
        let klines = try await client.send("GET", "/fapi/v1/klines", [("symbol", "NMRUSDT"), ("interval", "15m")], signed: false)
        #expect(klines.body.components(separatedBy: "],[").count == 3)  // only closed bars
        #expect(klines.body.hasPrefix(#"[[\#(SyntheticBars.start),"20.000","20.100""#))
        let time = try await client.send("GET", "/fapi/v1/time", signed: false)
        #expect(time.body == #"{"serverTime":\#(twin.nowMillis)}"#)
        let info = try await client.send("GET", "/fapi/v1/exchangeInfo", signed: false)
        #expect(info.body.contains(#""tickSize":"0.001""#) && info.body.contains(#""stepSize":"0.1""#))
        let premium = try await client.send("GET", "/fapi/v1/premiumIndex", [("symbol", "NMRUSDT")], signed: false)
        #expect(premium.body.contains(#""markPrice":"20""#))
    }
}

@Suite("BinanceUSDMTwin faults")
struct BinanceTwinFaultTests {
    @Test func lostAnswerAfterAcceptance() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        twin.updateFaults { $0.dropResponseAfterAccept = 1 }
        let client = TwinClient(twin: twin)
        await #expect(throws: URLError.self) { _ = try await client.market("BUY", "1.0", id: "np-d-1e") }
        #expect(twin.ordersAccepted(clientID: "np-d-1e") == 1)  // it was executed
        let lookup = try await client.send("GET", "/fapi/v1/order", [("symbol", "NMRUSDT"), ("origClientOrderId", "np-d-1e")])
        #expect(lookup.body.contains(#""status":"FILLED""#))
        #expect(twin.faults.dropResponseAfterAccept == 0)
    }

    @Test func serverErrorsAroundAcceptance() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        twin.updateFaults { $0.serverErrorAfterAccept = 1 }
        let unknown = try await client.market("BUY", "1.0", id: "np-e-1e")
        #expect(unknown.status == 503 && unknown.body.contains("-1006"))
        #expect(twin.ordersAccepted(clientID: "np-e-1e") == 1)

        twin.updateFaults {
            $0.serverErrorAfterAccept = 1
            $0.serverErrorIsHTML = true
        }
        let html = try await client.market("BUY", "1.0", id: "np-e-2e")
        #expect(html.status == 502 && html.body.contains("<html>"))
        #expect(twin.ordersAccepted(clientID: "np-e-2e") == 1)

        twin.updateFaults { $0.unavailableBeforeAccept = 1 }
        let refused = try await client.market("BUY", "1.0", id: "np-e-3e")
        #expect(refused.status == 503 && refused.body == "Service Unavailable.")
        #expect(twin.ordersAccepted(clientID: "np-e-3e") == 0)
        #expect(twin.postCount(clientID: "np-e-3e") == 1)
    }

    @Test func rateLimitsBanWeightDelayAndSkew() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        twin.updateFaults {
            $0.rateLimited = 1
            $0.banned = 1
            $0.retryAfterSeconds = 7
            $0.weightPerRequest = 5
        }
        let ban = try await client.send("GET", "/fapi/v1/time", signed: false)
        #expect(ban.status == 418 && ban.header("Retry-After") == "7")
        let limited = try await client.send("GET", "/fapi/v1/time", signed: false)
        #expect(limited.status == 429 && limited.header("Retry-After") == "7" && limited.body.contains("-1003"))
        let fine = try await client.send("GET", "/fapi/v1/time", signed: false)
        #expect(fine.status == 200 && fine.header("X-MBX-USED-WEIGHT-1M") == "15")

        twin.updateFaults { $0.clockSkewMillis = 2000 }
        let skewed = try await client.send("GET", "/fapi/v1/time", signed: false)
        #expect(skewed.body == #"{"serverTime":\#(twin.nowMillis + 2000)}"#)
        // A client on the twin's clock is now 2 s behind: still inside recvWindow; 6 s is not.
        #expect(try await client.send("GET", "/fapi/v3/balance").status == 200)
        twin.updateFaults { $0.clockSkewMillis = 6000 }
        #expect(try await client.send("GET", "/fapi/v3/balance").body.contains("-1021"))

        twin.updateFaults {
            $0.clockSkewMillis = 0
            $0.responseDelaySeconds = 2
        }
        await #expect(throws: URLError.self) { _ = try await client.send("GET", "/fapi/v1/time", signed: false, timeout: 0.3) }
    }

    @Test func ambiguousOutcomesAreDeterministicFromTheSeed() async throws {
        func run() async throws -> [Int] {
            let twin = try makeTwin(flatBars(4))
            defer { twin.shutdown() }
            twin.updateFaults {
                $0.ambiguousPerMille = 400
                $0.seed = 9
            }
            let client = TwinClient(twin: twin)
            var statuses: [Int] = []
            for index in 0..<8 {
                do {
                    statuses.append(try await client.market("BUY", "1.0", id: "np-r-\(index)e").status)
                } catch {
                    statuses.append(0)
                }
            }
            #expect(twin.orders.count == 8)  // every one was executed
            return statuses
        }
        let first = try await run()
        #expect(try await run() == first)
        #expect(first.contains(200) && first.contains { $0 != 200 })
    }
}

@Suite("BinanceUSDMTwin user data stream")
struct BinanceTwinStreamTests {
    @Test func fillsArriveAsOrderTradeUpdates() async throws {
        let twin = try makeTwin(flatBars(4))
        defer { twin.shutdown() }
        let client = TwinClient(twin: twin)
        let created = try await client.send("POST", "/fapi/v1/listenKey", signed: false)
        let key = try #require(created.body.split(separator: "\"").dropFirst(3).first.map(String.init))
        #expect(key.count == 64)
        let socket = try WebSocketProbe(port: twin.port, path: "/ws/" + key)
        defer { socket.close() }
        #expect(await waitUntil { twin.streamConnections == 1 })

        twin.updateFaults { $0.streamRepeatNext = 1 }
        #expect(try await client.market("BUY", "1.0", id: "np-w-1e").status == 200)
        let messages = socket.readTextMessages(count: 4)
        #expect(messages.count == 4)
        #expect(messages[0] == messages[1])  // the repeated NEW
        #expect(messages[0].contains(#""x":"NEW""#))
        #expect(messages[2].contains(#""e":"ORDER_TRADE_UPDATE""#) && messages[2].contains(#""x":"TRADE""#))
        #expect(messages[2].contains(#""c":"np-w-1e""#) && messages[2].contains(#""L":"20""#))
        #expect(messages[3].contains(#""e":"ACCOUNT_UPDATE""#))

        twin.updateFaults {
            $0.streamReorderNextPairs = 1
            $0.streamDisconnectAfterEvents = 3
        }
        #expect(try await client.market("BUY", "1.0", id: "np-w-2e").status == 200)
        let reordered = socket.readTextMessages(count: 3)
        #expect(reordered.count == 3)
        #expect(reordered.first?.contains(#""x":"TRADE""#) == true)
        #expect(reordered.dropFirst().first?.contains(#""x":"NEW""#) == true)
        #expect(socket.readTextMessages(count: 1, timeout: 1).isEmpty)  // disconnected
        #expect(await waitUntil { twin.streamConnections == 0 })

        twin.expireListenKey(key)
        let renewed = try await client.send("PUT", "/fapi/v1/listenKey", signed: false)
        #expect(renewed.body.contains("-1125"))
    }
}

private func waitUntil(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<200 {
        if condition() { return true }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
    return condition()
}

/// A minimal WebSocket client over a raw socket: the upgrade handshake, then unmasked server
/// text frames (enough to read what the twin sends).
private final class WebSocketProbe {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, path: String) throws {
        guard let fd = RawClient.connect(port: port) else { throw RawClient.Failure(message: "connect failed") }
        self.fd = fd
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        guard RawClient.send(fd, Array(request.utf8)) else { throw RawClient.Failure(message: "send failed") }
        let head = RawClient.receive(fd, timeout: 3) { bytes in
            bytes.count >= 4
                && bytes.indices.dropLast(3).contains {
                    bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10
                }
        }
        let text = String(decoding: head, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 101"), let end = text.range(of: "\r\n\r\n") else {
            throw RawClient.Failure(message: "no upgrade: \(text.prefix(80))")
        }
        buffer = Array(
            head[text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound.samePosition(in: text.utf8) ?? text.utf8.endIndex)...])
    }

    func close() { _ = Foundation.close(fd) }

    /// Reads up to `count` text frames (waiting at most `timeout` in all).
    func readTextMessages(count: Int, timeout: Double = 3) -> [String] {
        var messages: [String] = []
        let deadline = Date(timeIntervalSinceNow: timeout)
        while messages.count < count {
            if let (opcode, payload) = takeFrame() {
                if opcode == 1 { messages.append(String(decoding: payload, as: UTF8.self)) }
                if opcode == 8 { break }
                continue
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { break }
            let more = RawClient.receive(fd, timeout: min(remaining, 0.2)) { !$0.isEmpty }
            if more.isEmpty && deadline.timeIntervalSinceNow <= 0 { break }
            buffer += more
        }
        return messages
    }

    private func takeFrame() -> (UInt8, [UInt8])? {
        guard buffer.count >= 2 else { return nil }
        let opcode = buffer[0] & 0x0F
        var length = Int(buffer[1] & 0x7F)
        var offset = 2
        if length == 126 {
            guard buffer.count >= 4 else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            guard buffer.count >= 10 else { return nil }
            length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
            offset = 10
        }
        guard buffer.count >= offset + length else { return nil }
        let payload = Array(buffer[offset..<(offset + length)])
        buffer.removeFirst(offset + length)
        return (opcode, payload)
    }
}
