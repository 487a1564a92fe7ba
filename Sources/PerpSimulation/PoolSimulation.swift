import PerpHedge
import PerpMechanics
import PerpModel

/// Settings of a pool simulation (spec §2). Amounts are exact; defaults follow spec §1 and §5
/// (k = 2.7332 from g = 3.06, α = 1.1, M = 0.2; Lighter NMR lot 0.01).
public struct PoolSimulationConfig: Hashable, Sendable {
    /// Seeds the generator of deposit and withdrawal times, depositors and sizes.
    public var seed: UInt64
    /// Number of depositors who may deposit and withdraw (besides the operator).
    public var depositors: Int = 10
    /// Number of random deposit or withdrawal requests over the series.
    public var events: Int = 50
    /// `k`: the pool keeps a short of notional `NAV / k`.
    public var collateralMultiple: Rate = Rate("2.7332")!
    /// `M`: the venue's maintenance margin fraction (cross margin, one position).
    public var maintenanceFraction: Rate = Rate("0.2")!
    /// The short is resized at this period as well as after every deposit and withdrawal.
    public var rebalanceEvery: TimeSpan = .days(30)
    /// Operator fee on the profit of withdrawn shares.
    public var feeRate: Rate = Rate("0.1")!
    /// Least fraction of shares the operator keeps.
    public var minimumOperatorShare: Rate = Rate("0.05")!
    /// The operator's seed deposit at the first bar.
    public var operatorDeposit: Notional = Notional(1000)
    /// After a deposit dilutes the operator below its minimum share, the operator deposits what
    /// restores it.
    public var operatorTopUp: Bool = true
    /// Deposit sizes are uniform in whole cents between these.
    public var minDeposit: Notional = Notional(100)
    public var maxDeposit: Notional = Notional(10_000)
    /// Chance that a request by a depositor who holds shares is a withdrawal (else a deposit).
    public var withdrawalProbability: Rate = Rate("0.4")!
    /// The short is a whole number of lots, rounded down (never more than `NAV / k`).
    public var lotSize: Quantity = MarketSpec.lighterNMR.lotSize
    /// What a liquidation leaves the pool (Lighter's; docs/venues.md).
    public var liquidationRule: LiquidationRule = MarketSpec.lighterNMR.liquidationRule

    public init(seed: UInt64) { self.seed = seed }

    func validate() throws(PoolSimulationError) {
        guard depositors >= 1 else { throw .invalid("the number of depositors must be at least 1 (got \(depositors))") }
        guard events >= 0 else { throw .invalid("the number of events cannot be negative (got \(events))") }
        guard maintenanceFraction.isPositive, maintenanceFraction < Rate.one else {
            throw .invalid(
                "the margin fraction must be between 0 and 1, exclusive (got \(maintenanceFraction)); Lighter's NMR market uses 0.2")
        }
        guard collateralMultiple > maintenanceFraction else {
            throw .invalid(
                "the collateral multiple k must exceed the margin fraction M (got k = \(collateralMultiple), M = \(maintenanceFraction)): a short of NAV / k would be liquidated at once"
            )
        }
        guard rebalanceEvery.milliseconds > 0 else { throw .invalid("the rebalancing period must be positive") }
        guard !feeRate.isNegative, feeRate < Rate.one else { throw .invalid("the operator fee must be in [0, 1) (got \(feeRate))") }
        guard !minimumOperatorShare.isNegative, minimumOperatorShare < Rate.one else {
            throw .invalid("the minimum operator share must be in [0, 1) (got \(minimumOperatorShare))")
        }
        guard operatorDeposit.isPositive else { throw .invalid("the operator's seed deposit must be positive (got \(operatorDeposit))") }
        guard minDeposit.raw >= Notional("0.01")!.raw, minDeposit <= maxDeposit else {
            throw .invalid("deposit sizes need 0.01 ≤ minimum ≤ maximum (got \(minDeposit) to \(maxDeposit))")
        }
        guard !withdrawalProbability.isNegative, withdrawalProbability <= Rate.one else {
            throw .invalid("the withdrawal probability must be in [0, 1] (got \(withdrawalProbability))")
        }
        guard lotSize.isPositive else { throw .invalid("the lot size must be positive (got \(lotSize))") }
    }
}

