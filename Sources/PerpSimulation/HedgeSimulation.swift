import PerpHedge
import PerpMechanics
import PerpModel

/// The stake hedge replayed on a price history (spec §1, "The stake hedge" and "Rebalancing";
/// seed 003): hold `q` NMR staked, short `q` NMR as a perpetual backed by `T = k·q·P` of USDC,
/// rebalance every period, and compare the hedged and unhedged USD value over time.
///
/// **Events, per bar, in this order** (the conventions of ``Backtester``):
/// 1. **Funding.** Every settlement timed after the previous bar's open and at or before this
///    bar's open is settled at this bar's open, marked at the bar's open:
///    `payment = −q × open × rate` paid by the short (``FundingMath/payment(quantity:mark:rate:)``
///    with the short's negative size), so with a positive rate (longs pay shorts, spec §3) the
///    short *receives*. The payment is taken from (or added to) the collateral, and the
///    liquidation price is recomputed. Settlements at or before the first bar's open find no
///    position and are skipped.
/// 2. **Liquidation** against the bar's **high** (the adverse extreme of a short), with the exact
///    liquidation price of the short for the collateral it has now,
///    ``Liquidation/price(position:collateral:maintenance:)`` (`T + q·(E − p) = M·q·p`, spec §1;
///    rounded down, so never past the true price). When `high ≥ P_liq` the whole short is closed
///    at `P_liq` with the taker fee: the collateral left is `max(0, equity at P_liq − fee)`, and a
///    loss beyond it is counted as `shortfall` (the venue's insurance fund; the account never goes
///    negative, spec §3). The money left stays in the hedge account.
/// 3. **Rebalance** at the close of the first bar at or after each boundary `t₀ + n·H` (`t₀` the
///    first bar's open time, `H` the period, `n ≥ 1`; several boundaries inside one data gap give
///    one rebalance): the short's PnL is realised into the collateral and the short is re-opened
///    at the close at the stake's size `q` (a re-open at the same size is a settlement, not a
///    trade, so it pays no fee; only a change of size pays the taker fee), then the collateral is
///    moved to `k·q·P` (rounded up, as ``CollateralPlan`` and ``RebalancePlan`` do): a deposit when
///    the price rose, a withdrawal of the excess when it fell. Both are recorded.
/// 4. **Values** are recorded at the close, after the rebalance.
///
/// **Start.** At the first bar's close the short of `q` is opened at `P₀` and `T₀ = ⌈k·q·P₀⌉` is
/// deposited (plus the opening fee, when there is one, so that the collateral is exactly `T₀`).
///
/// **After a liquidation** the user re-hedges at the next rebalance time (the next boundary's
/// bar, which may be the liquidation bar itself when it is a rebalance bar: the liquidation
/// happens inside the bar, the rebalance at its close). Until then the stake is unhedged and
/// keeps its value. At most one liquidation can therefore happen per period, and since every
/// period starts from the same state for every `k` (short `q` at the close, collateral `k·q·P`),
/// a larger `k` never liquidates more often (see ``survivalTable(series:funding:stake:multiples:periods:maintenance:takerFee:)``).
///
/// **Values.** `unhedged = q × close`. `hedged = q × close + collateral equity − net deposits`,
/// where collateral equity is the collateral plus the short's unrealised PnL and net deposits
/// are all deposits minus all withdrawals so far (the opening deposit included): money the user
/// moved in or out is not a gain or a loss, so a hedge that never liquidates stays at
/// `q × P₀` plus funding received minus fees, whatever the price does. Both start at
/// `q × P₀` (the value before the hedge opened). Drawdowns are taken on the per-bar closes,
/// as fractions of the running peak (`Double`, statistics only; every amount of money is exact).
///
/// **Margin mode.** The hedge account holds one position and its collateral, so isolated and
/// cross margin give the same liquidation price here (spec §1: isolated is the default; cross is
/// what a Lighter public pool uses). The mode is kept in the configuration for the record.
public struct HedgeSimulation: Sendable {
    /// What to simulate.
    public struct Config: Hashable, Sendable {
        /// `q`: NMR staked, and shorted.
        public var stake: Quantity
        /// `k`: the collateral is `k·q·P` after every rebalance.
        public var collateralMultiple: Rate
        /// `H`: the rebalancing period (spec §1 default: monthly, 30 days).
        public var rebalance: TimeSpan
        /// `M`: maintenance margin fraction of notional (Lighter NMR: 0.20).
        public var maintenanceFraction: Rate
        /// Taker fee on traded notional (opening, re-opening after a liquidation, liquidation).
        public var takerFee: Rate
        /// The hedge's margin mode (isolated by default; the collateral is the position's).
        public var marginMode: MarginMode
        /// Record the per-bar value series (reports); off for the survival table.
        public var recordSeries: Bool
        /// What a liquidation leaves in the hedge account (Lighter's by default; docs/venues.md).
        public var liquidationRule: LiquidationRule = .lighter

