import PerpMechanics
import PerpModel

/// A bar-by-bar perpetual-futures backtest on one market (spec §3; backtester issue).
///
/// Per bar, in this order (same-time events are always handled in this order):
/// 1. **Funding**: every settlement timed after the previous bar's open and at or before this
///    bar's open is paid at this bar's open, on the notional at mark (the mark series' last
///    open at or before the settlement, else the bar's open): `payment = q × mark × rate`,
///    positive rate: longs pay. Each rate carries its own interval, so hourly, 4-hourly,
///    8-hourly and mixed schedules need nothing special.
/// 2. **Resting orders and liquidation along the bar's path**: open, then the extreme nearer to
///    the open's side (low first when the bar closes up, high first when it closes down), then
///    the other extreme, then the close. Whatever the path reaches first fills first: a stop,
///    a limit, or the liquidation price. Liquidation fills the whole position at the
///    liquidation price with the taker fee; a loss beyond the collateral is an insurance-fund
///    draw and the account never goes below zero.
/// 3. **Equity** is marked at the close (when recorded).
/// 4. **The strategy** sees the closed bar and its account; market orders fill at the close
///    with the taker fee and slippage.
public struct Backtester<S: Strategy> {
    public var config: VenueConfig
    public var initialCapital: Notional
    public var strategy: S

    // Account state, raw fixed-point for the per-bar path.
    var balance: Int64
    /// Isolated margin of the open position (zero under cross margin).
    var margin: Int64 = 0
    var position = Position()
    /// Raw liquidation price of the open position; 0 when none.
    var liquidation: Int64 = 0
    /// The highest raw price at which the open position stays within ``AmountLimit``
    /// (`Int64.max` when flat): a bar reaching above it stops the run.
    var highestSafePrice: Int64 = .max
    /// A bar whose high reaches `upperTrigger` or whose low reaches `lowerTrigger` may
    /// liquidate the position or take it beyond ``AmountLimit``; other bars pass with two
    /// comparisons (kept with the liquidation price).
    var upperTrigger: Int64 = .max
    var lowerTrigger: Int64 = .min
    /// Set when the run stopped early (``AmountLimit``); nothing more happens after it.
    public private(set) var halt: BacktestHalt?
    var resting: [OrderRequest] = []
    /// The leverage setting (``VenueConfig/leverage``, then that of the last `.enter`): an
    /// isolated position posts `notional / leverage` as margin.
    var isolatedLeverage = Rate.one
    /// The margin a `.targetWithMargin` names for the fill being made.
    var namedMargin: Int64?

    var fills: [FillRecord] = []
    var trades: [TradeRecord] = []
    var openTrade: TradeRecord?
    var exitValue = Fraction(0)
    var exitQuantity: Int64 = 0
    var fundingRecords: [FundingRecord] = []
    /// How many fills and funding records the strategy has been shown.
    var fillsShown = 0
    var fundingShown = 0
    var liquidations = 0
    var insurance: Int64 = 0
    /// Margin the venue kept at liquidations (``LiquidationRule``), raw.
    var forfeited: Int64 = 0
    /// A bar's close time minus its open time: the time of fills at the close.
    var closeOffset: Int64 = 0
    var fees: Int64 = 0
    var fundingPaid: Int64 = 0
    // Stepping (paper trading): bars stepped so far and the last one's close.
    var steppedBars = 0
    var lastSteppedClose: Int64?

    public init(strategy: S, config: VenueConfig = VenueConfig(), initialCapital: Notional) {
        self.strategy = strategy
        self.config = config
        self.initialCapital = initialCapital
        self.balance = initialCapital.raw
        self.isolatedLeverage = config.leverage
    }

