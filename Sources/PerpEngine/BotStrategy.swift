import PerpModel
import PerpSimulation

/// Runs the trading kernel on the simulated venue (backtests; paper trading feeds the same
/// kernel from live data). Each bar: the fills and funding since the last bar, then the bar
/// itself, go to the kernel; its commands become venue actions; its journal rows are kept.
/// Every exit carries its rule's ``FillReason``: the stop `stop`, the target `target`, the
/// kernel's closes `time_exit`, `circuit_breaker` or `kill_switch`.
public struct BotStrategy: Strategy, Sendable {
    public private(set) var kernel: TradingKernel
    public private(set) var journal: [JournalEntry] = []
    /// Funding rates to feed the funding-anomaly signal, by time.
    private var fundingRates: [FundingRate]
    private var fundingIndex = 0
    /// A close asked for between bars (the kill switch), with its reason.
    private var closeRequested: FillReason?

    public init(kernel: TradingKernel, fundingRates: [FundingRate] = []) {
        self.kernel = kernel
        self.fundingRates = fundingRates.sorted { $0.time < $1.time }
    }

    /// A funding rate published after the strategy was made (paper trading); rates must come
    /// in time order, and reach the kernel at the first bar whose close is at or after them.
    public mutating func observe(fundingRate: FundingRate) {
        if let last = fundingRates.last, fundingRate.time <= last.time { return }
        fundingRates.append(fundingRate)
    }

    /// Passes a shell event (the feed's state, unreadable data, the kill switch) to the kernel
    /// and keeps its journal rows. A close it asks for (the kill switch) is carried out at the
    /// next bar's close.
    public mutating func handle(_ event: KernelEvent) {
        for command in kernel.handle(event) {
            switch command {
            case .journal(let entry): journal.append(entry)
            case .close(let reason): closeRequested = reason
            case .open, .cancelOrders: break
            }
        }
    }

    public mutating func onBar(_ bar: BarView, account: AccountView) -> StrategyAction? {
        // Journal rows go straight to the journal; most bars add none and no action.
        var actions: [KernelCommand] = []
        if !account.recentFills.isEmpty {
            for command in kernel.handle(.fills(account.recentFills)) {
                if case .journal(let entry) = command { journal.append(entry) } else { actions.append(command) }
            }
        }
        if !account.recentFunding.isEmpty { kernel.journalFunding(account.recentFunding, into: &journal) }
        // Rates published up to this bar's close are known now.
        let closeTime = bar.time + kernel.barInterval
        while fundingIndex < fundingRates.count, fundingRates[fundingIndex].time <= closeTime {
            _ = kernel.handle(.fundingRate(fundingRates[fundingIndex]))
            fundingIndex += 1
        }
        let candle = Candle(openTime: bar.time, open: bar.open, high: bar.high, low: bar.low, close: bar.close, volume: bar.volume)
        // As `handle(.bar(candle, equity: account.equity, position: …))`; the equity is only
        // computed when the kernel sizes an entry. The closure holds the numbers of
        // `AccountView.equity`, not the view (copying the view costs more than the bar).
        let (balance, margin, mark, position, costBasis) = (
            account.balance, account.positionMargin, account.markPrice, account.position, account.costBasis
        )
        kernel.handleBar(
            candle, equity: { balance + margin + mark.times(position) - costBasis }, position: position, journal: &journal,
            actions: &actions)
        // Most bars: nothing at all to do.
        if actions.isEmpty && closeRequested == nil { return nil }
        var action: StrategyAction?
        if let reason = closeRequested {
            closeRequested = nil
            if !account.isFlat { action = .exit(reason) }
        }
        for command in actions {
            switch command {
            case .journal(let entry):
                journal.append(entry)
            case .open(let side, let quantity, let stop, let target):
                let exit = side.opposite
                action = .replaceOrders([
                    OrderRequest(side: side, quantity: quantity, kind: .market),
                    OrderRequest(side: exit, quantity: quantity, kind: .stop(stop), reduceOnly: true),
                    OrderRequest(side: exit, quantity: quantity, kind: .limit(target), reduceOnly: true, reason: .target),
                ])
            case .close(let reason):
                action = .exit(reason)
            case .cancelOrders:
                if action == nil { action = .cancelAll }
            }
        }
        return action
    }
}
