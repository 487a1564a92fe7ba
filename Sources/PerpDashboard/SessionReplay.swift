import PerpConfig
import PerpEngine
import PerpExecution
import PerpLive
import PerpModel
import PerpStore

/// One point of a trading session's equity history: the account after a bar's close.
/// Amounts are exact; the chart downsamples them (``MinMaxDownsampler``).
public struct EquityPoint: Sendable, Equatable {
    public var time: Timestamp
    public var price: Price
    /// Wallet plus the open position's unrealised P&L at the close (``LiveSession/equity(at:)``).
    public var equity: Notional
    public var realised: Notional
    public var fees: Notional
    public var unrealised: Notional
    /// The wallet's change not explained by realised P&L and fees: funding settled (and any
    /// transfer on a real account).
    public var funding: Notional
}

/// A paper or live session folded from its stored inputs, the way `LiveTrader` folds them, plus
/// what a reader needs and the session does not keep: the equity after every bar and the last
/// funding rate. New inputs are applied as they are written, so a refresh reads only those.
struct TradingReplay: Sendable {
    private(set) var session: LiveSession
    var lastSeq: Int64?
    private(set) var points: [EquityPoint] = []
    private(set) var lastFunding: FundingRate?
    private(set) var startingWallet: Notional?

    init(bot: BotConfig, info: LiveSessionInfo, rules: MarketRules) {
        let tag = ClientOrderID.tag(session: info.name, createdAt: info.created)
        session = LiveSession(
            kernel: TradingKernel(config: bot, barInterval: info.interval, lotSize: rules.lotSize),
            settings: ExecutionSettings(sessionTag: tag, rules: rules, sizeFraction: info.sizeFraction), interval: info.interval)
    }

    /// Applies the inputs written since the last call. Returns how many.
    mutating func catchUp(_ store: LiveStore) throws -> Int {
        defer {
            // Fills and balances that arrive after the last bar change the account at that
            // close: the last point is the session as it stands.
            if let current, let last = points.last, last.time == current.time { points[points.count - 1] = current }
        }
        return try foldInputs(&self, from: store, after: lastSeq, seq: \.lastSeq) { state, row in
            state.apply(try LiveInputCodec.decode((row.seq, row.kind, row.payload)))
        }
    }

    /// The account now, at the last bar's close.
    var current: EquityPoint? {
        guard let bar = session.lastBar, let balance = session.engine.balance else { return nil }
        let engine = session.engine
        let equity = session.equity(at: bar.close)
        let start = startingWallet ?? balance.wallet
        // wallet = start + realised − fees + funding (+ transfers), so funding is the rest.
        return EquityPoint(
            time: bar.openTime + session.interval, price: bar.close, equity: equity, realised: engine.realizedPnL, fees: engine.fees,
            unrealised: Notional(raw: equity.raw &- balance.wallet.raw),
            funding: Notional(raw: balance.wallet.raw &- start.raw &- engine.realizedPnL.raw &+ engine.fees.raw))
    }

    private mutating func apply(_ input: LiveInput) {
        _ = session.apply(input)
        switch input {
        case .fundingRate(let rate):
            if lastFunding.map({ rate.time > $0.time }) ?? true { lastFunding = rate }
        case .bar:
            guard let balance = session.engine.balance else { return }
            if startingWallet == nil { startingWallet = balance.wallet }
            guard let point = current else { return }
            // One point per bar: a repeated bar time (never stored twice) would replace it.
            if let last = points.last, last.time == point.time {
                points[points.count - 1] = point
            } else {
                points.append(point)
            }
        default:
            break
        }
    }
}

/// One observation of a hedge session: what the chart of stake, short and collateral shows.
public struct HedgePoint: Sendable, Equatable {
    public var time: Timestamp
    public var price: Price
    public var stake: Quantity?
    public var short: Quantity
    public var collateral: Notional
    /// `k·q·P` for the short at the price.
    public var required: Notional
}

/// A hedge session folded from its stored inputs, with its observations kept for the chart.
struct HedgeReplay: Sendable {
    private(set) var session: StakeHedgeSession
    var lastSeq: Int64?
    private(set) var points: [HedgePoint] = []

    init(settings: HedgeSettings) {
        session = StakeHedgeSession(settings: settings)
    }

    mutating func catchUp(_ store: LiveStore) throws -> Int {
        try foldInputs(&self, from: store, after: lastSeq, seq: \.lastSeq) { state, row in
            let input = try HedgeInputCodec.decode((row.seq, row.kind, row.payload))
            _ = state.session.apply(input)
            guard case .observed(let observation) = input else { return }
            let short = observation.position.magnitude
            let required = (Fraction(state.session.settings.collateralMultiple) * Fraction(short) * Fraction(observation.price))
                .roundedIfRepresentable(to: Notional.self, .up)
            state.points.append(
                HedgePoint(
                    time: observation.time, price: observation.price, stake: observation.stake, short: short,
                    collateral: observation.isolatedMargin, required: required ?? .zero))
        }
    }
}

/// Applies each stored input after `after` to `state` (`apply` decodes it), recording its
/// sequence number at `seq`. A row that does not decode stops the fold: what came before it is
/// kept, and its error is thrown. Returns how many inputs were applied.
private func foldInputs<State>(
    _ state: inout State, from store: LiveStore, after: Int64?, seq: WritableKeyPath<State, Int64?>,
    _ apply: (inout State, LiveInputRow) throws -> Void
) throws -> Int {
    var failure: (any Error)?
    var count = 0
    var next = state
    try store.forEachInput(after: after) { row in
        guard failure == nil else { return }
        do {
            try apply(&next, row)
            next[keyPath: seq] = row.seq
            count += 1
        } catch {
            failure = error
        }
    }
    state = next
    if let failure { throw failure }
    return count
}