    /// Runs over `series` with an optional funding history and mark-price series.
    public mutating func run(_ series: CandleSeries, funding: [FundingRate] = [], mark: CandleSeries? = nil) -> BacktestResult {
        let n = series.count
        var equity = EquityCurve()
        if config.recordEquity { equity.reserveCapacity(n) }
        // Settlements are taken at their due time (the venue's stamping jitter taken off).
        let fundingTimes = funding.map(\.dueMilliseconds)
        var fi = 0
        var markIndex = 0
        closeOffset = series.barInterval?.milliseconds ?? 0
        // The prices liquidation reads: the mark's, bar by bar, when a mark series is given.
        let markBars = mark.map { MarkBars(mark: $0, series: series) }
        var barsInMarket = 0
        let times = series.openTimes
        let opens = series.opens
        let highs = series.highs
        let lows = series.lows
        let closes = series.closes
        let volumes = series.volumes
        // Settlements before the first bar find no position: skip them.
        if n > 0 { while fi < fundingTimes.count && fundingTimes[fi] < times[0] { fi += 1 } }
        for i in 0..<n {
            let t = times[i]
            // 1. Funding.
            while fi < fundingTimes.count && fundingTimes[fi] <= t {
                if !position.isFlat {
                    var markPrice = opens[i]
                    if let mark {
                        let settles = funding[fi].time.milliseconds
                        while markIndex + 1 < mark.count && mark.openTimes[markIndex + 1] <= settles { markIndex += 1 }
                        if markIndex < mark.count && mark.openTimes[markIndex] <= settles { markPrice = mark.opens[markIndex] }
                    }
                    if markPrice > highestSafePrice {
                        // Nothing more is paid or filled; the run ends at the next bar.
                        stop(bar: i, time: t, price: markPrice)
                    } else {
                        settleFunding(funding[fi], mark: markPrice)
                    }
                }
                fi += 1
            }
            // 2. Resting orders and liquidation.
            if let markBars, markBars.has(i) {
                walkBar(
                    bar: i, time: t, previousClose: i > 0 ? closes[i - 1] : opens[i], open: opens[i], high: highs[i], low: lows[i],
                    close: closes[i], volume: volumes[i],
                    mark: (open: markBars.opens[i], high: markBars.highs[i], low: markBars.lows[i]))
            } else {
                walkBar(
                    bar: i, time: t, previousClose: i > 0 ? closes[i - 1] : opens[i], open: opens[i], high: highs[i], low: lows[i],
                    close: closes[i], volume: volumes[i])
            }
            // 3. Equity at the close.
            if !position.isFlat { barsInMarket += 1 }
            if config.recordEquity {
                let value = halt == nil ? currentEquity(close: closes[i]) : Notional(raw: balance + margin)
                equity.append(time: t, equity: value, position: position.quantity)
            }
            // Stopped (broken data, see `AmountLimit`): nothing more happens.
            if highestSafePrice == .min { break }
            // 4. Strategy.
            consultStrategy(
                bar: i, time: t, open: opens[i], high: highs[i], low: lows[i], close: closes[i], volume: volumes[i])
        }
        let end = halt.map { $0.bar } ?? n
        if halt == nil, config.closeAtEnd, n > 0, !position.isFlat {
            fill(
                delta: -position.quantity, price: closes[n - 1], feeRate: config.takerFee, bar: n - 1, time: times[n - 1] + closeOffset,
                reason: .end)
        }
        if let openTrade { trades.append(openTrade) }
        var finalEquity = Notional(raw: balance + margin)
        if halt == nil {
            if n > 0 { finalEquity = currentEquity(close: closes[n - 1]) }
        } else if end > 0, !AmountLimit.exceeded(quantity: position.quantity.raw, price: closes[end - 1]) {
            // Marked at the last close the run reached.
            finalEquity += position.unrealizedPnL(mark: Price(raw: closes[end - 1]))
        }
        var result = BacktestResult(
            bars: n, initialCapital: initialCapital, finalEquity: finalEquity, fills: fills, trades: trades, funding: fundingRecords,
            liquidations: liquidations, insuranceFundDraws: Notional(raw: insurance), feesPaid: Notional(raw: fees),
            fundingPaid: Notional(raw: fundingPaid), equity: equity, barsInMarket: barsInMarket)
        result.halt = halt
        result.liquidationRule = config.liquidationRule
        result.marginForfeited = Notional(raw: forfeited)
        result.liquidationOnMark = markBars.map { MarkCoverage(bars: $0.covered, of: n) }
        return result
    }