/// Why a simulation could not run.
public enum PoolSimulationError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case tooFewBars(Int)

    public var description: String {
        switch self {
        case .invalid(let message): return message
        case .tooFewBars(let count): return "the pool simulation needs at least two price bars (got \(count))"
        }
    }
}

/// One thing that happened to the pool's shares or its short.
public struct PoolEvent: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case deposit
        case withdrawal
        /// The operator's deposit that restores its minimum share (or its seed deposit).
        case operatorDeposit = "operator-deposit"
        /// A request the ledger refused (see `note`).
        case refused
        /// The venue closed the short at its liquidation price.
        case liquidation
    }

    /// When it was executed: the open time of the bar at whose open price it was priced.
    public var time: Timestamp
    public var kind: Kind
    public var depositor: DepositorID?
    /// Deposit: USDC paid in. Withdrawal: USDC paid out (after the fee). Liquidation: the NAV lost.
    public var amount: Notional
    /// Deposit: shares minted. Withdrawal: shares redeemed (burned plus the fee's).
    public var shares: Shares
    /// Withdrawal: the operator fee's value.
    public var fee: Notional
    /// The price it was executed at.
    public var price: Price
    public var navAfter: Notional
    public var note: String

    public init(
        time: Timestamp, kind: Kind, depositor: DepositorID?, amount: Notional, shares: Shares, fee: Notional, price: Price,
        navAfter: Notional,
        note: String = ""
    ) {
        self.time = time
        self.kind = kind
        self.depositor = depositor
        self.amount = amount
        self.shares = shares
        self.fee = fee
        self.price = price
        self.navAfter = navAfter
        self.note = note
    }
}

/// One resize of the short to `NAV / k`.
public struct PoolRebalance: Hashable, Sendable {
    public enum Reason: String, Hashable, Sendable, CaseIterable {
        case period
        case deposit
        case withdrawal
        /// Restoring the hedge after a liquidation, at that bar's close.
        case liquidation
    }

    public var time: Timestamp
    public var reason: Reason
    public var price: Price
    public var nav: Notional
    /// NMR short after the resize (positive).
    public var short: Quantity
    /// NMR sold (positive) or bought back (negative).
    public var traded: Quantity
    /// The short's liquidation price after the resize (`nil` when flat).
    public var liquidationPrice: Price?
}

/// A broken invariant (there should be none).
public struct PoolInvariantViolation: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// `Σ claims > NAV`, or `NAV − Σ claims ≥ holders × 10⁻⁸`.
        case claimsVersusNAV = "claims-vs-nav"
        /// A deposit or withdrawal moved another holder's claim down, or up by more than dust.
        case otherHolderChanged = "other-holder-changed"
        /// The actor got more, or less by more than dust, than its share of NAV.
        case actorMispriced = "actor-mispriced"
    }

    public var time: Timestamp
    public var kind: Kind
    public var depositor: DepositorID?
    public var detail: String

    public var description: String { "\(time.iso8601) \(kind.rawValue)\(depositor.map { " \($0)" } ?? ""): \(detail)" }
}

/// One holder's outcome.
public struct PoolHolderResult: Hashable, Sendable {
    public var depositor: DepositorID
    public var isOperator: Bool
    public var deposited: Notional
    public var withdrawn: Notional
    public var finalShares: Shares
    /// `⌊shares × final NAV / total shares⌋`.
    public var finalClaim: Notional
    /// Operator fees this holder paid.
    public var feesPaid: Notional
    /// `withdrawn + finalClaim − deposited`.
    public var pnl: Notional { withdrawn + finalClaim - deposited }
}