        public init(
            stake: Quantity, collateralMultiple: Rate, rebalance: TimeSpan = .days(30),
            maintenanceFraction: Rate = HedgeSimulation.lighterMaintenance, takerFee: Rate = .zero,
            marginMode: MarginMode = .isolated, recordSeries: Bool = true
        ) {
            self.stake = stake
            self.collateralMultiple = collateralMultiple
            self.rebalance = rebalance
            self.maintenanceFraction = maintenanceFraction
            self.takerFee = takerFee
            self.marginMode = marginMode
            self.recordSeries = recordSeries
        }

        /// Throws (with a message that says what to change) for a non-positive stake, `k ≤ 0`,
        /// a non-positive period, `M` outside (0, 1) or a negative fee. ``HedgeSimulation/run(_:funding:config:)``
        /// requires a configuration that passes.
        public func validate() throws {
            guard stake.isPositive else { throw HedgeError.invalid("the stake must be a positive number of NMR (got \(stake))") }
            guard collateralMultiple.isPositive else {
                throw HedgeError.invalid("the collateral multiple k must be greater than zero (got \(collateralMultiple))")
            }
            guard rebalance.milliseconds > 0 else { throw HedgeError.invalid("the rebalancing period must be longer than zero") }
            guard maintenanceFraction.isPositive, maintenanceFraction < Rate.one else {
                throw HedgeError.invalid(
                    "the margin fraction must be between 0 and 1, exclusive (got \(maintenanceFraction)); Lighter's NMR market uses 0.2")
            }
            guard !takerFee.isNegative, takerFee < Rate.one else {
                throw HedgeError.invalid("the taker fee must be at least 0 and below 1 (got \(takerFee))")
            }
        }
    }

    /// Whether a hedge of `stake` with collateral multiples `multiples` stays within what the
    /// tool carries over `series` (issue 11): the stake's value at the highest price, plus the
    /// largest collateral `k·q·P` at that price, must be at most ``CarryLimit/notional``, and
    /// every `k` at most ``CarryLimit/multiple``. Then every amount of a run (collateral, fees,
    /// funding, PnL) fits the ledger with room to spare. Throws a ``HedgeError`` that names the
    /// bar otherwise.
    public static func checkCarried(series: CandleSeries, stake: Quantity, multiples: [Rate]) throws {
        for k in multiples where !k.isWithin(CarryLimit.multiple) {
            throw HedgeError.invalid(
                "the collateral multiple k must be at most \(CarryLimit.multiple), the largest multiple the tool carries (got \(k))")
        }
        guard let top = series.highs.indices.max(by: { series.highs[$0] < series.highs[$1] }) else { return }
        let high = Price(raw: series.highs[top])
        try HedgeError.checkCarried(stake: stake, price: high)
        let largest = multiples.max() ?? .zero
        let value = Fraction(stake) * Fraction(high) * (Fraction(Rate.one) + Fraction(largest))
        guard !(Fraction(CarryLimit.notional) < value) else {
            throw HedgeError.invalid(
                "a stake of \(stake) NMR with k = \(largest) needs more than \(CarryLimit.notional) USDC at the bar of \(Timestamp(milliseconds: series.openTimes[top]).iso8601) (high \(high)), beyond what the tool carries; check the prices' unit, --stake and k"
            )
        }
    }