    /// Stops the run at `bar`: the price it reached (or the amounts of the last fill) would take
    /// the account beyond ``AmountLimit``. The first reason given is kept.
    @inline(never)
    mutating func stop(bar: Int, time: Int64, price: Int64? = nil, reason: String? = nil) {
        guard halt == nil else { return }
        let why =
            reason
            ?? "a position of \(position.quantity) NMR at price \(Price(raw: price ?? 0)) would be worth more than \(AmountLimit.notional) USDC, beyond what the simulated venue carries; check the prices' unit and the bars around this one"
        halt = BacktestHalt(bar: bar, time: Timestamp(milliseconds: time), reason: why)
        highestSafePrice = .min
        upperTrigger = .min
    }

    /// Step 2 of a bar: resting orders and liquidation along its path. With `mark` (the mark
    /// price's open and extremes over the bar, when a mark series is given) liquidation reads the
    /// mark, as venues do, after the resting orders have walked the traded prices (a stop is
    /// nearer than the liquidation price, and the traded price reaches it first).
    @inline(__always)
    mutating func walkBar(
        bar i: Int, time t: Int64, previousClose: Int64, open: Int64, high: Int64, low: Int64, close: Int64, volume: Int64,
        mark: (open: Int64, high: Int64, low: Int64)? = nil
    ) {
        if !resting.isEmpty {
            // Broken data: a price beyond what the position can carry stops the run first.
            if high > highestSafePrice { return stop(bar: i, time: t, price: high) }
            walkPath(
                bar: i, time: t, previousClose: previousClose, open: open, high: high, low: low, close: close, volume: volume,
                liquidationOnPath: mark == nil)
            if let mark, !position.isFlat {
                edgeOfBar(
                    bar: i, time: t, high: high, liquidationOpen: mark.open, liquidationHigh: mark.high, liquidationLow: mark.low,
                    volume: volume)
            }
            // A fill on the way may have grown the position past what the bar's high allows.
            if high > highestSafePrice { stop(bar: i, time: t, price: high) }
        } else if let mark {
            if max(high, mark.high) >= upperTrigger || mark.low <= lowerTrigger {
                edgeOfBar(
                    bar: i, time: t, high: high, liquidationOpen: mark.open, liquidationHigh: mark.high, liquidationLow: mark.low,
                    volume: volume)
            }
        } else if high >= upperTrigger || low <= lowerTrigger {
            edgeOfBar(bar: i, time: t, high: high, liquidationOpen: open, liquidationHigh: high, liquidationLow: low, volume: volume)
        }
    }

    /// A bar that may reach the position's liquidation price (read on `liquidation*`: the traded
    /// prices, or the mark's) or the highest price it can carry (``AmountLimit``): liquidation at
    /// ``Liquidation/fillPrice(side:liquidation:open:adverse:)`` (the open through a gap), and
    /// otherwise a stop of the run when the traded high passed the limit.
    @inline(never)
    mutating func edgeOfBar(
        bar i: Int, time t: Int64, high: Int64, liquidationOpen: Int64, liquidationHigh: Int64, liquidationLow: Int64, volume: Int64
    ) {
        guard halt == nil, let side = position.side else { return }
        if liquidation > 0,
            let price = Liquidation.fillPrice(
                side: side, liquidation: liquidation, open: liquidationOpen, adverse: side == .long ? liquidationLow : liquidationHigh)
        {
            // A short closed beyond the limit: broken data (prices in the wrong unit).
            if side == .short && price > highestSafePrice { return stop(bar: i, time: t, price: price) }
            return liquidate(bar: i, time: t, price: price, volume: volume)
        }
        // The price passed the limit before any liquidation could close the position.
        if high > highestSafePrice { stop(bar: i, time: t, price: high) }
    }

