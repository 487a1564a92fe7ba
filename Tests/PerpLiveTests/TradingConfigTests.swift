import Foundation
import PerpConfig
import PerpEngine
import PerpModel
import PerpSimulation
import Testing

/// The account and venue sections of the configuration (PerpConfig/TradingSection.swift; issue
/// 15, "One configuration"; decision 0018): read by the library, defaults from the market
/// preset, every value's source.
@Suite struct TradingConfigTests {
    func parse(_ yaml: String) throws -> (ConfigFile, [BotConfigFile.Problem]) {
        try BotConfigFile.parseFile(yaml: yaml, file: "bot.yaml")
    }

    @Test func theDefaultFileGivesTheDefaultAccountAndMarket() throws {
        let (file, problems) = try parse(BotConfigFile.defaultYAML())
        #expect(problems.isEmpty)
        #expect(file.bot == BotConfig())
        #expect(file.trading == TradingSettings())
        // The market's values are written commented out: only these two sections' own keys and
        // the market are set by the file.
        #expect(Set(file.sources.keys.filter { $0.hasPrefix("venue.") }) == ["venue.market"])
        #expect(file.sources["account.capital"] != nil)
    }

    @Test func theMarketSetsEveryVenueDefaultWhereverItIsWritten() throws {
        // `market` after a key: the key still overrides the market's value.
        let (file, problems) = try parse("venue:\n  taker_fee: 0.0004\n  market: lighter\naccount:\n  capital: 2500\n")
        #expect(problems.isEmpty)
        #expect(file.trading.market == .lighterNMR)
        #expect(file.trading.takerFee == Rate("0.0004"))
        #expect(file.trading.makerFee == .zero)
        #expect(file.trading.lotSize == Quantity("0.01"))
        #expect(file.trading.capital == Notional(2500))
        #expect(file.sources["venue.taker_fee"] == "bot.yaml line 2")
        let rows = Dictionary(uniqueKeysWithValues: file.tradingRows.map { ($0.key, $0.source) })
        #expect(rows["venue.maker_fee"] == "lighter preset")
        #expect(rows["venue.slippage_bps"] == "default")
        #expect(rows["account.capital"] == "bot.yaml line 5")
    }

    @Test func everyProblemIsListedWithItsLineAndADidYouMean() throws {
        let yaml = "account:\n  capitol: 5\n  margin_mode: hedged\nvenue:\n  market: lihgter\n  taker_fee: 5%\n  maintenance: 1.5\n"
        let (_, problems) = try parse(yaml)
        #expect(problems.count == 5)
        #expect(problems.contains { $0.key == "account.capitol" && $0.message.contains("did you mean capital") && $0.line == 2 })
        #expect(problems.contains { $0.key == "account.margin_mode" && $0.line == 3 })
        #expect(problems.contains { $0.key == "venue.market" && $0.message.contains("binance-usdm, lighter") })
        #expect(problems.contains { $0.key == "venue.taker_fee" && $0.message.contains("0.0005") })
        #expect(problems.contains { $0.key == "venue.maintenance" && $0.message.contains("market or a fraction") })
    }

    @Test func twoSlippageModelsAreRefused() throws {
        let (_, problems) = try parse("venue:\n  slippage_bps: 5\n  volume_impact: 0.1\n")
        #expect(problems.map(\.key) == ["venue.volume_impact"])
        let (file, none) = try parse("venue:\n  volume_impact: 0.1\n  volume_cap: 0.02\n")
        #expect(none.isEmpty)
        #expect(file.trading.venueConfig.slippage == .volumeShare(impact: Rate("0.1")!, cap: Rate("0.02")!))
    }

    @Test func aGroupOrListWhereAValueBelongsIsAProblem() throws {
        let (_, problems) = try parse("venue: binance\naccount:\n  capital:\n    - 1\n")
        #expect(problems.contains { $0.key == "venue" })
        #expect(problems.contains { $0.key == "account.capital" && $0.message.contains("single value") })
    }

    @Test func aFlagOverridesTheFileAndSaysSo() throws {
        var (file, _) = try parse("account:\n  capital: 2500\nvenue:\n  taker_fee: 0.0004\n")
        #expect(file.override("account.capital", "5000", source: "--capital") == nil)
        #expect(file.trading.capital == Notional(5000))
        #expect(file.sources["account.capital"] == "--capital")
        // A new market keeps the values given and takes the rest from the market.
        #expect(file.override("venue.market", "lighter", source: "--market") == nil)
        #expect(file.trading.takerFee == Rate("0.0004"))
        #expect(file.trading.capital == Notional(5000))
        #expect(file.trading.makerFee == .zero)
        #expect(file.override("venue.lot_size", "-1", source: "--lot") != nil)
        #expect(file.trading.lotSize == Quantity("0.01"))
    }

    @Test func theEffectiveJSONHoldsTheRulesTheAccountAndTheVenue() throws {
        let (file, _) = try parse("risk:\n  stop_loss: 0.02\n")
        guard case .object(let members) = file.json else {
            Issue.record("not an object")
            return
        }
        let keys = members.map(\.0)
        #expect(keys.contains("risk") && keys.contains("account") && keys.contains("venue"))
        #expect(file.rows.first { $0.key == "risk.stop_loss" }?.source == "bot.yaml line 2")
        #expect(file.rows.first { $0.key == "risk.take_profit" }?.source == "default")
    }
}