    /// Lighter NMR's maintenance margin fraction, 2000 out of 10,000 = 0.20 (spec §1).
    public static let lighterMaintenance = Rate(basisPointsOf10000: 2000)

    public var config: Config

    public init(config: Config) { self.config = config }

    /// Runs this simulation; see ``run(_:funding:config:)``.
    public func run(_ series: CandleSeries, funding: [FundingRate] = []) -> HedgeSimulationResult {
        HedgeSimulation.run(series, funding: funding, config: config)
    }

    /// Replays the hedge over `series` with `funding` (any order; settlements outside the bars
    /// are ignored). Deterministic: the same inputs give an identical result. The configuration
    /// must pass ``Config/validate()``. An empty series gives an empty result.
    public static func run(_ series: CandleSeries, funding: [FundingRate], config: Config) -> HedgeSimulationResult {
        run(series, sortedFunding: sortedByTime(funding), config: config, stakeValues: nil)
    }

    static func sortedByTime(_ funding: [FundingRate]) -> [FundingRate] {
        zip(funding, funding.dropFirst()).allSatisfy { $0.time <= $1.time } ? funding : funding.sorted { $0.time < $1.time }
    }

    /// `q × close` and `q × high` of every bar, raw ``Notional``: the same for every `k` and
    /// period, so the survival table computes them once.
    struct StakeValues {
        var closes: [Int64]
        var highs: [Int64]

        init(series: CandleSeries, stake: Quantity) {
            let q = stake.raw
            closes = series.closes.map { FixedMath.mulDiv(q, $0, Quantity.scale, .toNearestOrEven) }
            highs = series.highs.map { FixedMath.mulDiv(q, $0, Quantity.scale, .toNearestOrEven) }
        }
    }

    static func run(_ series: CandleSeries, sortedFunding sorted: [FundingRate], config: Config, stakeValues: StakeValues?)
        -> HedgeSimulationResult
    {
        var state = State(config: config, bars: series.count)
        let n = series.count
        guard n > 0 else { return state.result(series: series) }
        let times = series.openTimes
        let opens = series.opens
        let highs = series.highs
        let closes = series.closes
        let values = stakeValues ?? StakeValues(series: series, stake: config.stake)
        let closeValues = values.closes
        let highValues = values.highs
        var fi = 0
        let t0 = times[0]
        // The position opens at the first close: settlements up to the first open find nothing.
        while fi < sorted.count && sorted[fi].dueMilliseconds <= t0 { fi += 1 }
        let period = config.rebalance.milliseconds
        var nextBoundary = t0 + period

        state.rebalance(bar: 0, time: t0, close: closes[0], kind: .open)
        state.record(time: t0, stakeValue: closeValues[0])
        for i in 1..<n {
            let t = times[i]
            // 1. Funding.
            var settled = false
            while fi < sorted.count && sorted[fi].dueMilliseconds <= t {
                if state.isShort {
                    state.settleFunding(rate: sorted[fi].rate, mark: opens[i])
                    settled = true
                }
                fi += 1
            }
            if settled { state.updateLiquidationPrice() }
            // 2. Liquidation against the high.
            if state.isShort { state.checkLiquidation(bar: i, time: t, open: opens[i], high: highs[i], highValue: highValues[i]) }
            // 3. Rebalance at the close.
            if t >= nextBoundary {
                state.rebalance(bar: i, time: t, close: closes[i], kind: state.isShort ? .rebalance : .rehedge)
                nextBoundary = t0 + ((t - t0) / period + 1) * period
            }
            // 4. Values at the close.
            state.record(time: t, stakeValue: closeValues[i])
        }
        return state.result(series: series)
    }

