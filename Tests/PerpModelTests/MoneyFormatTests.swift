import PerpModel
import Testing

@Suite struct MoneyFormatTests {
    @Test func moneyIsCentsWithThousandsGrouped() {
        #expect(Notional("1379986.61992228")!.money == "1,379,986.62")
        #expect(Notional("-1379986.615")!.money == "-1,379,986.62")
        #expect(Notional("999.995")!.money == "1,000.00")
        #expect(Notional("999.994")!.money == "999.99")
        #expect(Notional("0")!.money == "0.00")
        #expect(Notional("-5")!.money == "-5.00")
        #expect(Notional("123456")!.grouped(places: 0) == "123,456")
        #expect(Notional("1234567.5")!.grouped(places: 4) == "1,234,567.5000")
        #expect(DecimalFormatter.groupThousands("+1234") == "+1,234")
        #expect(DecimalFormatter.groupThousands("n/a") == "n/a")
    }
}
