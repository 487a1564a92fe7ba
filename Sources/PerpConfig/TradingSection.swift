import PerpEngine
import PerpMarketData
import PerpModel
import PerpSimulation

/// The whole configuration file: the bot's rules (``BotConfig``) and the account and venue it
/// trades (``TradingSettings``), with where each value came from (issue 15, "One
/// configuration"; decision 0018).
public struct ConfigFile: Sendable, Equatable {
    public var bot: BotConfig
    public var trading: TradingSettings
    /// Where each value came from, by dotted key: `bot.yaml line 12`, `--capital`; a key absent
    /// here has its default (the market preset's, for venue keys).
    public var sources: [String: String]

    public init(bot: BotConfig = BotConfig(), trading: TradingSettings = TradingSettings(), sources: [String: String] = [:]) {
        self.bot = bot
        self.trading = trading
        self.sources = sources
    }

    /// Loads `path` (both parts), throwing one ``BotConfigError`` that lists every problem, as
    /// ``BotConfigFile/load(path:)``.
    public static func load(path: String) throws(BotConfigError) -> ConfigFile {
        let (file, problems) = try BotConfigFile.readFile(path: path)
        if !problems.isEmpty { throw BotConfigFile.error(path: path, problems) }
        return file
    }

    /// Every account and venue value as (dotted key, value, where it came from), in the file's
    /// order: `default`, `binance-usdm preset`, the file and line, or the flag.
    public var tradingRows: [(key: String, value: String, source: String)] {
        TradingKey.all.map { key in
            let fromPreset = ["tick_size", "lot_size", "min_notional", "taker_fee", "maker_fee", "maintenance", "liquidation_rule"]
            let source =
                sources[key.path] ?? (key.group == "venue" && fromPreset.contains(key.name) ? "\(trading.market.name) preset" : "default")
            return (key.path, key.text(trading), source)
        }
    }

    /// Every value of the file, rules first, then account and venue: (dotted key, value, source).
    public var rows: [(key: String, value: String, source: String)] {
        BotConfigFile.rows(bot).map { ($0.key, $0.value, sources[$0.key] ?? "default") } + tradingRows
    }

    /// The effective configuration as JSON, grouped like the file: the rules, `account`, `venue`.
    public var json: JSONValue {
        guard case .object(let members) = BotConfigFile.json(bot) else { return BotConfigFile.json(bot) }
        return .object(members + TradingKey.json(trading))
    }

    /// Sets `value` for the `account.*` or `venue.*` key `path` as if the file said so, noting
    /// `source` (a flag's name) as where it came from; returns what is wrong with it, if anything.
    /// `venue.market` resets every venue default to the new market's, keeping the values given.
    public mutating func override(_ path: String, _ value: String, source: String) -> String? {
        guard let key = TradingKey.all.first(where: { $0.path == path }) else { return "is not an account or venue key" }
        var settings = trading
        if let message = key.assign(value, &settings) { return message }
        if path == "venue.market" {
            // The values given explicitly stay; the rest follow the new market.
            let given = TradingKey.all.filter { $0.path != path && sources[$0.path] != nil }.map { ($0, $0.text(trading)) }
            for (other, text) in given { _ = other.assign(text, &settings) }
        }
        trading = settings
        sources[path] = source
        return nil
    }
}

/// One key of the `account:` and `venue:` sections: its place, the comment `bot init` writes
/// above it, how it is shown and how it is set from the file's text.
struct TradingKey {
    var group: String
    var name: String
    var comment: [String]
    var text: (TradingSettings) -> String
    var json: (TradingSettings) -> JSONValue
    /// Sets the value from the file's text, or says what is wrong with it.
    var assign: (String, inout TradingSettings) -> String?

    var path: String { "\(group).\(name)" }

    static let groups = ["account", "venue"]

    static let groupComments: [String: [String]] = [
        "account": [
            "The account the strategy trades (shared by backtest, paper and the dashboard; a flag such",
            "as --capital overrides a value here for one run).",
        ],
        "venue": [
            "The market: `market` picks a venue's NMR perp and with it every default below (binance-usdm:",
            "NMRUSDT's tick, lot, 5 USDT minimum, 0.05 %/0.02 % fees and leverage brackets; lighter: market",
            "74, no fees, maintenance 20 %). The market's values are shown commented out: uncomment a",
            "key to override its value.",
        ],
    ]

    static func money(_ raw: String) -> Notional? { Notional(raw) }