    /// The default grid of ``survivalTable(series:funding:stake:multiples:periods:maintenance:takerFee:)``:
    /// from an under-collateralised 1 to the forum's 2.7332 (spec §1) and beyond.
    public static let defaultMultiples: [Rate] = ["1", "1.5", "2", "2.5", "2.7332", "3", "4"].map { Rate($0)! }
    /// The default periods: 1, 7, 14, 30, 60 and 90 days.
    public static let defaultPeriods: [TimeSpan] = [1, 7, 14, 30, 60, 90].map { TimeSpan.days($0) }

    /// "On this history, which `k` would have survived with which rebalancing period?"
    /// Runs the simulation once per (`k`, period) and returns one row per multiple (in the given
    /// order), one cell per period (in the given order). Series are not recorded, so a year of
    /// 5-minute bars costs a few milliseconds per cell. For the same period a larger `k` never
    /// has more liquidations (each period starts afresh at `k·q·P`; see ``HedgeSimulation``).
    /// The arguments must be valid (positive stake, multiples and periods; `M` in (0, 1)).
    public static func survivalTable(
        series: CandleSeries, funding: [FundingRate], stake: Quantity, multiples: [Rate] = defaultMultiples,
        periods: [TimeSpan] = defaultPeriods, maintenance: Rate = HedgeSimulation.lighterMaintenance, takerFee: Rate = .zero,
        liquidationRule: LiquidationRule = .lighter
    ) -> [[SurvivalCell]] {
        let sorted = sortedByTime(funding)
        let values = StakeValues(series: series, stake: stake)
        return multiples.map { k in
            periods.map { period in
                var config = Config(
                    stake: stake, collateralMultiple: k, rebalance: period, maintenanceFraction: maintenance, takerFee: takerFee,
                    recordSeries: false)
                config.liquidationRule = liquidationRule
                return SurvivalCell(run(series, sortedFunding: sorted, config: config, stakeValues: values))
            }
        }
    }
}

/// One change to the hedge: its opening, a periodic rebalance, a re-hedge after a liquidation,
/// or a liquidation.
public struct HedgeEvent: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// The short opened at the first bar's close.
        case open
        /// A periodic rebalance of an open short.
        case rebalance
        /// The short re-opened at a rebalance time after a liquidation.
        case rehedge
        /// The venue closed the short at its liquidation price.
        case liquidation
    }

    public var kind: Kind
    /// Open time of the bar (a rebalance happens at that bar's close, a liquidation inside it).
    public var time: Timestamp
    public var bar: Int
    /// The close (open, rebalance, re-hedge) or the liquidation price.
    public var price: Price
    /// The short's size before and after, positive NMR.
    public var shortBefore: Quantity
    public var shortAfter: Quantity
    /// Collateral before the event (before the PnL is realised).
    public var collateralBefore: Notional
    /// PnL realised into the collateral.
    public var realizedPnL: Notional
    public var fee: Notional
    /// Collateral moved in (positive, a deposit) or out (negative, a withdrawal).
    public var transfer: Notional
    /// Collateral after the event.
    public var collateralAfter: Notional
    /// Loss beyond the collateral (liquidations only).
    public var shortfall: Notional
    /// The short's liquidation price after the event (`nil` when flat).
    public var liquidationPrice: Price?
    /// Liquidations: what the venue kept of the margin left (``LiquidationRule``).
    public var forfeited: Notional = .zero

    public init(
        kind: Kind, time: Timestamp, bar: Int, price: Price, shortBefore: Quantity, shortAfter: Quantity, collateralBefore: Notional,
        realizedPnL: Notional, fee: Notional, transfer: Notional, collateralAfter: Notional, shortfall: Notional, liquidationPrice: Price?
    ) {
        self.kind = kind
        self.time = time
        self.bar = bar
        self.price = price
        self.shortBefore = shortBefore
        self.shortAfter = shortAfter
        self.collateralBefore = collateralBefore
        self.realizedPnL = realizedPnL
        self.fee = fee
        self.transfer = transfer
        self.collateralAfter = collateralAfter
        self.shortfall = shortfall
        self.liquidationPrice = liquidationPrice
    }
}

