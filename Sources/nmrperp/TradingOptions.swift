import ArgumentParser
import PerpConfig
import PerpModel
import PerpSimulation

/// The account and venue flags `backtest`, `paper` and `bot check --show` share (issue 15, "One
/// configuration"): each overrides the same key of the configuration's `account:` or `venue:`
/// section for one run, and every value left out comes from the file, else from the market
/// preset (Binance USD-M NMRUSDT unless `--market` or `venue.market` says otherwise). A flag is
/// checked with the same words as everywhere else (`Parse`), then set through the file's own
/// setter, so a flag and a file can never mean different things.
struct TradingOptions: ParsableArguments {
    @Option(
        help:
            "The market whose rules are the defaults: binance-usdm (NMRUSDT: tick 0.001, lot 0.1, 5 USDT minimum, fees 0.05 %/0.02 %, leverage brackets) or lighter (market 74: no fees, maintenance 20 %). Default venue.market of --config, else binance-usdm."
    )
    var market: String?
    @Option(help: "Starting capital in the market's currency (default account.capital, 10000).") var capital: String?
    @Option(help: "isolated or cross (default account.margin_mode, cross).") var margin: String?
    @Option(help: "Taker fee rate (default venue.taker_fee: the market's, 0.0005 on Binance).") var feeTaker: String?
    @Option(help: "Maker fee rate (default venue.maker_fee: the market's, 0.0002 on Binance).") var feeMaker: String?
    @Option(help: "Slippage of taker fills in basis points (default venue.slippage_bps, 0).") var slippageBps: String?
    @Option(
        help:
            "One maintenance margin fraction for every position size, or `market` for the market's own schedule (default venue.maintenance: market, Binance NMRUSDT's brackets from 2 %)."
    )
    var maintenanceFraction: String?
    @Option(help: "Order size step in NMR (default venue.lot_size: the market's, 0.1 on Binance).") var lot: String?
    @Option(help: "Smallest notional of an order that opens or adds to a position (default venue.min_notional: 5 on Binance).")
    var minNotional: String?
    @Option(help: ArgumentHelp(Parse.liquidationRuleHelp + " Default venue.liquidation_rule: the market's.")) var liquidationRule: String?

    /// The flags given, as (flag, configuration key, value).
    var given: [(flag: String, key: String, value: String)] {
        [
            ("--market", "venue.market", market), ("--capital", "account.capital", capital), ("--margin", "account.margin_mode", margin),
            ("--fee-taker", "venue.taker_fee", feeTaker), ("--fee-maker", "venue.maker_fee", feeMaker),
            ("--slippage-bps", "venue.slippage_bps", slippageBps), ("--maintenance-fraction", "venue.maintenance", maintenanceFraction),
            ("--lot", "venue.lot_size", lot), ("--min-notional", "venue.min_notional", minNotional),
            ("--liquidation-rule", "venue.liquidation_rule", liquidationRule),
        ]
        .compactMap { flag, key, value in value.map { (flag, key, $0) } }
    }

    /// The configuration in `path` (the defaults without one) with these flags applied over it.
    func configuration(_ path: String?) throws -> ConfigFile {
        var file = try path.map { try ConfigFile.load(path: $0) } ?? ConfigFile()
        try apply(to: &file)
        return file
    }

    /// Checks each flag as the CLI always has (its own name in the message), then sets its key.
    func apply(to file: inout ConfigFile) throws {
        for (flag, key, value) in given {
            try check(flag, value)
            if let message = file.override(key, value, source: flag) { throw CLIError("\(flag) \(message)") }
        }
    }

    private func check(_ flag: String, _ value: String) throws {
        switch flag {
        case "--market":
            guard MarketPreset.named(value) != nil else {
                throw CLIError(
                    "--market must be one of \(MarketPreset.all.map(\.name).joined(separator: ", ")) (got \"\(Parse.clipped(value))\")")
            }
        case "--capital": _ = try Parse.capital(value, currency: "USDT or USDC")
        case "--margin":
            guard MarginMode(rawValue: value.lowercased()) != nil else {
                throw CLIError("--margin must be isolated or cross (got \"\(Parse.clipped(value))\")")
            }
        case "--fee-taker": _ = try Parse.feeRate(value, flag, example: "0.0005")
        case "--fee-maker": _ = try Parse.feeRate(value, flag, example: "0.0002")
        case "--slippage-bps":
            let _: Rate = try Parse.nonNegative(
                value, flag, "basis points", example: "5", atMost: Rate(10_000), limitName: "10000 bps, 100 %")
        case "--maintenance-fraction":
            if value.lowercased() != "market" { _ = try Parse.fraction(value, flag, example: "0.05") }
        case "--lot": let _: Quantity = try Parse.positive(value, flag, "an NMR size step", example: "0.1")
        case "--min-notional": let _: Notional = try Parse.nonNegative(value, flag, "an amount", example: "5")
        case "--liquidation-rule": _ = try Parse.liquidationRule(value)
        default: break
        }
    }
}