/// Everything a pool simulation produced. Deterministic: the same series, funding and
/// configuration (seed included) give an equal result.
public struct PoolSimulationResult: Sendable, Equatable {
    public var bars: Int
    public var firstTime: Timestamp
    public var lastTime: Timestamp
    public var events: [PoolEvent]
    public var rebalanceLog: [PoolRebalance]
    public var finalPrice: Price
    public var finalNAV: Notional
    /// NMR short at the end (positive).
    public var finalShort: Quantity
    public var holders: [PoolHolderResult]
    public var totalShares: Shares
    public var operatorFeesEarned: Notional
    public var liquidations: Int
    /// Losses beyond the pool's equity at liquidations (borne by the venue's insurance fund).
    public var insuranceShortfall: Notional
    /// The pool's margin the venue kept at liquidations (``PoolSimulationConfig/liquidationRule``).
    public var marginForfeited: Notional = .zero
    /// The rule the liquidations followed.
    public var liquidationRule: LiquidationRule = .lighter
    /// Net funding received by the short (negative: paid).
    public var fundingReceived: Notional
    public var fundingSettlements: Int
    /// The largest rounding deviation seen: `NAV − Σ claims`, and any change of a non-actor's
    /// claim across a deposit or withdrawal.
    public var maxInvariantError: Notional
    public var violations: [PoolInvariantViolation]
    /// Audits of `Σ claims` against NAV (after every event and at every bar's close).
    public var invariantChecks: Int
    /// The final ledger.
    public var ledger: PoolLedger

    public var rebalances: Int { rebalanceLog.count }
    public var depositEvents: Int { events.filter { $0.kind == .deposit }.count }
    public var withdrawalEvents: Int { events.filter { $0.kind == .withdrawal }.count }
    public var refusedEvents: Int { events.filter { $0.kind == .refused }.count }
}

/// A pool of USDC that keeps an NMR short of notional `NAV / k` (spec §2; seed 003 "Extension"),
/// simulated bar by bar over a price history with random deposits and withdrawals.
///
/// The pool's account (cross margin, one position) holds USDC collateral and the short:
/// `NAV = collateral + unrealised PnL` at the current price. Per bar, in this order:
/// 1. **Gap liquidation**: if the bar opens at or above the short's liquidation price, the short
///    is closed at the open.
/// 2. **Funding**: every settlement timed after the previous bar's open and at or before this
///    bar's open is paid at this bar's open: `payment = position × mark × rate` (positive rate:
///    longs pay, so the short receives).
/// 3. **Requests** timed at or before this bar's open, at the open's NAV: deposits mint shares,
///    withdrawals burn them (``PoolLedger``); after a deposit that leaves the operator below its
///    minimum share, the operator tops up. The short is resized to `NAV / k` after each.
/// 4. **Period rebalance** when the period has elapsed since the last one (the first at the
///    first bar, after the operator's seed deposit).
/// 5. **Liquidation** when the bar's high reaches the short's liquidation price
///    `P_liq = (collateral + q·E) / (q·(1 + M))` (cross margin, rounded down toward the market):
///    the short is closed at that price (no liquidation fee is modelled), a loss beyond the
///    equity is the venue's insurance fund's (NAV never goes below zero), and the hedge is
///    restored at the bar's close.
/// 6. **Audit** at the close: `Σ claims ≤ NAV` and `NAV − Σ claims < holders × 10⁻⁸`.
///
/// Around every deposit and withdrawal the simulation also checks that no other holder's claim
/// falls, or rises by more than rounding dust, and that the actor gets its share of NAV to the
/// last 10⁻⁸. Violations are recorded (there should be none). Trades pay no fee (Lighter's
/// standard accounts trade without fees).
public struct PoolSimulation: Sendable {
    public var config: PoolSimulationConfig

    public init(config: PoolSimulationConfig) { self.config = config }