/// The hedged and unhedged value after every bar's close, as raw ``Notional`` values
/// (scale 10^8), column by column.
public struct HedgeValueSeries: Hashable, Sendable {
    /// Bar open times, epoch milliseconds.
    public var times: [Int64] = []
    /// `q × close + collateral equity − net deposits`.
    public var hedged: [Int64] = []
    /// `q × close`.
    public var unhedged: [Int64] = []
    /// Collateral plus the short's unrealised PnL.
    public var collateralEquity: [Int64] = []
    /// Funding paid by the short so far (negative: received), after the bar's settlements.
    public var fundingPaid: [Int64] = []

    public init() {}

    public var count: Int { times.count }

    mutating func reserveCapacity(_ count: Int) {
        times.reserveCapacity(count)
        hedged.reserveCapacity(count)
        unhedged.reserveCapacity(count)
        collateralEquity.reserveCapacity(count)
        fundingPaid.reserveCapacity(count)
    }
}

/// What a hedge simulation produced (see ``HedgeSimulation`` for every definition).
public struct HedgeSimulationResult: Sendable, Equatable {
    public var config: HedgeSimulation.Config
    public var bars: Int
    /// Open times of the first and last bar (`nil` for an empty series).
    public var firstBar: Timestamp?
    public var lastBar: Timestamp?
    /// First and last close.
    public var initialPrice: Price
    public var finalPrice: Price
    /// `T₀ = ⌈k·q·P₀⌉`.
    public var initialCollateral: Notional
    public var liquidations: Int
    /// Periodic rebalances and re-hedges (the opening is not counted).
    public var rebalances: Int
    /// Every deposit, the opening one included.
    public var collateralDeposited: Notional
    public var collateralWithdrawn: Notional
    /// Net funding paid by the short (negative: received).
    public var fundingPaid: Notional
    public var fundingSettlements: Int
    public var feesPaid: Notional
    /// Losses beyond the collateral at liquidations (the venue's insurance fund).
    public var shortfall: Notional
    /// Margin the venue kept at liquidations (``HedgeSimulation/Config/liquidationRule``).
    public var forfeited: Notional = .zero
    /// The short's PnL realised at rebalances and liquidations.
    public var realizedPnL: Notional
    public var hedgedStart: Notional
    public var hedgedEnd: Notional
    public var unhedgedStart: Notional
    public var unhedgedEnd: Notional
    /// Largest fall from a running peak of the values at the closes, as a fraction of the peak.
    public var hedgedMaxDrawdown: Double
    public var unhedgedMaxDrawdown: Double
    /// Largest fall of the collateral equity (marked at each bar's high, or what a liquidation
    /// left) below its level right after the last rebalance, as a fraction of that level:
    /// `(g − 1)/k` for a rise `g` without funding; 1 is bankruptcy.
    public var maxCollateralDrawdown: Double
    /// Largest `(high − E)/(P_liq − E)`: how far toward its liquidation price the short got
    /// (`E` the last rebalance price); 1 or more means liquidated.
    public var maxLiquidationProximity: Double
    /// The collateral balance at the end, and with the short's unrealised PnL.
    public var finalCollateral: Notional
    public var finalCollateralEquity: Notional
    /// Whether the short is open after the last bar (false when liquidated since the last
    /// rebalance time).
    public var shortOpenAtEnd: Bool
    public var events: [HedgeEvent]
    /// Empty unless ``HedgeSimulation/Config/recordSeries`` is set.
    public var values: HedgeValueSeries

