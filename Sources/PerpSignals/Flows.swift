import PerpModel

/// One ERC-20 `Transfer` of NMR, as the chain logged it (issue 16: on-chain NMR movements).
public struct TokenTransfer: Sendable, Equatable {
    /// The block's time (epoch milliseconds).
    public var time: Int64
    public var block: Int64
    public var logIndex: Int64
    /// Sender and receiver, `0x` and 40 lower-case hex digits.
    public var from: String
    public var to: String
    public var amount: Quantity

    public init(time: Int64, block: Int64, logIndex: Int64, from: String, to: String, amount: Quantity) {
        self.time = time
        self.block = block
        self.logIndex = logIndex
        self.from = from
        self.to = to
        self.amount = amount
    }
}

/// NMR flows per period: what moved into and out of a list of labelled addresses (exchanges'
/// deposit and hot wallets), and the large transfers (issue 16; seed 001 watches "on-chain NMR
/// movements" for selling pressure). docs/decisions/0020-signal-collectors.md.
public struct FlowPeriod: Sendable, Equatable {
    /// The end of the period: the row's time, so nothing is known before it happened.
    public var end: Int64
    /// NMR received by labelled addresses minus NMR they sent (positive: coins moving onto
    /// exchanges, read as selling pressure). A transfer between two labelled addresses counts
    /// as both and nets to zero.
    public var netInflow: Quantity
    /// Transfers of at least the large size, and their total.
    public var largeCount: Int
    public var largeVolume: Quantity
    /// Every transfer's amount, summed.
    public var volume: Quantity
    public var transfers: Int
}

public enum TransferFlows {
    /// Folds `transfers` into periods of `period` (epoch-aligned) covering `from..<until`: every
    /// period wholly inside the span gets a row, zero when nothing moved; a period the span only
    /// partly covers gets none (it is completed by the next scan). Sums beyond what a
    /// ``Quantity`` holds saturate rather than trap (a hostile node could send anything).
    public static func periods(
        _ transfers: [TokenTransfer], labelled: Set<String>, largeAt: Quantity, period: TimeSpan, from: Int64, until: Int64
    ) -> [FlowPeriod] {
        // Block times before 1970 or after 2100 are no chain's: nothing to fold.
        guard from >= 0, until <= 4_102_444_800_000, from < until else { return [] }
        let length = max(period.milliseconds, 1)
        // The first period that starts at or after `from`, the last that ends at or before `until`.
        let firstStart = ceiling(from, length)
        let lastEnd = until - ((until % length) + length) % length
        guard firstStart < lastEnd else { return [] }
        let count = (lastEnd - firstStart) / length
        guard count <= 1_000_000 else { return [] }
        var sums = [(net: Int128, largeCount: Int, large: Int128, volume: Int128, transfers: Int)](
            repeating: (0, 0, 0, 0, 0), count: Int(count))
        for transfer in transfers where transfer.time >= firstStart && transfer.time < lastEnd && !transfer.amount.isNegative {
            let index = Int((transfer.time - firstStart) / length)
            let amount = Int128(transfer.amount.raw)
            if labelled.contains(transfer.to) { sums[index].net += amount }
            if labelled.contains(transfer.from) { sums[index].net -= amount }
            if transfer.amount >= largeAt {
                sums[index].largeCount += 1
                sums[index].large += amount
            }
            sums[index].volume += amount
            sums[index].transfers += 1
        }
        return sums.enumerated().map { index, sum in
            FlowPeriod(
                end: firstStart + Int64(index + 1) * length, netInflow: saturated(sum.net), largeCount: sum.largeCount,
                largeVolume: saturated(sum.large), volume: saturated(sum.volume), transfers: sum.transfers)
        }
    }

    static func ceiling(_ value: Int64, _ length: Int64) -> Int64 {
        let remainder = ((value % length) + length) % length
        return remainder == 0 ? value : value + (length - remainder)
    }

    static func saturated(_ raw: Int128) -> Quantity {
        Quantity(raw: Int64(clamping: raw))
    }
}