    /// The random requests, fixed by the seed and the series' time range before the run starts.
    struct Request {
        var time: Int64
        var depositor: Int
        var choice: UInt64
        var size: UInt64
        var kind: UInt64
    }

    static func requests(_ config: PoolSimulationConfig, from first: Int64, to last: Int64) -> [Request] {
        var generator = SplitMix64(seed: config.seed)
        let span = UInt64(last - first) + 1
        var requests: [Request] = []
        requests.reserveCapacity(config.events)
        for _ in 0..<config.events {
            let time = first + Int64(generator.next(below: span))
            let depositor = Int(generator.next(below: UInt64(config.depositors)))
            let choice = generator.next(below: UInt64(Rate.scale))
            let size = generator.next()
            let kind = generator.next(below: 3)
            requests.append(Request(time: time, depositor: depositor, choice: choice, size: size, kind: kind))
        }
        // Stable order by time (ties keep generation order).
        return requests.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
    }

    /// The depositors' names: `d01`, `d02`, … (zero-padded so they sort).
    public static func depositorName(_ index: Int, of count: Int) -> DepositorID {
        let width = String(count).count
        let digits = String(index + 1)
        return DepositorID("d" + String(repeating: "0", count: max(0, width - digits.count)) + digits)
    }

    public static let operatorID: DepositorID = "operator"

    /// Runs over `candles` (opens, highs and closes are used) with optional funding rates.
    public func run(_ candles: CandleSeries, funding: [FundingRate] = []) throws(PoolSimulationError) -> PoolSimulationResult {
        try config.validate()
        guard candles.count >= 2 else { throw .tooFewBars(candles.count) }
        let ledger: PoolLedger
        do {
            ledger = try PoolLedger(
                operator: PoolSimulation.operatorID, feeRate: config.feeRate, minimumOperatorShare: config.minimumOperatorShare)
        } catch { throw .invalid(error.description) }
        var state = PoolRun(config: config, ledger: ledger)
        return state.run(candles, funding: funding.sorted { $0.time < $1.time })
    }
}

/// The mutable state of one run.
struct PoolRun {
    let config: PoolSimulationConfig
    var ledger: PoolLedger
    /// Wallet balance: deposits − payouts + realised PnL + funding.
    var cash = Notional.zero
    var position = Position()
    /// Liquidation price of the short; `nil` when flat.
    var liquidationPrice: Price?

    var events: [PoolEvent] = []
    var rebalances: [PoolRebalance] = []
    var violations: [PoolInvariantViolation] = []
    var maxError: Int64 = 0
    var checks = 0
    var liquidations = 0
    var shortfall = Notional.zero
    var forfeited = Notional.zero
    var fundingPaid = Notional.zero
    var settlements = 0
    var names: [DepositorID]

    init(config: PoolSimulationConfig, ledger: PoolLedger) {
        self.config = config
        self.ledger = ledger
        names = (0..<config.depositors).map { PoolSimulation.depositorName($0, of: config.depositors) }
    }

    /// Equity at `price`, floored at zero.
    func nav(at price: Price) -> Notional {
        let equity = cash + position.unrealizedPnL(mark: price)
        return equity.isNegative ? .zero : equity
    }

