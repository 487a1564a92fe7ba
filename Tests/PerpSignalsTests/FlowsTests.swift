import PerpModel
import Testing

@testable import PerpSignals

@Suite("On-chain NMR flows")
struct FlowsTests {
    static let exchange = "0x" + String(repeating: "a", count: 40)
    static let other = "0x" + String(repeating: "b", count: 40)
    static let whale = "0x" + String(repeating: "c", count: 40)
    static let hour: Int64 = 3_600_000
    static let start: Int64 = 1_735_689_600_000

    static func transfer(_ offset: Int64, _ from: String, _ to: String, _ amount: String) -> TokenTransfer {
        TokenTransfer(time: start + offset, block: 1, logIndex: 0, from: from, to: to, amount: Quantity(amount)!)
    }

    @Test func netInflowLargeTransfersAndEmptyHours() {
        let transfers = [
            Self.transfer(10, Self.whale, Self.exchange, "25000"),  // onto the exchange, large
            Self.transfer(20, Self.exchange, Self.other, "100.5"),  // off the exchange
            Self.transfer(2 * Self.hour + 1, Self.other, Self.whale, "3"),
            Self.transfer(3 * Self.hour + 1, Self.exchange, Self.exchange, "50000"),  // internal: nets to zero
        ]
        let rows = TransferFlows.periods(
            transfers, labelled: [Self.exchange], largeAt: Quantity(10_000), period: .hours(1), from: Self.start,
            until: Self.start + 3 * Self.hour + 30)
        // Hours 0, 1, 2 are whole; hour 3 is not over.
        #expect(rows.map(\.end) == [1, 2, 3].map { Self.start + $0 * Self.hour })
        #expect(rows[0].netInflow == Quantity("24899.5")!)
        #expect(rows[0].largeCount == 1 && rows[0].largeVolume == Quantity(25_000))
        #expect(rows[0].volume == Quantity("25100.5")! && rows[0].transfers == 2)
        #expect(
            rows[1]
                == FlowPeriod(
                    end: Self.start + 2 * Self.hour, netInflow: .zero, largeCount: 0, largeVolume: .zero, volume: .zero, transfers: 0))
        #expect(rows[2].netInflow == .zero && rows[2].volume == Quantity(3))
        let later = TransferFlows.periods(
            transfers, labelled: [Self.exchange], largeAt: Quantity(10_000), period: .hours(1), from: Self.start + 3 * Self.hour,
            until: Self.start + 4 * Self.hour)
        #expect(later.count == 1 && later[0].netInflow == .zero && later[0].largeCount == 1)
    }

    @Test func aSpanThatStartsMidPeriodSkipsThatPeriod() {
        let rows = TransferFlows.periods(
            [Self.transfer(10, Self.whale, Self.exchange, "1")], labelled: [Self.exchange], largeAt: Quantity(1), period: .hours(1),
            from: Self.start + 5, until: Self.start + 2 * Self.hour)
        #expect(rows.map(\.end) == [Self.start + 2 * Self.hour])
        #expect(rows[0].transfers == 0)
    }

    @Test func hostileSpansAndSumsNeverTrap() {
        let huge = TokenTransfer(time: Self.start, block: 1, logIndex: 0, from: Self.whale, to: Self.exchange, amount: Quantity(raw: .max))
        let rows = TransferFlows.periods(
            [huge, huge], labelled: [Self.exchange], largeAt: Quantity(1), period: .hours(1), from: Self.start,
            until: Self.start + Self.hour)
        #expect(rows.count == 1 && rows[0].netInflow == Quantity(raw: .max) && rows[0].volume == Quantity(raw: .max))
        #expect(TransferFlows.periods([], labelled: [], largeAt: .zero, period: .hours(1), from: .min, until: .max).isEmpty)
        #expect(
            TransferFlows.periods([], labelled: [], largeAt: .zero, period: TimeSpan(milliseconds: 1), from: 0, until: 4_000_000_000_000)
                .isEmpty)
    }
}
