import PerpModel

/// A venue's NMR perpetual as the defaults of every command that trades it, simulated or not
/// (issue 15, "One configuration, realistic defaults"): its tick, lot, minimum notional, fees,
/// maintenance schedule, liquidation rule and funding interval. `backtest`, `paper` and the bot
/// configuration's `venue:` section start from one of these, so a plain backtest and a paper
/// session trade the same market (decision 0018).
///
/// The figures are the venue's published ones for NMR; a live session reads the venue's own
/// rules at start-up instead (Binance `exchangeInfo`, Lighter `orderBookDetails`), so a preset
/// that has gone stale can mislead a backtest but never an order.
public struct MarketPreset: Hashable, Sendable {
    /// The name the configuration and the flags use (`binance-usdm`, `lighter`).
    public var name: String
    /// For people: `Binance USD-M NMRUSDT`.
    public var label: String
    public var symbol: String
    /// The quote currency the account is kept in (`USDT`, `USDC`).
    public var currency: String
    public var tickSize: Price
    public var lotSize: Quantity
    /// The smallest notional of an order that opens or adds to a position.
    public var minNotional: Notional
    public var takerFee: Rate
    public var makerFee: Rate
    /// The maintenance schedule the liquidation price follows.
    public var margin: MarginSchedule
    public var liquidationRule: LiquidationRule
    public var fundingInterval: TimeSpan

    /// Binance USD-M NMRUSDT:
    /// - tick 0.001, lot 0.1, `MIN_NOTIONAL` 5 USDT (`GET /fapi/v1/exchangeInfo` filters
    ///   `PRICE_FILTER`, `LOT_SIZE`, `MIN_NOTIONAL`; docs/decisions/0013);
    /// - taker 0.05 %, maker 0.02 % (the regular-user tier of Binance's USDⓈ-M fee schedule);
    /// - the leverage brackets of `GET /fapi/v1/leverageBracket` for NMRUSDT, snapshot 2024-10
    ///   (reliability-anchors.md §1.4): 2 % to 5,000 USDT, 2.5 % to 25,000, 5 % to 200,000,
    ///   10 % to 500,000, 12.5 % to 1,000,000, 25 % to 3,000,000, 50 % to 5,000,000, with the
    ///   `cum` amounts that keep the requirement continuous;
    /// - liquidation keeps the remaining margin (``LiquidationRule/binanceUSDM``); funding every
    ///   4 h (NMRUSDT moved from 8 h to 4 h; each settlement's own time is what counts).
    public static let binanceNMRUSDT = MarketPreset(
        name: "binance-usdm", label: "Binance USD-M NMRUSDT", symbol: "NMRUSDT", currency: "USDT",
        tickSize: Price("0.001")!, lotSize: Quantity("0.1")!, minNotional: Notional(5),
        takerFee: Rate("0.0005")!, makerFee: Rate("0.0002")!,
        margin: .brackets(binanceNMRUSDTBrackets), liquidationRule: .binanceUSDM, fundingInterval: .hours(4))

    /// Lighter's NMR perp, market 74, as `GET /api/v1/orderBookDetails` reported it: size
    /// decimals 2 (lot 0.01), price decimals 4 (tick 0.0001), maintenance 2000 and minimum
    /// initial 3333 of 10,000 (20 %, 33.33 %: at most 3x); standard accounts pay no fees;
    /// hourly funding (spec §5; shared/data/api/lighter/real_orderBookDetails_NMR_SOL_trimmed.json;
    /// lighter-live.md). The minimum order is unconfirmed (`min_quote_amount`), so none is set:
    /// a live session reads the venue's own.
    public static let lighterNMR = MarketPreset(
        name: "lighter", label: "Lighter NMR (market 74)", symbol: "NMR", currency: "USDC",
        tickSize: MarketSpec.lighterNMR.tickSize, lotSize: MarketSpec.lighterNMR.lotSize, minNotional: .zero,
        takerFee: .zero, makerFee: .zero, margin: MarketSpec.lighterNMR.margin, liquidationRule: .lighter,
        fundingInterval: .hours(1))

    /// Every preset, the default first.
    public static let all = [binanceNMRUSDT, lighterNMR]

    /// The preset called `name` (case-insensitive), or `nil`.
    public static func named(_ name: String) -> MarketPreset? {
        all.first { $0.name == name.lowercased() }
    }

    /// Binance USD-M NMRUSDT's leverage brackets (snapshot 2024-10, reliability-anchors.md §1.4).
    public static let binanceNMRUSDTBrackets: [MarginBracket] = [
        ("0", "5000", "0.02", "0", 20), ("5000", "25000", "0.025", "25", 15), ("25000", "200000", "0.05", "650", 10),
        ("200000", "500000", "0.1", "10650", 5), ("500000", "1000000", "0.125", "23150", 4),
        ("1000000", "3000000", "0.25", "148150", 2), ("3000000", "5000000", "0.5", "898150", 1),
    ].map { floor, cap, rate, cum, leverage in
        MarginBracket(
            notionalFloor: Notional(floor)!, notionalCap: Notional(cap)!, maintenanceRate: Rate(rate)!,
            maintenanceAmount: Notional(cum)!, maxLeverage: leverage)
    }
}