    mutating func run(_ candles: CandleSeries, funding: [FundingRate]) -> PoolSimulationResult {
        let times = candles.openTimes
        let n = candles.count
        let requests = PoolSimulation.requests(config, from: times[0], to: times[n - 1])
        var nextRequest = 0
        var nextFunding = 0
        // Settlements before the first bar find no position.
        while nextFunding < funding.count && funding[nextFunding].dueMilliseconds < times[0] { nextFunding += 1 }
        var nextRebalance = Int64.min

        for i in 0..<n {
            let t = times[i]
            let time = Timestamp(milliseconds: t)
            let open = Price(raw: candles.opens[i])

            // 1. Gap liquidation: a bar opening at or past the liquidation price closes the short at
            // the open (the backtester's and the hedge's rule, ``Liquidation/fillPrice``).
            if let liquidation = liquidationPrice,
                let price = Liquidation.fillPrice(side: .short, liquidation: liquidation.raw, open: open.raw, adverse: open.raw)
            {
                liquidate(at: Price(raw: price), time: time)
                rebalance(price: open, time: time, reason: .liquidation)
            }

            // 2. Funding at the open.
            while nextFunding < funding.count && funding[nextFunding].dueMilliseconds <= t {
                let rate = funding[nextFunding]
                nextFunding += 1
                guard !position.isFlat else { continue }
                let payment = FundingMath.payment(quantity: position.quantity, mark: open, rate: rate.rate)
                cash -= payment
                fundingPaid += payment
                settlements += 1
                updateLiquidationPrice()
                if let liquidation = liquidationPrice,
                    let price = Liquidation.fillPrice(side: .short, liquidation: liquidation.raw, open: open.raw, adverse: open.raw)
                {
                    liquidate(at: Price(raw: price), time: time)
                    rebalance(price: open, time: time, reason: .liquidation)
                }
            }

            // 3. The operator's seed deposit, then the requests due.
            if i == 0 {
                deposit(PoolSimulation.operatorID, amount: config.operatorDeposit, price: open, time: time, kind: .operatorDeposit)
            }
            while nextRequest < requests.count && requests[nextRequest].time <= t {
                handle(requests[nextRequest], price: open, time: time)
                nextRequest += 1
            }

            // 4. Period rebalance.
            if t >= nextRebalance {
                rebalance(price: open, time: time, reason: .period)
                nextRebalance = t + config.rebalanceEvery.milliseconds
            }

            // 5. Liquidation at the bar's high.
            if let liquidation = liquidationPrice,
                let price = Liquidation.fillPrice(side: .short, liquidation: liquidation.raw, open: open.raw, adverse: candles.highs[i])
            {
                liquidate(at: Price(raw: price), time: time)
                rebalance(price: Price(raw: candles.closes[i]), time: time, reason: .liquidation)
            }

            // 6. Audit at the close.
            audit(nav: nav(at: Price(raw: candles.closes[i])), time: time)
        }

        let finalPrice = Price(raw: candles.closes[n - 1])
        let finalNAV = nav(at: finalPrice)
        let holders = ledger.accounts.map { account in
            PoolHolderResult(
                depositor: account.depositor, isOperator: account.depositor == ledger.operatorID, deposited: account.deposited,
                withdrawn: account.withdrawn, finalShares: account.shares, finalClaim: ledger.value(of: account.shares, nav: finalNAV),
                feesPaid: account.feesPaid)
        }
        var result = PoolSimulationResult(
            bars: n, firstTime: Timestamp(milliseconds: times[0]), lastTime: Timestamp(milliseconds: times[n - 1]), events: events,
            rebalanceLog: rebalances, finalPrice: finalPrice, finalNAV: finalNAV, finalShort: -position.quantity, holders: holders,
            totalShares: ledger.totalShares, operatorFeesEarned: ledger.operatorFeesEarned, liquidations: liquidations,
            insuranceShortfall: shortfall, fundingReceived: -fundingPaid, fundingSettlements: settlements,
            maxInvariantError: Notional(raw: maxError), violations: violations, invariantChecks: checks, ledger: ledger)
        result.marginForfeited = forfeited
        result.liquidationRule = config.liquidationRule
        return result
    }

    // MARK: Requests