    static var all: [TradingKey] {
        [
            TradingKey(
                group: "account", name: "capital",
                comment: ["Starting capital, in the market's currency (USDT on Binance, USDC on Lighter)."],
                text: { $0.capital.description }, json: { .exact($0.capital) },
                assign: { raw, settings in
                    guard let value = Notional(raw) else {
                        return looksNumeric(raw)
                            ? "must be at most \(CarryLimit.notional) (got \"\(raw)\")" : "must be an amount such as 10000 (got \"\(raw)\")"
                    }
                    guard value.isPositive else { return "must be greater than zero (got \(raw))" }
                    guard value <= CarryLimit.notional else { return "must be at most \(CarryLimit.notional) (got \(raw))" }
                    settings.capital = value
                    return nil
                }),
            TradingKey(
                group: "account", name: "margin_mode",
                comment: ["cross (the whole balance backs the position) or isolated (only the margin posted for it)."],
                text: { $0.marginMode.rawValue }, json: { .string($0.marginMode.rawValue) },
                assign: { raw, settings in
                    guard let mode = MarginMode(rawValue: raw.lowercased()) else { return "must be cross or isolated (got \"\(raw)\")" }
                    settings.marginMode = mode
                    return nil
                }),
            TradingKey(
                group: "venue", name: "market", comment: ["binance-usdm (Binance USD-M NMRUSDT) or lighter (Lighter market 74)."],
                text: { $0.market.name }, json: { .string($0.market.name) },
                assign: { raw, settings in
                    guard let market = MarketPreset.named(raw) else {
                        return "must be one of \(MarketPreset.all.map(\.name).joined(separator: ", ")) (got \"\(raw)\")"
                    }
                    settings = TradingSettings(market: market)
                    return nil
                }),
            TradingKey(
                group: "venue", name: "tick_size", comment: ["Smallest price step."],
                text: { $0.tickSize.description }, json: { .exact($0.tickSize) },
                assign: { raw, settings in
                    guard let value = Price(raw), value.isPositive else {
                        return "must be a positive price step such as 0.001 (got \"\(raw)\")"
                    }
                    settings.tickSize = value
                    return nil
                }),
            TradingKey(
                group: "venue", name: "lot_size",
                comment: ["Smallest size step in NMR; order sizes round down to it (never past a risk cap)."],
                text: { $0.lotSize.description }, json: { .exact($0.lotSize) },
                assign: { raw, settings in
                    guard let value = Quantity(raw), value.isPositive else {
                        return "must be a positive NMR step such as 0.1 (got \"\(raw)\")"
                    }
                    settings.lotSize = value
                    return nil
                }),
            TradingKey(
                group: "venue", name: "min_notional",
                comment: ["An order that opens or adds to a position must be worth at least this (0: no minimum)."],
                text: { $0.minNotional.description }, json: { .exact($0.minNotional) },
                assign: { raw, settings in
                    guard let value = Notional(raw), !value.isNegative, value <= CarryLimit.notional else {
                        return "must be an amount of 0 or more such as 5 (got \"\(raw)\")"
                    }
                    settings.minNotional = value
                    return nil
                }),
            rate("taker_fee", ["Fee rates of taker and maker fills, fractions of the notional (0.0005 = 0.05 %)."], \.takerFee),
            rate("maker_fee", [], \.makerFee),
            TradingKey(
                group: "venue", name: "maintenance",
                comment: [
                    "market: the market's own maintenance schedule (Binance's brackets: 2 % of notional up",
                    "to 5,000, 2.5 % to 25,000, 5 % to 200,000, ...; Lighter's 20 %); or one fraction for every size.",
                ],
                text: { settings in
                    if case .fraction(let rate) = settings.maintenance { return rate.description }
                    return "market"
                },
                json: { settings in
                    if case .fraction(let rate) = settings.maintenance { return .exact(rate) }
                    return .string("market")
                },
                assign: { raw, settings in
                    if raw.lowercased() == "market" {
                        settings.maintenance = .market
                        return nil
                    }
                    guard let value = Rate(raw), value.isPositive, value < .one else {
                        return "must be market or a fraction between 0 and 1, exclusive, such as 0.05 (got \"\(raw)\")"
                    }
                    settings.maintenance = .fraction(value)
                    return nil
                }),
            TradingKey(
                group: "venue", name: "slippage_bps",
                comment: [
                    "Slippage of taker fills: a fixed number of basis points past the price (5 = 0.05 %)..."
                ],
                text: { settings in
                    if case .basisPoints(let bps) = settings.slippage { return bps.description }
                    return "0"
                },
                json: { settings in
                    if case .basisPoints(let bps) = settings.slippage { return .exact(bps) }
                    return .int(0)
                },
                assign: { raw, settings in
                    guard let value = Rate(raw), !value.isNegative, value <= Rate(10_000) else {
                        return "must be basis points from 0 to 10000, such as 5 (got \"\(raw)\")"
                    }
                    if case .volumeShare = settings.slippage, value.isPositive {
                        return "and volume_impact are two slippage models: set one of them"
                    }
                    settings.slippage = .basisPoints(value)
                    return nil
                }),
            TradingKey(
                group: "venue", name: "volume_impact",
                comment: [
                    "...or, for a thin book, impact × (order size / bar volume) of the price, capped at",
                    "volume_cap (0: off). Set one of slippage_bps and volume_impact.",
                ],
                text: { settings in
                    if case .volumeShare(let impact, _) = settings.slippage { return impact.description }
                    return "0"
                },
                json: { settings in
                    if case .volumeShare(let impact, _) = settings.slippage { return .exact(impact) }
                    return .int(0)
                },
                assign: { raw, settings in
                    guard let value = Rate(raw), !value.isNegative, value <= CarryLimit.multiple else {
                        return "must be a number of 0 or more such as 0.1 (got \"\(raw)\")"
                    }
                    if case .basisPoints(let bps) = settings.slippage, bps.isPositive, value.isPositive {
                        return "and slippage_bps are two slippage models: set one of them"
                    }
                    var cap = Rate("0.05")!
                    if case .volumeShare(_, let given) = settings.slippage { cap = given }
                    settings.slippage = value.isZero ? .basisPoints(.zero) : .volumeShare(impact: value, cap: cap)
                    return nil
                }),
            TradingKey(
                group: "venue", name: "volume_cap", comment: [],
                text: { settings in
                    if case .volumeShare(_, let cap) = settings.slippage { return cap.description }
                    return "0.05"
                },
                json: { settings in
                    if case .volumeShare(_, let cap) = settings.slippage { return .exact(cap) }
                    return .exact(Rate("0.05")!)
                },
                assign: { raw, settings in
                    guard let value = Rate(raw), value.isPositive, value <= .one else {
                        return "must be a fraction above 0 and at most 1, such as 0.05 (got \"\(raw)\")"
                    }
                    if case .volumeShare(let impact, _) = settings.slippage {
                        settings.slippage = .volumeShare(impact: impact, cap: value)
                    }
                    return nil
                }),
            TradingKey(
                group: "venue", name: "liquidation_rule",
                comment: [
                    "What a liquidation leaves you: binance-usdm (the venue keeps the remaining margin), lighter,",
                    "conservative, keep-remainder (docs/venues.md).",
                ],
                text: { $0.liquidationRule.name }, json: { .string($0.liquidationRule.name) },
                assign: { raw, settings in
                    guard let rule = LiquidationRule.named(raw) else {
                        return "must be one of \(LiquidationRule.presets.map(\.name).joined(separator: ", ")) (got \"\(raw)\")"
                    }
                    settings.liquidationRule = rule
                    return nil
                }),
        ]
    }

