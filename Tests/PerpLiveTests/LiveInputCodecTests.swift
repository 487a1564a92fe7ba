import PerpExecution
import PerpModel
import Testing

@testable import PerpLive

/// The stored form of a live session's inputs: what is written reads back the same, and a
/// damaged row is an error naming it, never a trap.
@Suite struct LiveInputCodecTests {
    static let time = Timestamp(milliseconds: 1_764_000_000_000)

    static func order(status: OrderStatus = .filled) -> VenueOrder {
        VenueOrder(
            clientID: "np-abcd1234-7e", venueOrderID: "8389765", kind: .stopMarket, side: .short, status: status,
            quantity: Quantity("12.3")!, filledQuantity: Quantity("12.3")!, averagePrice: Price("8.125")!, triggerPrice: Price("7.9")!,
            reduceOnly: true, updatedAt: time, triggeredOrderID: "8389766")
    }

    static let fill = VenueFill(
        tradeID: "99", venueOrderID: "8389766", clientID: nil, side: .short, quantity: Quantity("12.3")!, price: Price("7.89")!,
        fee: Notional("0.0485")!, realizedPnL: Notional("-2.9")!, time: time)

    static var inputs: [LiveInput] {
        let snapshot = VenueSnapshot(
            openOrders: [order(status: .accepted)],
            position: VenuePosition(
                quantity: Quantity("-12.3")!, entryPrice: Price("8.1")!, markPrice: Price("8.0")!, liquidationPrice: nil,
                isolatedMargin: Notional("33.2")!, leverage: 3),
            balance: VenueBalance(wallet: Notional("1000")!, available: Notional("960.5")!), fills: [fill], time: time)
        return [
            .bar(
                Candle(
                    openTime: time, open: Price("8")!, high: Price("8.2")!, low: Price("7.9")!, close: Price("8.1")!,
                    volume: Quantity("1500")!), live: true),
            .fundingRate(FundingRate(time: time, rate: Rate("0.0001")!, interval: .hours(4))),
            .execution(.submitted(clientID: "np-abcd1234-7e", .accepted(order()), at: time)),
            .execution(
                .submitted(clientID: "np-abcd1234-8s", .rejected(code: -2021, message: "Order would immediately trigger."), at: time)),
            .execution(.submitted(clientID: "np-abcd1234-9t", .unknown(reason: "timed out"), at: time)),
            .execution(.lookedUp(clientID: "np-abcd1234-9t", .found(order()), at: time)),
            .execution(.lookedUp(clientID: "np-abcd1234-9t", .notFound, at: time)),
            .execution(.lookedUp(clientID: "np-abcd1234-9t", .unknown(reason: "-1021"), at: time)),
            .execution(.cancelAnswered(clientID: "np-abcd1234-9t", .cancelled(nil), at: time)),
            .execution(.cancelAnswered(clientID: "np-abcd1234-9t", .cancelled(order(status: .cancelled)), at: time)),
            .execution(.cancelAnswered(clientID: "np-abcd1234-9t", .notOpen, at: time)),
            .execution(.venue(.fill(fill), at: time)),
            .execution(.venue(.order(order()), at: time)),
            .execution(.venue(.position(VenuePosition(quantity: .zero)), at: time)),
            .execution(.venue(.balance(VenueBalance(wallet: Notional("1")!, available: .zero)), at: time)),
            .execution(.venue(.streamLost(reason: "closed"), at: time)),
            .execution(.venue(.streamRestored, at: time)),
            .execution(.snapshot(snapshot, at: time)),
            .execution(.stop(flatten: true, reason: "operator", at: time)),
            .execution(.restarted(at: time)),
            .execution(.tick(at: time)),
            .feed(live: false, at: time, reason: "stale feed: no new bar since 2026-01-01T00:00:00Z"),
            .badData(reason: "row 3: price \"NaN\"", at: time),
            .signal(.staked, value: 123_456.789_012_345_6, at: time),
            .signal(.sentiment, value: -0.1, at: time),
            .badResponse(reason: "binance-usdm GET /fapi/v1/klines: <html>", at: time),
            .missingBars(first: time, last: time + .minutes(3), at: time + .minutes(4)),
            .calendar(CalendarEvent(time: time + .hours(30), kind: "round_close", note: "round 1100, \"main\""), at: time),
            .signal(.exchangeNetflow, value: -1234.5, at: time),
        ]
    }

    @Test func everyInputReadsBackTheSame() throws {
        for (index, input) in Self.inputs.enumerated() {
            let encoded = LiveInputCodec.encode(input)
            let decoded = try LiveInputCodec.decode((Int64(index), encoded.kind, encoded.payload))
            #expect(decoded == input, "\(encoded.kind): \(encoded.payload)")
        }
    }

    @Test func damagedRowsAreErrorsNamingTheRow() {
        let rows: [(String, String)] = [
            ("calendar", #"{"time":1,"event_kind":"Bad Kind","note":"","at":1}"#), ("calendar", #"{"time":1,"note":"","at":1}"#),
            ("bar", ""), ("bar", "{"), ("bar", #"{"candle":[1,2,3],"live":true}"#), ("bar", #"{"candle":[1,2,3,4,5,"x"],"live":true}"#),
            ("submitted", #"{"client_id":"a","outcome":{},"at":1}"#), ("looked_up", #"{"client_id":"a","outcome":{"found":{}},"at":1}"#),
            ("venue", #"{"event":{"fill":{"trade_id":"1"}},"at":1}"#), ("snapshot", #"{"snapshot":{},"at":1}"#),
            ("tick", #"{"at":"soon"}"#), ("tick", #"{"at":99999999999999999999999}"#), ("nonsense", "{}"),
            ("submitted", #"{"client_id":"a","outcome":{"rejected":{"code":99999999999999999999,"message":"x"}},"at":1}"#),
            // A signal's bits that are NaN or infinite, an unknown series, gaps that end first.
            ("signal", #"{"signal":"staked","bits":9221120237041090560,"at":1}"#),
            ("signal", #"{"signal":"staked","bits":9218868437227405312,"at":1}"#), ("signal", #"{"signal":"moon","bits":0,"at":1}"#),
            ("missing_bars", #"{"first":5,"last":4,"at":6}"#), ("feed", #"{"live":"yes","at":1,"reason":""}"#),
        ]
        for (index, row) in rows.enumerated() {
            #expect(throws: LiveInputDecodingError.self, "\(row.0) \(row.1)") {
                _ = try LiveInputCodec.decode((Int64(index), row.0, row.1))
            }
        }
    }
}