    mutating func handle(_ request: PoolSimulation.Request, price: Price, time: Timestamp) {
        let name = names[request.depositor]
        let held = ledger.shares(of: name)
        let withdraws = held.isPositive && request.choice < UInt64(config.withdrawalProbability.raw)
        if !withdraws {
            let cents = Notional("0.01")!.raw
            let steps = UInt64((config.maxDeposit.raw - config.minDeposit.raw) / cents) + 1
            let amount = Notional(raw: config.minDeposit.raw + Int64(request.size % steps) * cents)
            deposit(name, amount: amount, price: price, time: time, kind: .deposit)
            return
        }
        // A fraction u ∈ [0, 1) of the holding, drawn from the same request.
        let u = Int64(request.size % UInt64(Rate.scale))
        let redemption: PoolRedemption
        switch request.kind {
        case 0:
            redemption = .all
        case 1:
            let shares = Shares(raw: max(1, FixedMath.mulDiv(held.raw, u, Rate.scale, .down)))
            redemption = .shares(shares)
        default:
            let claim = ledger.value(of: held, nav: nav(at: price))
            let cents = Notional("0.01")!
            let amount = Notional(raw: FixedMath.mulDiv(claim.raw, u, Rate.scale, .down)).rounded(toMultipleOf: cents, rule: .down)
            redemption = amount.isPositive ? .value(amount) : .all
        }
        withdraw(name, redemption, price: price, time: time)
    }

    mutating func deposit(_ depositor: DepositorID, amount: Notional, price: Price, time: Timestamp, kind: PoolEvent.Kind) {
        let navBefore = nav(at: price)
        let before = ledger
        let receipt: PoolDepositReceipt
        do {
            receipt = try ledger.deposit(depositor, amount: amount, nav: navBefore)
        } catch {
            events.append(
                PoolEvent(
                    time: time, kind: .refused, depositor: depositor, amount: amount, shares: .zero, fee: .zero, price: price,
                    navAfter: navBefore,
                    note: "deposit refused: \(error.description)"))
            return
        }
        cash += amount
        let navAfter = nav(at: price)
        checkDeposit(before: before, receipt: receipt, navAfter: navAfter, time: time)
        events.append(
            PoolEvent(
                time: time, kind: kind, depositor: depositor, amount: amount, shares: receipt.sharesMinted, fee: .zero, price: price,
                navAfter: navAfter))
        audit(nav: navAfter, time: time)
        if kind == .deposit && config.operatorTopUp && ledger.operatorBelowMinimum {
            // ⌈needed × NAV / S⌉ USDC mints at least `needed` shares.
            let needed = ledger.operatorShortfall
            let topUp = Notional(
                raw: Int64(FixedMath.divide(Int128(needed.raw) * Int128(navAfter.raw), Int128(ledger.totalShares.raw), .up)))
            if topUp.isPositive {
                deposit(ledger.operatorID, amount: topUp, price: price, time: time, kind: .operatorDeposit)
                return
            }
        }
        rebalance(price: price, time: time, reason: .deposit)
    }

    mutating func withdraw(_ depositor: DepositorID, _ redemption: PoolRedemption, price: Price, time: Timestamp) {
        let navBefore = nav(at: price)
        let before = ledger
        let receipt: PoolWithdrawalReceipt
        do {
            receipt = try ledger.withdraw(depositor, redemption, nav: navBefore)
        } catch {
            events.append(
                PoolEvent(
                    time: time, kind: .refused, depositor: depositor, amount: .zero, shares: .zero, fee: .zero, price: price,
                    navAfter: navBefore,
                    note: "withdrawal refused: \(error.description)"))
            return
        }
        cash -= receipt.payout
        let navAfter = nav(at: price)
        checkWithdrawal(before: before, receipt: receipt, navAfter: navAfter, time: time)
        events.append(
            PoolEvent(
                time: time, kind: .withdrawal, depositor: depositor, amount: receipt.payout, shares: receipt.sharesRedeemed,
                fee: receipt.fee,
                price: price, navAfter: navAfter))
        audit(nav: navAfter, time: time)
        rebalance(price: price, time: time, reason: .withdrawal)
    }

    // MARK: The short