    /// Deposits minus withdrawals.
    public var netDeposits: Notional { collateralDeposited - collateralWithdrawn }
    /// `hedgedEnd − hedgedStart`: funding received, fees and liquidation losses.
    public var hedgedChange: Notional { hedgedEnd - hedgedStart }
    public var unhedgedChange: Notional { unhedgedEnd - unhedgedStart }
    public var liquidationEvents: [HedgeEvent] { events.filter { $0.kind == .liquidation } }
}

/// One cell of the survival table: `k` and the period, and how the hedge fared.
public struct SurvivalCell: Hashable, Sendable {
    public var collateralMultiple: Rate
    public var period: TimeSpan
    public var liquidations: Int
    public var rebalances: Int
    /// See ``HedgeSimulationResult/maxCollateralDrawdown``.
    public var maxCollateralDrawdown: Double
    /// See ``HedgeSimulationResult/maxLiquidationProximity``.
    public var maxLiquidationProximity: Double
    /// Every deposit (the opening one included), and withdrawals.
    public var deposited: Notional
    public var withdrawn: Notional
    /// Net funding paid by the short (negative: received).
    public var fundingPaid: Notional
    public var shortfall: Notional

    public var survived: Bool { liquidations == 0 }

    public init(_ result: HedgeSimulationResult) {
        collateralMultiple = result.config.collateralMultiple
        period = result.config.rebalance
        liquidations = result.liquidations
        rebalances = result.rebalances
        maxCollateralDrawdown = result.maxCollateralDrawdown
        maxLiquidationProximity = result.maxLiquidationProximity
        deposited = result.collateralDeposited
        withdrawn = result.collateralWithdrawn
        fundingPaid = result.fundingPaid
        shortfall = result.shortfall
    }
}

// MARK: - The simulation's state

extension HedgeSimulation {
    /// Account state in raw fixed-point for the per-bar loop.
    struct State {
        let config: Config
        let q: Int64
        var position = Position()
        /// Raw ``Notional``: the hedge account's collateral balance.
        var collateral: Int64 = 0
        /// Raw liquidation price of the open short; 0 when flat (or never liquidated: none).
        var liquidation: Int64 = 0
        /// Raw entry (last rebalance) price of the open short.
        var entry: Int64 = 0
        /// Collateral equity right after the last rebalance.
        var reference: Int64 = 0
        var deposited: Int64 = 0
        var withdrawn: Int64 = 0
        var fees: Int64 = 0
        var fundingPaid: Int64 = 0
        var settlements = 0
        var shortfall: Int64 = 0
        var forfeited: Int64 = 0
        var realized: Int64 = 0
        var liquidations = 0
        var rebalances = 0
        var events: [HedgeEvent] = []
        var values = HedgeValueSeries()
        var hedgedStart: Int64 = 0
        var hedgedLast: Int64 = 0
        var unhedgedLast: Int64 = 0
        var hedgedPeak: Int64 = 0
        var unhedgedPeak: Int64 = 0
        var hedgedDrawdown = 0.0
        var unhedgedDrawdown = 0.0
        var collateralDrawdown = 0.0
        var proximity = 0.0
        var initialCollateral: Int64 = 0

        init(config: Config, bars: Int) {
            self.config = config
            q = config.stake.raw
            if config.recordSeries { values.reserveCapacity(bars) }
        }

        var isShort: Bool { !position.isFlat }

        /// `q × price`, raw ``Notional``.
        @inline(__always)
        func value(_ price: Int64) -> Int64 { FixedMath.mulDiv(q, price, Quantity.scale, .toNearestOrEven) }

        mutating func updateLiquidationPrice() {
            liquidation =
                Liquidation.price(position: position, collateral: Notional(raw: collateral), maintenance: config.maintenanceFraction)?.raw
                ?? 0
        }

        mutating func settleFunding(rate: Rate, mark: Int64) {
            let payment = FundingMath.payment(quantity: position.quantity, mark: Price(raw: mark), rate: rate).raw
            collateral -= payment
            fundingPaid += payment
            settlements += 1
        }

