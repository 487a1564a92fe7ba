import PerpEngine
import PerpExecution
import PerpModel
import PerpSimulation
import PerpStore

/// The simulated venue a paper session trades on, in one canonical line stored as the
/// session's venue (``LiveSessionInfo/venue``), so that a restart trades on the same venue:
///
/// `venue=paper capital=10000 tick=0.001 lot=0.1 max_market=1000 min_notional=5 margin=cross
/// maintenance=0.05 taker=0.0005 maker=0.0002 slippage=0`
///
/// The market rules are the venue's own (Binance USD-M `exchangeInfo`, read when the session
/// is created); fees, slippage and margin are the paper settings (decision 0013).
public struct PaperVenueSettings: Sendable, Equatable {
    public var capital: Notional
    public var rules: MarketRules
    public var venue: VenueConfig

    public init(capital: Notional, rules: MarketRules, venue: VenueConfig) {
        self.capital = capital
        self.rules = rules
        var config = venue
        config.lotSize = rules.lotSize
        self.venue = config
    }

    public var text: String {
        "venue=paper capital=\(capital) tick=\(rules.tickSize) lot=\(rules.lotSize) max_market=\(rules.maxMarketQuantity) min_notional=\(rules.minNotional) "
            + PaperSettings.text(venue).split(separator: " ").filter { !$0.hasPrefix("lot=") }.joined(separator: " ")
    }

    /// The settings back from ``text``; `nil` for any other text (a live session's venue).
    public static func parse(_ text: String, symbol: String) -> PaperVenueSettings? {
        var fields: [String: String] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            fields[parts[0]] = parts[1]
        }
        guard fields["venue"] == "paper", let capital = fields["capital"].flatMap(Notional.init), capital.isPositive,
            let tick = fields["tick"].flatMap(Price.init), tick.isPositive, let lot = fields["lot"].flatMap(Quantity.init),
            lot.isPositive, let maxMarket = fields["max_market"].flatMap(Quantity.init),
            let minNotional = fields["min_notional"].flatMap(Notional.init), let venue = PaperSettings.venue(fromText: text)
        else { return nil }
        let rules = MarketRules(symbol: symbol, tickSize: tick, lotSize: lot, maxMarketQuantity: maxMarket, minNotional: minNotional)
        return PaperVenueSettings(capital: capital, rules: rules, venue: venue)
    }

    /// The simulated venue these settings describe, in paper mode (decision 0013), its clock
    /// at `time`.
    public func makeVenue(time: Timestamp, interval: TimeSpan) -> SimulatedExecutionVenue {
        SimulatedExecutionVenue(
            name: "paper", rules: rules, config: venue, balance: capital, time: time, barInterval: interval, mode: .paper)
    }
}

extension LiveTrader {
    /// A stored session's state for a reader (`paper status`, `paper journal`, the live gate):
    /// its inputs replayed through a fresh session built from its stored settings, as `start`
    /// does, without a venue or a run. Throws ``LiveError`` or `StoreError` when the file
    /// cannot be read back.
    public static func replay(store: LiveStore, bot: BotConfig, rules: MarketRules, sizeFraction: Rate) throws -> LiveSession {
        guard let info = try store.info() else {
            throw LiveError.venueSetup("\(store.path) holds no session yet")
        }
        try store.checkIntegrity()
        let tag = ClientOrderID.tag(session: info.name, createdAt: info.created)
        var session = LiveSession(
            kernel: TradingKernel(config: bot, barInterval: info.interval, lotSize: rules.lotSize),
            settings: ExecutionSettings(sessionTag: tag, rules: rules, sizeFraction: sizeFraction), interval: info.interval)
        var failure: LiveInputDecodingError?
        try store.forEachInput { row in
            guard failure == nil else { return }
            do {
                _ = session.apply(try LiveInputCodec.decode((row.seq, row.kind, row.payload)))
            } catch let error as LiveInputDecodingError {
                failure = error
            }
        }
        if let failure { throw LiveError.unreadableInput(path: store.path, failure) }
        return session
    }
}