/// The account and venue a strategy trades: the `account:` and `venue:` sections of the bot
/// configuration, with one set of defaults (``MarketPreset/binanceNMRUSDT``, 10,000 of capital,
/// cross margin, no slippage) shared by `backtest`, `paper` and the dashboard (issue 15).
public struct TradingSettings: Hashable, Sendable {
    /// How taker fills slip past the bar's close.
    public enum Slippage: Hashable, Sendable {
        /// A fixed fraction of the price, in basis points.
        case basisPoints(Rate)
        /// `impact × (order size / bar volume)` of the price, capped (``SlippageModel/volumeShare(impact:cap:)``).
        case volumeShare(impact: Rate, cap: Rate)
    }

    /// The maintenance requirement: the market's own schedule, or one flat fraction.
    public enum Maintenance: Hashable, Sendable {
        case market
        case fraction(Rate)
    }

    public var market: MarketPreset
    /// Starting capital, in the market's currency.
    public var capital: Notional = Notional(10_000)
    public var marginMode: MarginMode = .cross
    public var tickSize: Price
    public var lotSize: Quantity
    public var minNotional: Notional
    public var takerFee: Rate
    public var makerFee: Rate
    public var maintenance: Maintenance = .market
    public var slippage: Slippage = .basisPoints(.zero)
    public var liquidationRule: LiquidationRule

    /// The defaults of `market`: its tick, lot, minimum notional, fees, schedule and rule.
    public init(market: MarketPreset = .binanceNMRUSDT) {
        self.market = market
        tickSize = market.tickSize
        lotSize = market.lotSize
        minNotional = market.minNotional
        takerFee = market.takerFee
        makerFee = market.makerFee
        liquidationRule = market.liquidationRule
    }

    /// The maintenance schedule in force: the market's, or flat `fraction` of notional.
    public var marginSchedule: MarginSchedule {
        switch maintenance {
        case .market: return market.margin
        case .fraction(let rate): return .fractions(initial: rate, maintenance: rate)
        }
    }

    /// The simulated venue these settings describe (the backtester's and the paper venue's).
    public var venueConfig: VenueConfig {
        var config = VenueConfig()
        config.marginMode = marginMode
        switch maintenance {
        case .market:
            config.marginSchedule = market.margin
            if case .fractions(_, let rate) = market.margin { config.maintenanceFraction = rate }
        case .fraction(let rate):
            config.maintenanceFraction = rate
        }
        config.takerFee = takerFee
        config.makerFee = makerFee
        config.lotSize = lotSize
        config.minNotional = minNotional
        config.liquidationRule = liquidationRule
        switch slippage {
        case .basisPoints(let bps): config.slippage = bps.isZero ? .none : .fixed(Rate(raw: bps.raw / 10_000))
        case .volumeShare(let impact, let cap): config.slippage = .volumeShare(impact: impact, cap: cap)
        }
        return config
    }

    /// One line for reports and status: `Binance USD-M NMRUSDT, capital 10000 USDT, cross margin,
    /// maintenance by the market's brackets, taker 0.0005, maker 0.0002, lot 0.1, min notional 5,
    /// no slippage, liquidation binance-usdm`.
    public var summary: String {
        let maintenanceText: String
        switch maintenance {
        case .market:
            if case .brackets = market.margin {
                maintenanceText = "maintenance by the market's brackets"
            } else {
                maintenanceText = "maintenance \(marginSchedule.maintenanceDescription)"
            }
        case .fraction(let rate): maintenanceText = "maintenance \(rate)"
        }
        let slippageText: String
        switch slippage {
        case .basisPoints(let bps): slippageText = bps.isZero ? "no slippage" : "slippage \(bps) bps"
        case .volumeShare(let impact, let cap): slippageText = "slippage \(impact) × size/volume, at most \(cap)"
        }
        return [
            market.label, "capital \(capital) \(market.currency)", "\(marginMode.rawValue) margin", maintenanceText,
            "taker \(takerFee)", "maker \(makerFee)", "lot \(lotSize)", "min notional \(minNotional)", slippageText,
            "liquidation \(liquidationRule.name)",
        ].joined(separator: ", ")
    }

    /// The maintenance fraction that holds for a position of `notional` (the bracket's rate on
    /// Binance, the flat fraction otherwise), for a status line's single figure.
    public func maintenanceRate(notional: Notional) -> Rate {
        switch marginSchedule {
        case .fractions(_, let rate): return rate
        case .brackets(let brackets):
            guard !brackets.isEmpty else { return .zero }
            var chosen = brackets[0]
            for bracket in brackets where bracket.notionalFloor <= notional.magnitude { chosen = bracket }
            return chosen.maintenanceRate
        }
    }
}

extension MarginSchedule {
    /// `0.2` for a flat fraction, `brackets` for a tiered schedule.
    public var maintenanceDescription: String {
        switch self {
        case .fractions(_, let rate): return rate.description
        case .brackets: return "brackets"
        }
    }
}