        /// Step 2: liquidation against the high, or the drawdown and proximity it reached.
        mutating func checkLiquidation(bar: Int, time: Int64, open: Int64, high: Int64, highValue: Int64) {
            // Through a gap the short closes at the open (spec §4). No positive liquidation price:
            // the funding has already taken the short past bankruptcy, so it closes at the open.
            let hit = Liquidation.fillPrice(side: .short, liquidation: liquidation == 0 ? 1 : liquidation, open: open, adverse: high) ?? 0
            let approach = liquidation > entry ? Double(high - entry) / Double(liquidation - entry) : (hit > 0 ? 1 : 0)
            if approach > proximity { proximity = approach }
            if hit > 0 {
                liquidate(bar: bar, time: time, price: hit)
                return
            }
            // Collateral equity at the high: C + (−q·high) − basis.
            let worst = collateral - highValue - position.costBasis.raw
            noteCollateral(worst)
        }

        mutating func noteCollateral(_ equity: Int64) {
            guard equity < reference, reference > 0 else { return }
            let fall = Double(reference - equity) / Double(reference)
            if fall > collateralDrawdown { collateralDrawdown = fall }
        }

        /// Closes the short at `price` under the configured ``LiquidationRule``
        /// (``Liquidation/settle(position:collateral:price:takerFee:rule:)``, the backtester's
        /// and the pool's rule too): the collateral becomes what the rule returns.
        mutating func liquidate(bar: Int, time: Int64, price: Int64) {
            let before = collateral
            let shortBefore = position.quantity.magnitude
            let px = Price(raw: price)
            let settlement = Liquidation.settle(
                position: position, collateral: Notional(raw: collateral), price: px, takerFee: config.takerFee,
                rule: config.liquidationRule)
            let fee = settlement.fee.raw
            let pnl = settlement.realizedPnL.raw
            position = Position()
            collateral = settlement.returned.raw
            let lost = settlement.shortfall.raw
            forfeited += settlement.forfeited.raw
            shortfall += lost
            fees += fee
            realized += pnl
            liquidations += 1
            liquidation = 0
            noteCollateral(collateral)
            events.append(
                HedgeEvent(
                    kind: .liquidation, time: Timestamp(milliseconds: time), bar: bar, price: px, shortBefore: shortBefore,
                    shortAfter: .zero,
                    collateralBefore: Notional(raw: before), realizedPnL: Notional(raw: pnl), fee: Notional(raw: fee), transfer: .zero,
                    collateralAfter: Notional(raw: collateral), shortfall: Notional(raw: lost), liquidationPrice: nil))
            events[events.count - 1].forfeited = settlement.forfeited
        }

        /// Step 3: realise the PnL, (re-)open the short of `q` at the close, move the collateral
        /// to `⌈k·q·P⌉`.
        mutating func rebalance(bar: Int, time: Int64, close: Int64, kind: HedgeEvent.Kind) {
            let px = Price(raw: close)
            let before = collateral
            let shortBefore = position.quantity.magnitude
            var pnl: Int64 = 0
            if isShort {
                pnl = position.unrealizedPnL(mark: px).raw
                collateral += pnl
                realized += pnl
                position = Position()
            }
            let traded = Quantity(raw: abs(q - shortBefore.raw))
            let fee = px.times(traded).times(config.takerFee).raw
            collateral -= fee
            fees += fee
            position.apply(delta: Quantity(raw: -q), price: px)
            let target = (Fraction(config.collateralMultiple) * Fraction(config.stake) * Fraction(px)).rounded(to: Notional.self, .up).raw
            let transfer = target - collateral
            if transfer > 0 { deposited += transfer } else { withdrawn -= transfer }
            collateral = target
            reference = target
            entry = close
            updateLiquidationPrice()
            if kind == .open {
                initialCollateral = target
                hedgedStart = value(close)
                hedgedPeak = hedgedStart
                unhedgedPeak = hedgedStart
            } else {
                rebalances += 1
            }
            events.append(
                HedgeEvent(
                    kind: kind, time: Timestamp(milliseconds: time), bar: bar, price: px, shortBefore: shortBefore,
                    shortAfter: config.stake,
                    collateralBefore: Notional(raw: before), realizedPnL: Notional(raw: pnl), fee: Notional(raw: fee),
                    transfer: Notional(raw: transfer), collateralAfter: Notional(raw: target), shortfall: .zero,
                    liquidationPrice: liquidation > 0 ? Price(raw: liquidation) : nil))
        }

