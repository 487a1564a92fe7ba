import PerpModel
import Testing

/// The strict JSON parser and writer (JSON.swift).
@Suite("JSON")
struct JSONTests {
    /// A real-shaped payload: Binance klines (shared/data/api/binance_spot/docex_GetKlines.json),
    /// Lighter candles and fundings (shared/data/api/lighter/docex_*.json), with escapes.
    static let payload = #"""
        {"klines":[[1499040000000,"0.01634790","0.80000000","0.01575800","0.01577100","148976.11427815",1499644799999,"2434.19055334",308,"1756.87402397","28.46694368","0"]],
         "lighter":{"code":200,"r":"1m","c":[{"t":1767700500000,"o":3236.86,"h":3237.78,"l":3235.36,"c":3235.39,"v":55.1632,"V":178530.793575,"i":779870452,"C":"3024.66"}],"message":"string"},
         "fundings":{"resolution":"1h","fundings":[{"timestamp":"1640995200","value":"0.0001","rate":"0.0012","direction":"short"}]},
         "misc":[true,false,null,-0,1E+2,-1.5e-3,"tab\there","quote\"","uni\u00e9\ud83d\ude00",{}, []]}
        """#

    @Test("parses a document with members in order and numbers kept as their text")
    func parsesDocument() throws {
        let value = try JSONParser.parse(#"{"a":1,"b":[true,false,null],"c":"x","d":-0.5e-3,"e":{},"a":2}"#)
        guard case .object(let members) = value else {
            Issue.record("expected an object, got \(value)")
            return
        }
        #expect(members.map(\.0) == ["a", "b", "c", "d", "e", "a"])
        #expect(value["a"] == .number("1"), "the first of duplicate keys wins on lookup")
        #expect(value["b"] == .array([.bool(true), .bool(false), .null]))
        #expect(value["c"]?.stringValue == "x")
        #expect(value["d"] == .number("-0.5e-3"))
        #expect(value["e"] == .object([]))
        #expect(value["missing"] == nil)
        #expect(value.arrayValue == nil)
    }

    @Test(
        "numbers are kept as exact text, never through Double",
        arguments: [
            "22.168000000000003", "1e400", "-1e-400", "123456789012345678901234567890", "0", "-0", "0.1", "5e-05", "4.183E-05",
            "1E+2", "17.64705882352941176470588235",
        ])
    func numbersAsText(text: String) throws {
        #expect(try JSONParser.parse(text) == .number(text))
        #expect(try JSONParser.parse("[ \(text) ]") == .array([.number(text)]))
    }

    @Test("numeric helpers read numbers and numeric strings")
    func numericHelpers() throws {
        let row = try JSONParser.parse(#"[1499040000000,"0.01634790",308,"abc",null]"#)
        let fields = try #require(row.arrayValue)
        #expect(fields[0].int64Value == 1_499_040_000_000)
        #expect(fields[1].numericText == "0.01634790")
        #expect(fields[1].int64Value == nil)
        #expect(fields[2].int64Value == 308)
        #expect(fields[3].numericText == "abc")
        #expect(fields[4].numericText == nil)
        #expect(JSONValue.exact(Price("17.64705882")!) == .number("17.64705882"))
        #expect(JSONValue.exact(Rate(basisPointsOf10000: 2000)) == .number("0.2"))
        #expect(JSONValue.int(-42) == .number("-42"))
        #expect(JSONValue.double(.nan) == .null)
        #expect(JSONValue.double(.infinity) == .null)
        #expect(JSONValue.double(0.1 + 0.2) == .number("0.3"))
    }

    @Test("string escapes, UTF-8 and surrogate pairs")
    func escapes() throws {
        let value = try JSONParser.parse(#""\"\\\/\b\f\n\r\t\u00e9\u00E9\ud83d\ude00 é😀""#)
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\téé😀 é😀"))
        #expect(try JSONParser.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try JSONParser.parse(#""""#) == .string(""))
    }

    @Test(
        "rejects malformed documents with a typed error",
        arguments: [
            "", " ", "{", "}", "[", "[1,]", "[,1]", #"{"a":1,}"#, #"{"a"}"#, #"{"a" 1}"#, "{1:2}", "[1 2]", "01", "-01", "00",
            "1.", ".5", "1e", "1e+", "+1", "-", "--1", "1.5.2", "[1] x", "{} {}", "tru", "nul", "nulll", "True", "NaN",
            "Infinity", "-Infinity", "'a'", #""abc"#, #""\x""#, #""\u12""#, #""\u12G4""#, #""\ud83d""#, #""\ud83dx""#,
            #""\ud83d\u0041""#, #""\udc00""#, "\"a\nb\"", "\"a\tb\"", "[\u{0}]", "\u{FEFF}{}", "/* */ {}",
        ])
    func rejects(text: String) {
        #expect(throws: JSONParseError.self, "\(text.debugDescription) should not parse") {
            try JSONParser.parse(text)
        }
    }

    @Test("errors carry the byte offset and a reason")
    func errorOffsets() {
        let trailing = #expect(throws: JSONParseError.self) { try JSONParser.parse("[1] x") }
        #expect(trailing?.offset == 4)
        #expect(trailing?.reason == "unexpected trailing characters")
        #expect(trailing?.description == "invalid JSON at byte 4: unexpected trailing characters")
        let leadingZero = #expect(throws: JSONParseError.self) { try JSONParser.parse("[01]") }
        #expect(leadingZero?.reason == "leading zero in a number")
        let surrogate = #expect(throws: JSONParseError.self) { try JSONParser.parse(#""\ud83d""#) }
        #expect(surrogate?.reason == "unpaired surrogate")
    }

    @Test("nesting up to the limit parses; beyond it throws instead of overflowing the stack")
    func nesting() throws {
        let limit = JSONParser.maximumDepth
        let deepest = String(repeating: "[", count: limit) + String(repeating: "]", count: limit)
        var value = try JSONParser.parse(deepest)
        var depth = 1
        while case .array(let inner) = value, let first = inner.first {
            value = first
            depth += 1
        }
        #expect(depth == limit)

        let tooDeep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(tooDeep) }
        #expect(error?.reason == "nested too deeply")

        let objects = String(repeating: #"{"a":"#, count: limit + 1) + "1" + String(repeating: "}", count: limit + 1)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(objects) }
        // An attacker's 200,000 open brackets: a clean error, no crash.
        #expect(throws: JSONParseError.self) { try JSONParser.parse(String(repeating: "[", count: 200_000)) }
    }

    @Test("serialises with stored key order, compact and pretty")
    func serialises() throws {
        let value = JSONValue.object([
            ("b", .array([.int(1), .string("x\n")])), ("a", .null), ("e", .array([])), ("o", .object([])),
            ("s", .string("q\"\\\u{01}\u{1F}\r\t/é")), ("t", .bool(true)),
        ])
        #expect(
            value.serialized(pretty: false)
                == #"{"b":[1,"x\n"],"a":null,"e":[],"o":{},"s":"q\"\\\u0001\u001f\r\t/é","t":true}"#)
        #expect(
            value.serialized()
                == """
                {
                  "b": [
                    1,
                    "x\\n"
                  ],
                  "a": null,
                  "e": [],
                  "o": {},
                  "s": "q\\"\\\\\\u0001\\u001f\\r\\t/é",
                  "t": true
                }
                """)
        #expect(try JSONParser.parse(value.serialized()) == value)
        #expect(try JSONParser.parse(value.serialized(pretty: false)) == value)
    }

    @Test("a real-shaped payload round-trips through serialisation")
    func payloadRoundTrip() throws {
        let value = try JSONParser.parse(Self.payload)
        #expect(value["klines"]?.arrayValue?.first?.arrayValue?[1] == .string("0.01634790"))
        #expect(value["lighter"]?["c"]?.arrayValue?.first?["o"] == .number("3236.86"))
        #expect(value["misc"]?.arrayValue?[8] == .string("unié😀"))
        #expect(value["misc"]?.arrayValue?[3] == .number("-0"))
        for pretty in [true, false] {
            let text = value.serialized(pretty: pretty)
            #expect(try JSONParser.parse(text) == value)
            #expect(try JSONParser.parse(text).serialized(pretty: pretty) == text, "serialisation is stable")
        }
        #expect(Set([value, try JSONParser.parse(value.serialized())]).count == 1, "equal values hash equally")
    }

    @Test("fuzz: 2,000 seeded mutations of a real payload never crash the parser")
    func fuzz() throws {
        var rng = SplitMix64(seed: 0x5EED_0401)
        let original = Array(Self.payload.utf8)
        let interesting = Array(#"{}[]",:\0123456789eE.+-tfnu "#.utf8) + [0x00, 0x0A, 0xC3, 0xFF, 0xED, 0xA0]
        var parsed = 0
        var rejected = 0
        for _ in 0..<2_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                guard !bytes.isEmpty else { break }
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<6, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes[at] = interesting.randomElement(using: &rng)!
                case 2: bytes.remove(at: at)
                case 3: bytes.insert(interesting.randomElement(using: &rng)!, at: at)
                case 4:
                    let end = min(bytes.count, at + Int.random(in: 1...40, using: &rng))
                    bytes.insert(contentsOf: bytes[at..<end], at: at)
                default: bytes.removeLast(Int.random(in: 0...(bytes.count - at), using: &rng))
                }
            }
            switch Result(catching: { () throws(JSONParseError) -> JSONValue in try JSONParser.parse(bytes) }) {
            case .success(let value):
                parsed += 1
                // Whatever parses must serialise to JSON that parses back to the same value.
                #expect(try JSONParser.parse(value.serialized(pretty: false)) == value)
            case .failure(let error):
                rejected += 1
                #expect(error.offset >= 0 && error.offset <= bytes.count)
                #expect(!error.reason.isEmpty)
            }
        }
        #expect(parsed + rejected == 2_000)
        #expect(parsed > 0 && rejected > 0, "the mutations exercise both paths (\(parsed) parsed, \(rejected) rejected)")
    }

    @Test(
        "formatDouble prints statistics without exponents or float noise",
        arguments: [
            (0.1 + 0.2, 12, "0.3"),
            (-46.4, 12, "-46.4"),
            (2.44, 12, "2.44"),
            (0.001, 12, "0.001"),
            (1e-5, 12, "0.00001"),
            (-0.0, 12, "0"),
            (1.0 / 3.0, 4, "0.3333"),
            (2.0 / 3.0, 4, "0.6667"),
            (123_456_789.123, 12, "123456789.123"),
            (1234.5678, 6, "1234.57"),
            (1_000_000, 12, "1000000"),
        ])
    func formatDoubleCases(value: Double, significant: Int, text: String) {
        #expect(formatDouble(value, significant: significant) == text)
    }

    @Test("formatDouble output is a JSON number close to the value (seeded)")
    func formatDoubleProperty() throws {
        var rng = SplitMix64(seed: 0x5EED_0402)
        #expect(formatDouble(.nan) == "nan")
        #expect(formatDouble(.infinity) == "inf")
        #expect(formatDouble(-.infinity) == "-inf")
        for _ in 0..<2_000 {
            let mantissa = Double.random(in: 1..<10, using: &rng)
            let exponent = Int.random(in: -6...17, using: &rng)
            var value = mantissa
            for _ in 0..<abs(exponent) { value = exponent < 0 ? value / 10 : value * 10 }
            if Bool.random(using: &rng) { value = -value }
            let text = formatDouble(value)
            #expect(try JSONParser.parse(text) == .number(text), "\(value) → \(text)")
            #expect(!text.contains("e"), "\(value) → \(text)")
            let back = try #require(Double(text))
            #expect(abs(back - value) <= abs(value) * 1e-11, "\(value) → \(text)")
        }
    }
}