    /// Step 4 of a bar: the strategy sees the closed bar and the account, and its action is
    /// carried out at the close.
    @inline(__always)
    mutating func consultStrategy(bar i: Int, time t: Int64, open: Int64, high: Int64, low: Int64, close: Int64, volume: Int64) {
        let bar = BarView(
            index: i, time: Timestamp(milliseconds: t), open: Price(raw: open), high: Price(raw: high), low: Price(raw: low),
            close: Price(raw: close), volume: Quantity(raw: volume))
        let newFills = fills.count > fillsShown ? Array(fills[fillsShown...]) : []
        let newFunding = fundingRecords.count > fundingShown ? Array(fundingRecords[fundingShown...]) : []
        fillsShown = fills.count
        fundingShown = fundingRecords.count
        let account = AccountView(
            balance: Notional(raw: balance), position: position.quantity, costBasis: position.costBasis,
            positionMargin: Notional(raw: margin), restingOrders: resting.count, recentFills: newFills, recentFunding: newFunding,
            closeRaw: close, liquidationRaw: liquidation)
        if let action = strategy.onBar(bar, account: account) {
            // Carried out at the close: the fills are stamped with the bar's close time.
            perform(action, bar: i, time: t + closeOffset, close: close, volume: volume)
        }
    }

    func currentEquity(close: Int64) -> Notional {
        Notional(raw: balance + margin) + position.unrealizedPnL(mark: Price(raw: close))
    }

    // MARK: Funding

    mutating func settleFunding(_ rate: FundingRate, mark: Int64) {
        let payment = FundingMath.payment(quantity: position.quantity, mark: Price(raw: mark), rate: rate.rate)
        if config.marginMode == .isolated { margin -= payment.raw } else { balance -= payment.raw }
        fundingPaid += payment.raw
        openTrade?.funding += payment
        fundingRecords.append(
            FundingRecord(time: rate.time, rate: rate.rate, mark: Price(raw: mark), position: position.quantity, payment: payment))
        updateLiquidation()
    }

    // MARK: Fills

    mutating func updateLiquidation() {
        highestSafePrice = halt == nil ? AmountLimit.highestPrice(for: position.quantity.raw) : .min
        let collateral = config.marginMode == .isolated ? margin : balance
        if let schedule = config.marginSchedule {
            liquidation = Liquidation.price(position: position, collateral: Notional(raw: collateral), schedule: schedule)?.raw ?? 0
        } else {
            liquidation =
                Liquidation.price(position: position, collateral: Notional(raw: collateral), maintenance: config.maintenanceFraction)?.raw
                ?? 0
        }
        // A short with no positive liquidation price is past bankruptcy already (funding took
        // its collateral): it is liquidated at the next price the venue sees.
        if liquidation == 0, position.quantity.raw < 0 { liquidation = 1 }
        // The lowest price beyond what the position can carry.
        let beyondSafe = highestSafePrice == .max ? .max : highestSafePrice + 1
        if position.isFlat || halt != nil {
            upperTrigger = halt == nil ? .max : .min
            lowerTrigger = .min
        } else if position.quantity.raw > 0 {
            upperTrigger = beyondSafe
            lowerTrigger = liquidation > 0 ? liquidation : .min
        } else {
            upperTrigger = liquidation > 0 ? min(liquidation, beyondSafe) : beyondSafe
            lowerTrigger = .min
        }
    }

