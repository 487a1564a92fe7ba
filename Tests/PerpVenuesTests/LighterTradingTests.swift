import Foundation
import PerpExecution
import PerpModel
import TestSupport
import Testing

@testable import PerpVenues

/// The Lighter adapter's pieces that need no network (issue 13): a market's integer units from
/// `orderBookDetails`, and the trading key from the environment or the key file.
@Suite struct LighterTradingTests {
    static let ethDetails = "lighter/real_orderBookDetails_ETH_ccxt.json"
    static let nmrDetails = "lighter/real_orderBookDetails_NMR_SOL_trimmed.json"

    /// A real `orderBookDetails` answer with every field (ETH: size 4 decimals, price 2, minimum
    /// 0.005 ETH and 10 USDC): the rules the execution layer trades by, and exact conversions
    /// both ways; anything off the lot or tick, below the minimum or beyond the signer's `int`
    /// is refused, never rounded.
    @Test(.enabled(if: hasSharedPayload(ethDetails), "../shared/data/api/\(ethDetails) is absent"))
    func realDetailsGiveTheMarketsIntegerUnits() throws {
        let json = try JSONParser.parse(try #require(sharedPayload(Self.ethDetails)))
        let market = try LighterClient.parseMarket(json, id: 0)
        #expect(market.minBaseAmount == Quantity("0.005")! && market.minQuoteAmount == Notional(10))
        let scale = try #require(LighterScale(market))
        let rules = scale.rules(symbol: "ETH")
        #expect(rules.tickSize == Price("0.01")! && rules.lotSize == Quantity("0.0001")! && rules.minNotional == Notional(10))
        #expect(scale.baseAmount(Quantity("0.005")!) == 50)
        #expect(scale.baseAmount(Quantity("1.2345")!) == 12_345)
        #expect(scale.baseAmount(Quantity("0.004")!) == nil, "below the minimum size")
        #expect(scale.baseAmount(Quantity("0.01005")!) == nil, "off the lot")
        #expect(scale.baseAmount(Quantity("-1")!) == nil)
        #expect(scale.integerPrice(Price("3550.69")!) == 355_069)
        #expect(scale.integerPrice(Price("3550.695")!) == nil, "off the tick")
        #expect(scale.integerPrice(Price("21474836.47")!) == Int64(Int32.max))
        #expect(scale.integerPrice(Price("21474836.48")!) == nil, "beyond the signer's int")
        #expect(scale.integerPrice(.zero) == nil)
        #expect(scale.quantity(baseAmount: 50) == Quantity("0.005")!)
        #expect(scale.price(integer: 355_069) == Price("3550.69")!)
        #expect(scale.quantity(baseAmount: .max) == nil && scale.price(integer: .max) == nil)
    }

    /// NMR's captured answer has no `price_decimals`: no scale, so nothing can be signed until
    /// the venue's full answer gives it (never a guess).
    @Test(.enabled(if: hasSharedPayload(nmrDetails), "../shared/data/api/\(nmrDetails) is absent"))
    func withoutPriceDecimalsThereIsNoScale() throws {
        let market = try LighterClient.parseMarket(try JSONParser.parse(try #require(sharedPayload(Self.nmrDetails))), id: 74)
        #expect(market.sizeDecimals == 2 && market.priceDecimals == nil)
        #expect(LighterScale(market) == nil)
        // With the decimals the notes infer (size 2, price 4), NMR's mark converts exactly.
        let nmr = try #require(LighterScale(market: 74, sizeDecimals: 2, priceDecimals: 4))
        #expect(nmr.integerPrice(try #require(market.markPrice)) == 84_603)
        #expect(nmr.baseAmount(Quantity("314.15")!) == 31_415)
        #expect(LighterScale(market: 74, sizeDecimals: 9, priceDecimals: 4) == nil)
        #expect(LighterScale(market: 74, sizeDecimals: 2, priceDecimals: -1) == nil)
    }

    static let key = "0x" + String(repeating: "5a", count: 40)

    func home(file: String?, mode: Int = 0o600) throws -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("lighter-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home + "/keys", withIntermediateDirectories: true)
        if let file {
            let path = home + "/keys/lighter.json"
            try file.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        }
        return home
    }

    @Test func theKeyComesFromTheEnvironmentOrAnOwnerOnlyFile() throws {
        let names = LighterCredentials.environmentKeys
        let environment = [names.account: "281474976710600", names.apiKey: "4", names.privateKey: Self.key]
        let fromEnvironment = try #require(try LighterCredentials.load(environment: environment, home: try home(file: nil)))
        #expect(fromEnvironment.accountIndex == 281_474_976_710_600 && fromEnvironment.apiKeyIndex == 4)
        let file = #"{"account_index": 12, "api_key_index": "5", "private_key": "\#(Self.key)"}"#
        let fromFile = try #require(try LighterCredentials.load(environment: [:], home: try home(file: file)))
        #expect(fromFile.accountIndex == 12 && fromFile.apiKeyIndex == 5)
        #expect(try LighterCredentials.load(environment: [:], home: try home(file: nil)) == nil)
        // The key never shows, however it is printed.
        var dumped = ""
        dump(fromFile, to: &dumped)
        for text in ["\(fromFile)", String(reflecting: fromFile), dumped] {
            #expect(!text.contains("5a5a"), "\(text)")
        }
    }

    @Test func badKeysAreOneLineAndNeverQuoteTheKey() throws {
        let names = LighterCredentials.environmentKeys
        func failure(_ environment: [String: String], file: String? = nil, mode: Int = 0o600) throws -> String {
            do {
                _ = try LighterCredentials.load(environment: environment, home: try home(file: file, mode: mode))
                return "loaded"
            } catch let error as LighterCredentialsError {
                return error.description
            }
        }
        let partial = try failure([names.privateKey: Self.key])
        #expect(partial.contains(names.account) && partial.contains(names.apiKey) && partial.contains("not set"), "\(partial)")
        let reserved = try failure([names.account: "7", names.apiKey: "1", names.privateKey: Self.key])
        #expect(reserved.contains("4…254"), "\(reserved)")
        let account = try failure([names.account: "0", names.apiKey: "4", names.privateKey: Self.key])
        #expect(account.contains("≥ 1"), "\(account)")
        let short = try failure([names.account: "7", names.apiKey: "4", names.privateKey: "0x5a5a"])
        #expect(short.contains("80 hex digits") && !short.contains("5a5a"), "\(short)")
        let open = try failure([:], file: #"{"account_index": 1, "api_key_index": 4, "private_key": "\#(Self.key)"}"#, mode: 0o644)
        #expect(open.contains("chmod 600"), "\(open)")
        let broken = try failure([:], file: #"{"account_index": 1, "private_key": "\#(Self.key)""#)
        #expect(broken.contains("not valid JSON") && !broken.contains("5a5a"), "\(broken)")
        let missing = try failure([:], file: #"{"account_index": 1, "private_key": "\#(Self.key)"}"#)
        #expect(missing.contains("\"api_key_index\""), "\(missing)")
    }
}