    /// Resizes the short to `⌊NAV / (k·P)⌋` lots.
    mutating func rebalance(price: Price, time: Timestamp, reason: PoolRebalance.Reason) {
        let navNow = nav(at: price)
        let exact = Fraction(navNow) / (Fraction(config.collateralMultiple) * Fraction(price))
        let target = exact.rounded(to: Quantity.self, .down).rounded(toMultipleOf: config.lotSize, rule: .down)
        let delta = -target - position.quantity
        if !delta.isZero {
            cash += position.apply(delta: delta, price: price)
        }
        updateLiquidationPrice()
        rebalances.append(
            PoolRebalance(
                time: time, reason: reason, price: price, nav: nav(at: price), short: -position.quantity, traded: -delta,
                liquidationPrice: liquidationPrice))
    }

    /// `P_liq = (collateral − basis) / (|q|·(1 + M))` for the short (basis = `q·E`, negative),
    /// rounded down toward the market; see ``Liquidation``.
    mutating func updateLiquidationPrice() {
        guard position.quantity.isNegative else {
            liquidationPrice = nil
            return
        }
        let numerator = Fraction(cash) - Fraction(position.costBasis)
        let denominator = Fraction(-position.quantity) * (Fraction(Rate.one) + Fraction(config.maintenanceFraction))
        let price = (numerator / denominator).rounded(to: Price.self, .down)
        liquidationPrice = price.isPositive ? price : Price(raw: 1)
    }

    /// Closes the short at `price` under ``PoolSimulationConfig/liquidationRule``
    /// (``Liquidation/settle(position:collateral:price:takerFee:rule:)``, shared with the
    /// backtester and the hedge; no trading fee: Lighter's standard accounts pay none). Cross
    /// margin: the pool's whole cash backs the short, and becomes what the rule returns.
    mutating func liquidate(at price: Price, time: Timestamp) {
        let navBefore = nav(at: price)
        let closed = -position.quantity
        let settlement = Liquidation.settle(
            position: position, collateral: cash, price: price, takerFee: .zero, rule: config.liquidationRule)
        position = Position()
        cash = settlement.returned
        shortfall += settlement.shortfall
        forfeited += settlement.forfeited
        liquidationPrice = nil
        liquidations += 1
        let navAfter = nav(at: price)
        events.append(
            PoolEvent(
                time: time, kind: .liquidation, depositor: nil, amount: navBefore - navAfter, shares: .zero, fee: .zero, price: price,
                navAfter: navAfter, note: "short of \(closed) NMR closed at \(price)"))
        audit(nav: navAfter, time: time)
    }

    // MARK: Invariants

    mutating func record(_ kind: PoolInvariantViolation.Kind, _ depositor: DepositorID?, _ time: Timestamp, _ detail: String) {
        violations.append(PoolInvariantViolation(time: time, kind: kind, depositor: depositor, detail: detail))
    }

    /// `Σ claims ≤ NAV` and `NAV − Σ claims < holders × 10⁻⁸`.
    mutating func audit(nav: Notional, time: Timestamp) {
        checks += 1
        let audit = ledger.audit(nav: nav)
        if audit.holders > 0 { maxError = max(maxError, audit.dust.raw) }
        if !audit.isConsistent {
            record(.claimsVersusNAV, nil, time, "NAV \(nav), Σ claims \(audit.sumOfClaims), \(audit.holders) holders")
        }
    }

    /// Every holder other than `actors` keeps the same shares, and its claim does not fall nor
    /// rise by more than `tolerance` (raw USDC).
    mutating func checkOthers(
        before: PoolLedger, navBefore: Notional, navAfter: Notional, actors: [DepositorID], tolerance: Int64, time: Timestamp
    ) {
        for account in before.accounts where !actors.contains(account.depositor) {
            let sharesAfter = ledger.shares(of: account.depositor)
            if sharesAfter != account.shares {
                record(.otherHolderChanged, account.depositor, time, "shares changed from \(account.shares) to \(sharesAfter)")
                continue
            }
            let claimBefore = before.value(of: account.shares, nav: navBefore)
            let claimAfter = ledger.value(of: account.shares, nav: navAfter)
            let change = claimAfter.raw - claimBefore.raw
            maxError = max(maxError, abs(change))
            if change < 0 || change > tolerance {
                record(.otherHolderChanged, account.depositor, time, "claim moved from \(claimBefore) to \(claimAfter)")
            }
        }
    }