    /// Executes a signed `delta` at `price`, charging `feeRate` on the fill's notional.
    mutating func fill(delta: Quantity, price: Int64, feeRate: Rate, bar: Int, time: Int64, reason: FillReason) {
        guard !delta.isZero, halt == nil else { return }
        // Amounts beyond the limit: refuse the fill and stop the run (see `AmountLimit`).
        let (after, overflow) = position.quantity.raw.addingReportingOverflow(delta.raw)
        if overflow || AmountLimit.exceeded(quantity: after, price: price) || AmountLimit.exceeded(quantity: delta.raw, price: price) {
            return stop(
                bar: bar, time: time,
                reason:
                    "an order for \(delta) NMR at price \(Price(raw: price)) would leave a position worth more than \(AmountLimit.notional) USDC, beyond what the simulated venue carries; check the prices' unit, --capital and --leverage"
            )
        }
        if balance > AmountLimit.notional.raw || margin > AmountLimit.notional.raw {
            return stop(
                bar: bar, time: time,
                reason: "the account holds more than \(AmountLimit.notional) USDC, beyond what the simulated venue carries")
        }
        let px = Price(raw: price)
        let notional = px.times(delta.magnitude)
        // The venue's minimum notional (`VenueConfig.minNotional`): an order that opens, adds to
        // or flips a position below it is rejected; one that only reduces is not.
        if config.minNotional.isPositive, notional < config.minNotional, reason != .liquidation {
            let reduces =
                !position.isFlat && position.quantity.isPositive != delta.isPositive
                && delta.magnitude <= position.quantity.magnitude
            if !reduces { return }
        }
        let fee = notional.times(feeRate)
        let before = position
        let realized = position.apply(delta: delta, price: px)
        fees += fee.raw
        let stamp = Timestamp(milliseconds: time)
        // Margin accounting.
        if config.marginMode == .isolated {
            let closed =
                before.isFlat || before.quantity.isPositive == delta.isPositive
                ? Quantity.zero : Quantity(raw: min(delta.magnitude.raw, before.quantity.magnitude.raw))
            if !closed.isZero {
                // Release the closed share of the isolated margin, with its PnL.
                let released = FixedMath.mulDiv(margin, closed.raw, before.quantity.magnitude.raw, .toNearestOrEven)
                margin -= released
                var back = released + realized.raw
                if back < 0 {
                    insurance -= back
                    back = 0
                }
                balance += back
            }
            // The fee first, then the margin from what is left, so the free balance stays ≥ 0.
            balance -= fee.raw
            let opened = delta.magnitude - closed
            if !opened.isZero {
                let openedNotional = px.times(opened)
                let allocate =
                    namedMargin ?? (Fraction(openedNotional) / Fraction(isolatedLeverage)).rounded(to: Notional.self, .up).raw
                let moved = min(allocate, max(balance, 0))
                balance -= moved
                margin += moved
            }
            if position.isFlat {
                balance += margin
                margin = 0
            }
        } else {
            balance += realized.raw - fee.raw
        }
        if balance < 0 && position.isFlat {
            insurance -= balance
            balance = 0
        }
        fills.append(
            FillRecord(
                time: stamp, bar: bar, side: delta.isPositive ? .long : .short, quantity: delta.magnitude, price: px, fee: fee,
                realizedPnL: realized, reason: reason))
        recordTrade(before: before, delta: delta, price: px, fee: fee, realized: realized, bar: bar, time: stamp, reason: reason)
        updateLiquidation()
    }

    mutating func recordTrade(
        before: Position, delta: Quantity, price: Price, fee: Notional, realized: Notional, bar: Int, time: Timestamp, reason: FillReason
    ) {
        let closing =
            before.isFlat || before.quantity.isPositive == delta.isPositive
            ? Int64(0) : min(delta.magnitude.raw, before.quantity.magnitude.raw)
        let opening = delta.magnitude.raw - closing
        // Share the fee between the closing and opening parts by size.
        let closingFee =
            closing == 0 ? Notional.zero : Notional(raw: FixedMath.mulDiv(fee.raw, closing, delta.magnitude.raw, .toNearestOrEven))
        if closing > 0, var trade = openTrade {
            trade.grossPnL += realized
            trade.fees += closingFee
            exitValue = exitValue + Fraction(price) * Fraction(Quantity(raw: closing))
            exitQuantity += closing
            if position.isFlat || position.quantity.isPositive != before.quantity.isPositive {
                trade.exitTime = time
                trade.exitBar = bar
                trade.exitReason = reason
                trade.exitPrice = (exitValue / Fraction(Quantity(raw: exitQuantity))).rounded(to: Price.self, .toNearestOrEven)
                trades.append(trade)
                openTrade = nil
                exitValue = Fraction(0)
                exitQuantity = 0
            } else {
                openTrade = trade
            }
        }
        if opening > 0 {
            if var trade = openTrade {
                trade.fees += fee - closingFee
                trade.quantity = max(trade.quantity, position.quantity.magnitude)
                trade.entryPrice = position.entryPrice ?? trade.entryPrice
                openTrade = trade
            } else {
                var trade = TradeRecord(
                    side: position.quantity.isPositive ? .long : .short, entryTime: time, entryBar: bar, entryPrice: price,
                    quantity: Quantity(raw: opening))
                trade.fees = fee - closingFee
                openTrade = trade
            }
        }
    }