    static func rate(_ name: String, _ comment: [String], _ path: WritableKeyPath<TradingSettings, Rate>) -> TradingKey {
        TradingKey(
            group: "venue", name: name, comment: comment, text: { $0[keyPath: path].description }, json: { .exact($0[keyPath: path]) },
            assign: { raw, settings in
                guard let value = Rate(raw), !value.isNegative, value <= .one else {
                    return raw.hasSuffix("%")
                        ? "must be a fraction: write 0.05 % as 0.0005 (got \"\(raw)\")"
                        : "must be a fraction from 0 to 1 such as 0.0005 (got \"\(raw)\")"
                }
                settings[keyPath: path] = value
                return nil
            })
    }

    static func looksNumeric(_ raw: String) -> Bool {
        let digits = raw.hasPrefix("-") || raw.hasPrefix("+") ? raw.dropFirst() : Substring(raw)
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") }
    }

    /// Applies `values` (dotted key, raw text, line) to the defaults: the market first (it sets
    /// every venue default), then the rest in order.
    static func settings(_ values: [(path: String, raw: String, line: Int?)]) -> (TradingSettings, [BotConfigFile.Problem]) {
        var settings = TradingSettings()
        var problems: [BotConfigFile.Problem] = []
        let keys = all
        let ordered = values.filter { $0.path == "venue.market" } + values.filter { $0.path != "venue.market" }
        for value in ordered {
            guard let key = keys.first(where: { $0.path == value.path }) else { continue }
            if let message = key.assign(value.raw, &settings) {
                problems.append(BotConfigFile.Problem(key: value.path, message: message, line: value.line))
            }
        }
        return (settings, problems)
    }

    /// The two sections as YAML lines with their comments (``BotConfigFile/defaultYAML()``).
    static func yaml(_ settings: TradingSettings) -> [String] {
        var lines: [String] = []
        for group in groups {
            lines.append("")
            lines += groupComments[group, default: []].map { "# " + $0 }
            lines.append("\(group):")
            for key in all where key.group == group {
                lines += key.comment.map { "  # " + $0 }
                // The market's own values are written commented out, so that changing `market`
                // changes them too; uncomment one to override it.
                let commented = group == "venue" && key.name != "market"
                lines.append("  \(commented ? "# " : "")\(key.name): \(key.text(settings))")
            }
        }
        return lines
    }

    /// The two sections as JSON, grouped like the file.
    static func json(_ settings: TradingSettings) -> [(String, JSONValue)] {
        groups.map { group in
            (group, .object(all.filter { $0.group == group }.map { ($0.name, $0.json(settings)) }))
        }
    }
}