    mutating func checkDeposit(before: PoolLedger, receipt: PoolDepositReceipt, navAfter: Notional, time: Timestamp) {
        guard navAfter == receipt.navAfter else {
            record(
                .actorMispriced, receipt.depositor, time, "NAV after the deposit is \(navAfter), the ledger expected \(receipt.navAfter)")
            return
        }
        // Others gain at most the deposit's rounding residue, less than one share-unit's value:
        // ⌈NAV / S⌉ raw (at least 1).
        let tolerance =
            before.totalShares.isZero
            ? 1 : max(1, Int64(FixedMath.divide(Int128(receipt.navBefore.raw), Int128(before.totalShares.raw), .up)))
        checkOthers(
            before: before, navBefore: receipt.navBefore, navAfter: navAfter, actors: [receipt.depositor], tolerance: tolerance, time: time)
        // The depositor's new shares are worth no more than it paid, and less by under one
        // share-unit's value (plus one raw unit of the claim's own rounding).
        let worth = ledger.value(of: receipt.sharesMinted, nav: navAfter)
        let shortfall = receipt.amount.raw - worth.raw
        if shortfall < 0 || shortfall > tolerance + 1 {
            record(.actorMispriced, receipt.depositor, time, "paid \(receipt.amount) for shares worth \(worth)")
        }
    }

    mutating func checkWithdrawal(before: PoolLedger, receipt: PoolWithdrawalReceipt, navAfter: Notional, time: Timestamp) {
        guard navAfter == receipt.navAfter else {
            record(
                .actorMispriced, receipt.depositor, time, "NAV after the withdrawal is \(navAfter), the ledger expected \(receipt.navAfter)"
            )
            return
        }
        // Others (the operator too, apart from its fee) gain under 10⁻⁸ USDC in total.
        checkOthers(
            before: before, navBefore: receipt.navBefore, navAfter: navAfter, actors: [receipt.depositor, ledger.operatorID], tolerance: 1,
            time: time)
        // payout + fee ≤ s·NAV/S < payout + fee + 2·10⁻⁸ (one rounding each), exactly in Int128.
        let s = Int128(receipt.sharesRedeemed.raw)
        let total = Int128(before.totalShares.raw)
        let exact = s * Int128(receipt.navBefore.raw)
        let paid = (Int128(receipt.payout.raw) + Int128(receipt.fee.raw)) * total
        if paid > exact || exact - paid >= 2 * total {
            record(
                .actorMispriced, receipt.depositor, time, "paid \(receipt.payout) + fee \(receipt.fee) for \(receipt.sharesRedeemed) shares"
            )
        }
        // The fee never exceeds the fee rate times the profit.
        let profit = receipt.grossValue - receipt.releasedBasis
        let cap = profit.isPositive ? profit.times(ledger.feeRate, rule: .up) : .zero
        if receipt.fee > cap {
            record(.actorMispriced, receipt.depositor, time, "fee \(receipt.fee) exceeds \(ledger.feeRate) of the profit \(profit)")
        }
        if receipt.depositor != ledger.operatorID {
            let operatorBefore = before.value(of: before.operatorShares, nav: receipt.navBefore)
            let operatorAfter = ledger.value(of: ledger.operatorShares, nav: navAfter)
            if operatorAfter < operatorBefore {
                record(.otherHolderChanged, ledger.operatorID, time, "the operator's claim fell from \(operatorBefore) to \(operatorAfter)")
            }
        }
    }
}