    /// Closes the whole position by liquidation at `price` (slipped against it), settled by
    /// ``Liquidation/settle(position:collateral:price:takerFee:rule:)`` under the venue's
    /// ``VenueConfig/liquidationRule``: the collateral (isolated margin, or the whole balance
    /// under cross margin) is replaced by what the rule returns; a loss beyond it is the
    /// insurance fund's. The venue cancels every resting order of the account.
    mutating func liquidate(bar: Int, time: Int64, price trigger: Int64, volume: Int64) {
        guard !position.isFlat, halt == nil else { return }
        let before = position
        let delta = -position.quantity
        let price = slipped(trigger, delta: delta, volume: volume)
        let collateral = config.marginMode == .isolated ? margin : balance
        let settlement = Liquidation.settle(
            position: position, collateral: Notional(raw: collateral), price: Price(raw: price), takerFee: config.takerFee,
            rule: config.liquidationRule)
        position = Position()
        if config.marginMode == .isolated {
            margin = 0
            balance += settlement.returned.raw
            // Fees beyond the free balance: what a flat account cannot pay is the insurance fund's.
            if balance < 0 {
                insurance -= balance
                balance = 0
            }
        } else {
            balance = settlement.returned.raw
        }
        insurance += settlement.shortfall.raw
        forfeited += settlement.forfeited.raw
        fees += settlement.fee.raw
        liquidations += 1
        let stamp = Timestamp(milliseconds: time)
        var record = FillRecord(
            time: stamp, bar: bar, side: delta.isPositive ? .long : .short, quantity: delta.magnitude, price: Price(raw: price),
            fee: settlement.fee, realizedPnL: settlement.realizedPnL, reason: .liquidation)
        record.forfeited = settlement.forfeited
        record.insuranceCover = settlement.shortfall
        fills.append(record)
        recordTrade(
            before: before, delta: delta, price: Price(raw: price), fee: settlement.fee, realized: settlement.realizedPnL, bar: bar,
            time: stamp, reason: .liquidation)
        if let last = trades.indices.last, trades[last].exitReason == .liquidation, trades[last].exitBar == bar {
            trades[last].forfeited += settlement.forfeited
            trades[last].insuranceCover += settlement.shortfall
        }
        resting.removeAll()
        updateLiquidation()
    }

    /// The price a taker gets for `delta` at `price`, after slippage (always against the taker).
    func slipped(_ price: Int64, delta: Quantity, volume: Int64) -> Int64 {
        let fraction: Rate
        switch config.slippage {
        case .none: return price
        case .fixed(let rate): fraction = rate
        case .volumeShare(let impact, let cap):
            guard volume > 0 else {
                fraction = cap
                break
            }
            let share = Rate(raw: FixedMath.mulDiv(delta.magnitude.raw, Rate.scale, volume, .up))
            fraction = min(cap, impact.times(share, rule: .up))
        }
        let move = FixedMath.mulDiv(price, fraction.raw, Rate.scale, .up)
        return delta.isPositive ? price + move : max(1, price - move)
    }

    // MARK: Strategy actions