        var netDeposits: Int64 { deposited - withdrawn }

        func collateralEquity(stakeValue: Int64) -> Int64 {
            // The short's unrealised PnL: (−q)·close − basis, and (−q)·close = −(q·close) exactly.
            isShort ? collateral - stakeValue - position.costBasis.raw : collateral
        }

        /// Step 4: the values at the close and the running drawdowns.
        mutating func record(time: Int64, stakeValue: Int64) {
            let equity = collateralEquity(stakeValue: stakeValue)
            let hedged = stakeValue + equity - netDeposits
            hedgedLast = hedged
            unhedgedLast = stakeValue
            if hedged > hedgedPeak {
                hedgedPeak = hedged
            } else if hedgedPeak > 0, hedged < hedgedPeak {
                let fall = Double(hedgedPeak - hedged) / Double(hedgedPeak)
                if fall > hedgedDrawdown { hedgedDrawdown = fall }
            }
            if stakeValue > unhedgedPeak {
                unhedgedPeak = stakeValue
            } else if unhedgedPeak > 0, stakeValue < unhedgedPeak {
                let fall = Double(unhedgedPeak - stakeValue) / Double(unhedgedPeak)
                if fall > unhedgedDrawdown { unhedgedDrawdown = fall }
            }
            if config.recordSeries {
                values.times.append(time)
                values.hedged.append(hedged)
                values.unhedged.append(stakeValue)
                values.collateralEquity.append(equity)
                values.fundingPaid.append(fundingPaid)
            }
        }

        func result(series: CandleSeries) -> HedgeSimulationResult {
            let n = series.count
            let finalClose = n > 0 ? series.closes[n - 1] : 0
            var result = HedgeSimulationResult(
                config: config, bars: n, firstBar: n > 0 ? Timestamp(milliseconds: series.openTimes[0]) : nil,
                lastBar: n > 0 ? Timestamp(milliseconds: series.openTimes[n - 1]) : nil,
                initialPrice: Price(raw: n > 0 ? series.closes[0] : 0), finalPrice: Price(raw: finalClose),
                initialCollateral: Notional(raw: initialCollateral), liquidations: liquidations, rebalances: rebalances,
                collateralDeposited: Notional(raw: deposited), collateralWithdrawn: Notional(raw: withdrawn),
                fundingPaid: Notional(raw: fundingPaid),
                fundingSettlements: settlements, feesPaid: Notional(raw: fees), shortfall: Notional(raw: shortfall),
                realizedPnL: Notional(raw: realized),
                hedgedStart: Notional(raw: hedgedStart), hedgedEnd: Notional(raw: hedgedLast), unhedgedStart: Notional(raw: hedgedStart),
                unhedgedEnd: Notional(raw: unhedgedLast), hedgedMaxDrawdown: hedgedDrawdown, unhedgedMaxDrawdown: unhedgedDrawdown,
                maxCollateralDrawdown: collateralDrawdown, maxLiquidationProximity: proximity, finalCollateral: Notional(raw: collateral),
                finalCollateralEquity: Notional(raw: n > 0 ? collateralEquity(stakeValue: value(finalClose)) : collateral),
                shortOpenAtEnd: isShort,
                events: events, values: values)
            result.forfeited = Notional(raw: forfeited)
            return result
        }
    }
}
