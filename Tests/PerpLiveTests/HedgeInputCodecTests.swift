import PerpExecution
import PerpLive
import PerpModel
import Testing

/// Every hedge input survives the store: what a restart replays is exactly what was decided on.
@Suite struct HedgeInputCodecTests {
    static let time = Timestamp(milliseconds: 1_790_000_000_123)
    static let intent = OrderIntent(
        sequence: 7, clientID: "np-abcdefgh-7h", kind: .market, purpose: .hedge, side: .short, quantity: Quantity("12.34")!,
        triggerPrice: nil, reduceOnly: false, createdAt: time)
    static let order = VenueOrder(
        clientID: "np-abcdefgh-7h", venueOrderID: "281474976710700", kind: .market, side: .short, status: .filled,
        quantity: Quantity("12.34")!, filledQuantity: Quantity("12.34")!, averagePrice: Price("8.4603")!, triggerPrice: nil,
        reduceOnly: false, updatedAt: time)

    static let inputs: [HedgeInput] = [
        .observed(
            HedgeObservation(
                time: time, stake: Quantity("12.34")!, price: Price("8.4603")!, position: Quantity("-12.34")!,
                isolatedMargin: Notional("285.345678")!, available: Notional("0.000001")!, liquidationPrice: Price("24.9")!,
                fundingPaid: Notional("-1.5")!)),
        .observed(
            HedgeObservation(
                time: time, stake: nil, price: Price("1")!, position: .zero, isolatedMargin: .zero, available: .zero, liquidationPrice: nil,
                fundingPaid: nil)),
        .unreadable(reason: "Numerai: \"down\" — 503", at: time),
        .orderSent(intent),
        .orderSent(
            OrderIntent(
                sequence: 8, clientID: "np-abcdefgh-8k", kind: .market, purpose: .killSwitch, side: .long, quantity: Quantity("0.01")!,
                triggerPrice: nil, reduceOnly: true, createdAt: time)),
        .submitted(clientID: "np-abcdefgh-7h", .accepted(order), at: time),
        .submitted(clientID: "np-abcdefgh-7h", .rejected(code: 21739, message: "not enough margin"), at: time),
        .submitted(clientID: "np-abcdefgh-7h", .unknown(reason: "timeout"), at: time),
        .lookedUp(clientID: "np-abcdefgh-7h", .found(order), at: time),
        .lookedUp(clientID: "np-abcdefgh-7h", .notFound, at: time),
        .lookedUp(clientID: "np-abcdefgh-7h", .unknown(reason: "429"), at: time),
        .marginSent(sequence: 3, amount: Notional("191.986")!, add: true, at: time),
        .marginSent(sequence: 4, amount: Notional("0.000001")!, add: false, at: time),
        .marginAnswered(sequence: 3, .done, at: time),
        .marginAnswered(sequence: 3, .refused("code 21739"), at: time),
        .marginAnswered(sequence: 3, .unknown("reset"), at: time),
        .stop(close: true, reason: "operator stop", at: time),
        .stop(close: false, reason: "", at: time),
        .restarted(at: time),
        .resumed(at: time),
    ]

    @Test func everyInputReadsBackTheSame() throws {
        for (index, input) in Self.inputs.enumerated() {
            let row = HedgeInputCodec.encode(input)
            let back = try HedgeInputCodec.decode((Int64(index + 1), row.kind, row.payload))
            #expect(back == input, "\(row.kind): \(row.payload)")
        }
    }

    @Test func damagedRowsAreErrorsNamingTheRow() {
        let cases: [(String, String)] = [
            ("hedge_observed", "{"), ("hedge_observed", #"{"time":1}"#), ("hedge_order", #"{"intent":{"kind":"limit"}}"#),
            ("hedge_margin_answer", #"{"sequence":1,"outcome":{"maybe":true},"at":1}"#), ("bar", "{}"), ("", ""),
        ]
        for (kind, payload) in cases {
            #expect(throws: LiveInputDecodingError.self, "\(kind) \(payload)") { try HedgeInputCodec.decode((42, kind, payload)) }
        }
    }
}