    mutating func perform(_ action: StrategyAction, bar: Int, time: Int64, close: Int64, volume: Int64) {
        switch action {
        case .enter(let side, let leverage):
            if let current = position.side {
                if current == side { return }
                let delta = -position.quantity
                fill(
                    delta: delta, price: slipped(close, delta: delta, volume: volume), feeRate: config.takerFee, bar: bar, time: time,
                    reason: .signal)
            }
            guard balance > 0, leverage.isPositive, halt == nil else { return }
            if Int128(balance) * Int128(leverage.raw) > Int128(AmountLimit.notional.raw) * Int128(Rate.scale) {
                return stop(
                    bar: bar, time: time,
                    reason:
                        "\(leverage)× a balance of \(Notional(raw: balance)) USDC is more than \(AmountLimit.notional) USDC, beyond what the simulated venue carries; lower --leverage or --capital"
                )
            }
            isolatedLeverage = leverage
            let notional = Notional(raw: balance).times(leverage, rule: .down)
            let size = notional.divided(by: Price(raw: close), rule: .towardZero).rounded(toMultipleOf: config.lotSize, rule: .towardZero)
            guard size.isPositive else { return }
            let delta = side == .long ? size : -size
            fill(
                delta: delta, price: slipped(close, delta: delta, volume: volume), feeRate: config.takerFee, bar: bar, time: time,
                reason: .signal)
        case .target(let target):
            var delta = (target - position.quantity).rounded(toMultipleOf: config.lotSize, rule: .towardZero)
            delta = withoutNewExposure(delta)
            fill(
                delta: delta, price: slipped(close, delta: delta, volume: volume), feeRate: config.takerFee, bar: bar, time: time,
                reason: .signal)
        case .targetWithMargin(let target, let margin):
            namedMargin = max(margin.raw, 0)
            defer { namedMargin = nil }
            perform(.target(target), bar: bar, time: time, close: close, volume: volume)
        case .flatten:
            perform(.exit(.signal), bar: bar, time: time, close: close, volume: volume)
        case .exit(let reason):
            let delta = -position.quantity
            fill(
                delta: delta, price: slipped(close, delta: delta, volume: volume), feeRate: config.takerFee, bar: bar, time: time,
                reason: reason)
            resting.removeAll()
        case .cancelAll:
            resting.removeAll()
        case .replaceOrders(let orders):
            resting.removeAll()
            perform(.submit(orders), bar: bar, time: time, close: close, volume: volume)
        case .submit(let orders):
            for order in orders {
                switch order.kind {
                case .market:
                    let delta = withoutNewExposure(signedSize(order))
                    fill(
                        delta: delta, price: slipped(close, delta: delta, volume: volume), feeRate: config.takerFee, bar: bar, time: time,
                        reason: order.reason ?? .signal)
                case .limit(let limit):
                    // A limit that is marketable at the close fills now as a taker at the close.
                    let marketable = order.side == .long ? close <= limit.raw : close >= limit.raw
                    if marketable {
                        fill(
                            delta: withoutNewExposure(signedSize(order)), price: close, feeRate: config.takerFee, bar: bar, time: time,
                            reason: order.reason ?? .limit)
                    } else {
                        resting.append(order)
                    }
                case .stop:
                    resting.append(order)
                }
            }
        }
    }

    /// `delta`, trimmed so that an account with no free balance only reduces its position: no
    /// collateral, no new exposure (what `.enter` does with `guard balance > 0`).
    func withoutNewExposure(_ delta: Quantity) -> Quantity {
        guard balance <= 0 else { return delta }
        if position.isFlat || position.quantity.isPositive == delta.isPositive { return .zero }
        return delta.magnitude <= position.quantity.magnitude ? delta : -position.quantity
    }

    /// The signed size of `order`, trimmed for reduce-only and rounded down to the lot.
    func signedSize(_ order: OrderRequest) -> Quantity {
        var size = order.quantity.rounded(toMultipleOf: config.lotSize, rule: .towardZero)
        if order.reduceOnly {
            guard let side = position.side, side != order.side else { return .zero }
            size = min(size, position.quantity.magnitude)
        }
        return order.side == .long ? size : -size
    }

    // MARK: The bar's path

