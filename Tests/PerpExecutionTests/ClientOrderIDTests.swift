import PerpExecution
import PerpModel
import Testing

@Suite struct ClientOrderIDTests {
    /// Binance `newClientOrderId`: `^[\.A-Z\:/a-z0-9_-]{1,36}$`.
    static func binanceAccepts(_ id: String) -> Bool {
        let allowed = Set(".:/_-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".unicodeScalars)
        return (1...36).contains(id.unicodeScalars.count) && id.unicodeScalars.allSatisfy { allowed.contains($0) }
    }

    @Test func tagIsDeterministicAndDependsOnNameAndTime() {
        let a = ClientOrderID.tag(session: "nmr-bot", createdAt: Timestamp(milliseconds: 1_700_000_000_000))
        #expect(a == ClientOrderID.tag(session: "nmr-bot", createdAt: Timestamp(milliseconds: 1_700_000_000_000)))
        #expect(a != ClientOrderID.tag(session: "nmr-bot", createdAt: Timestamp(milliseconds: 1_700_000_000_001)))
        #expect(a != ClientOrderID.tag(session: "nmr-bot2", createdAt: Timestamp(milliseconds: 1_700_000_000_000)))
        #expect(ClientOrderID.isTag(a))
    }

    @Test func idsFitBinanceOverRandomSessionNames() {
        var random = SplitMix64(seed: 12)
        let pieces = ["a", "Z", "é", "🚀", "名前", " ", "\n", "\u{0}", "-", "np-", "\u{202E}", String(repeating: "x", count: 500)]
        for _ in 0..<500 {
            var name = ""
            for _ in 0..<random.int(0...12) { name += pieces[Int(random.int(0...Int64(pieces.count - 1)))] }
            let created = Timestamp(milliseconds: random.int(-62_135_596_800_000...253_402_300_799_999))
            let tag = ClientOrderID.tag(session: name, createdAt: created)
            #expect(tag.utf8.count == 8 && ClientOrderID.isTag(tag))
            let sequence = random.int(0...Int64.max)
            for purpose in OrderPurpose.allCases {
                let id = ClientOrderID.make(tag: tag, sequence: sequence, purpose: purpose)
                #expect(id.utf8.count <= ClientOrderID.maximumLength)
                #expect(Self.binanceAccepts(id))
                let parsed = ClientOrderID.parse(id)
                #expect(parsed?.tag == tag && parsed?.sequence == sequence && parsed?.purpose == purpose)
            }
        }
    }

    @Test func longestIDIs32() {
        let id = ClientOrderID.make(tag: "abcdefgh", sequence: .max, purpose: .killSwitch)
        #expect(id == "np-abcdefgh-9223372036854775807k")
        #expect(id.count == 32)
        // A bad tag or sequence still gives a valid id.
        let odd = ClientOrderID.make(tag: "NOT A TAG ✓", sequence: -5, purpose: .entry)
        #expect(Self.binanceAccepts(odd) && odd.count <= 32)
        #expect(ClientOrderID.parse(odd)?.sequence == 0)
    }

    @Test(arguments: [
        "", "np-", "np-abcdefgh-", "np-abcdefgh-e", "np-abcdefgh-1", "np-abcdefgh-1z", "np-ABCDEFGH-1e", "np-abcdefg-1e",
        "np-abcdefghi-1e", "np-abcdefgh-01e", "np-abcdefgh--1e", "np-abcdefgh-9223372036854775808e", "np-abcdefgh-1e ",
        "xp-abcdefgh-1e", "autoclose-123456", "adl_autoclose", "np-abcdéfgh-1e", "np-abcdefgh-1\u{0}e", "np-abcdefgh-1é",
        String(repeating: "9", count: 10_000), "np-abcdefgh-" + String(repeating: "1", count: 40) + "e",
    ])
    func parseRefusesWhatIsNotOurs(_ id: String) {
        #expect(ClientOrderID.parse(id) == nil)
    }

    @Test func parseReadsOurs() {
        let parsed = ClientOrderID.parse("np-0a1b2c3d-42t")
        #expect(parsed?.tag == "0a1b2c3d" && parsed?.sequence == 42 && parsed?.purpose == .target)
        #expect(ClientOrderID.parse("np-0a1b2c3d-0e")?.sequence == 0)
    }

    @Test func hostileBytesNeverTrap() {
        var random = SplitMix64(seed: 99)
        for _ in 0..<2000 {
            let length = Int(random.int(0...40))
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length {
                let pick = random.int(0...3)
                let value: UInt32 =
                    pick == 0
                    ? UInt32(random.int(0...127))
                    : pick == 1
                        ? UInt32(random.int(0x80...0xD7FF)) : UInt32("np-0123456789es".unicodeScalars.map(\.value)[Int(random.int(0...14))])
                if let scalar = Unicode.Scalar(value) { scalars.append(scalar) }
            }
            let text = String(scalars)
            if let parsed = ClientOrderID.parse(text) {
                #expect(ClientOrderID.make(tag: parsed.tag, sequence: parsed.sequence, purpose: parsed.purpose) == text)
            }
        }
    }
}