    /// Walks the gap from the previous close to the open, then open → first extreme → second
    /// extreme → close, filling whatever each leg reaches first. Bounded: each trigger removes an
    /// order or the position.
    mutating func walkPath(
        bar: Int, time: Int64, previousClose: Int64, open: Int64, high: Int64, low: Int64, close: Int64, volume: Int64,
        liquidationOnPath: Bool = true
    ) {
        // Funding settled at this bar's open may have taken the position past its liquidation
        // price before the bar trades: liquidated at the open (spec §4).
        if liquidationOnPath, liquidation > 0, let side = position.side,
            side == .long ? previousClose <= liquidation && open <= liquidation : previousClose >= liquidation && open >= liquidation
        {
            if side == .short && open > highestSafePrice { return stop(bar: bar, time: time, price: open) }
            liquidate(bar: bar, time: time, price: open, volume: volume)
        }
        let pathLiquidation = liquidationOnPath ? liquidation : 0
        // Most bars reach nothing: every leg stays inside [lowest, highest] of the points below,
        // so when no trigger price and no liquidation price lies in there, no leg can fill
        // anything (a resting market order always fills, so it takes the full walk).
        let lowest = min(min(previousClose, open), min(low, min(high, close)))
        let highest = max(max(previousClose, open), max(low, max(high, close)))
        if pathLiquidation == 0 || pathLiquidation < lowest || pathLiquidation > highest {
            var reachable = false
            for order in resting {
                switch order.kind {
                case .limit(let price), .stop(let price):
                    reachable = price.raw >= lowest && price.raw <= highest
                case .market:
                    reachable = true
                }
                if reachable { break }
            }
            if !reachable { return }
        }
        let (first, second) = close >= open ? (low, high) : (high, low)
        // The gap: whatever lies between the previous close and the open triggers in the order
        // the price passed it; orders fill at the open, a liquidation at its own price.
        if previousClose != open {
            runLeg(from: previousClose, to: open, atOpen: true, bar: bar, time: time, volume: volume, liquidationOnPath: liquidationOnPath)
        }
        runLeg(from: open, to: first, atOpen: false, bar: bar, time: time, volume: volume, liquidationOnPath: liquidationOnPath)
        runLeg(from: first, to: second, atOpen: false, bar: bar, time: time, volume: volume, liquidationOnPath: liquidationOnPath)
        runLeg(from: second, to: close, atOpen: false, bar: bar, time: time, volume: volume, liquidationOnPath: liquidationOnPath)
    }

    mutating func runLeg(
        from start: Int64, to end: Int64, atOpen: Bool, bar: Int, time: Int64, volume: Int64, liquidationOnPath: Bool = true
    ) {
        let rising = end >= start
        var cursor = start
        for _ in 0...(resting.count + 1) {
            // Candidates: (trigger price, order index or -1 for liquidation), nearest first along
            // the leg's direction.
            var best: (price: Int64, index: Int)?
            func consider(_ price: Int64, _ index: Int) {
                let reached = rising ? (price >= cursor && price <= end) : (price <= cursor && price >= end)
                guard reached else { return }
                if let current = best {
                    let closer = rising ? price < current.price : price > current.price
                    if closer || (price == current.price && index < current.index) { best = (price, index) }
                } else {
                    best = (price, index)
                }
            }
            for (index, order) in resting.enumerated() {
                switch order.kind {
                case .limit(let limit):
                    // Buy limits fill when the price falls to them, sell limits when it rises.
                    if order.side == .long ? !rising : rising { consider(limit.raw, index) }
                case .stop(let stop):
                    if order.side == .long ? rising : !rising { consider(stop.raw, index) }
                case .market:
                    consider(cursor, index)
                }
            }
            if liquidationOnPath, liquidation > 0, let side = position.side, side == .long ? !rising : rising {
                consider(liquidation, -1)
            }
            guard let trigger = best else { return }
            cursor = trigger.price
            if trigger.index < 0 {
                // Through a gap no one trades at the liquidation price: closed at the open.
                let price = atOpen ? end : trigger.price
                if position.quantity.raw < 0 && price > highestSafePrice { return stop(bar: bar, time: time, price: price) }
                liquidate(bar: bar, time: time, price: price, volume: volume)
                continue
            }
            let order = resting.remove(at: trigger.index)
            let delta = signedSize(order)
            // Through a gap, orders fill at the open (a limit at a better price, a stop worse).
            let price = atOpen ? end : trigger.price
            switch order.kind {
            case .limit:
                fill(delta: delta, price: price, feeRate: config.makerFee, bar: bar, time: time, reason: order.reason ?? .limit)
            case .stop, .market:
                fill(
                    delta: delta, price: slipped(price, delta: delta, volume: volume), feeRate: config.takerFee, bar: bar, time: time,
                    reason: order.reason ?? .stop)
            }
        }
    }
}

extension Backtester: Sendable where S: Sendable {}
