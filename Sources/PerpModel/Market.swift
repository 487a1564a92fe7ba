/// Markets, their margin rules, and the data we read about them.

/// Which way a position faces.
public enum Side: String, Sendable, Hashable, CaseIterable {
    case long
    case short

    /// +1 for long, −1 for short: a position's PnL is `sign × q × (P − entry)`.
    @inlinable public var sign: Int64 { self == .long ? 1 : -1 }
    public var opposite: Side { self == .long ? .short : .long }
}

/// How collateral backs positions.
public enum MarginMode: String, Sendable, Hashable, CaseIterable {
    /// Each position has its own collateral; only that collateral is at risk.
    case isolated
    /// All positions share the account's collateral.
    case cross
}

/// A venue we know.
public enum VenueID: String, Sendable, Hashable, CaseIterable {
    case lighter
    case binanceSpot = "binance-spot"
    case binanceUSDM = "binance-usdm"
    case bybit
    case hyperliquid
}

/// A venue's numeric market identifier (Lighter's NMR perp is 74).
public struct MarketID: Hashable, Sendable, CustomStringConvertible {
    public var value: Int
    public init(_ value: Int) { self.value = value }
    public var description: String { String(value) }
}

/// A trading symbol as the venue writes it (`NMRUSDT`, `NMR`).
public struct Symbol: Hashable, Sendable, CustomStringConvertible {
    public var value: String
    public init(_ value: String) { self.value = value }
    public var description: String { value }
}

/// A Numerai model name: lower-case letters, digits and underscores (the rule of the Numerai
/// sign-up form), 1 to 64 characters.
public struct ModelName: Hashable, Sendable, CustomStringConvertible {
    public let value: String
    public init?(_ text: String) {
        let lowered = text.lowercased()
        guard (1...64).contains(lowered.count),
            lowered.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 })
        else { return nil }
        value = lowered
    }
    public var description: String { value }
}

/// One maintenance bracket of a Binance-style tiered schedule: positions whose notional lies in
/// `[notionalFloor, notionalCap)` need `notional × maintenanceRate − maintenanceAmount`.
/// Binance USD-M `GET /fapi/v1/leverageBracket` (`notionalFloor`, `notionalCap`,
/// `maintMarginRatio`, `cum`, `initialLeverage`).
public struct MarginBracket: Hashable, Sendable {
    public var notionalFloor: Notional
    public var notionalCap: Notional
    public var maintenanceRate: Rate
    /// Binance's `cum`: the amount that keeps the requirement continuous across brackets.
    public var maintenanceAmount: Notional
    public var maxLeverage: Int

    public init(notionalFloor: Notional, notionalCap: Notional, maintenanceRate: Rate, maintenanceAmount: Notional, maxLeverage: Int) {
        self.notionalFloor = notionalFloor
        self.notionalCap = notionalCap
        self.maintenanceRate = maintenanceRate
        self.maintenanceAmount = maintenanceAmount
        self.maxLeverage = maxLeverage
    }

    /// Initial margin fraction `1 / maxLeverage`.
    public var initialRate: Rate { Rate(raw: Rate.scale / Int64(max(maxLeverage, 1))) }
}

/// A market's margin requirements.
public enum MarginSchedule: Hashable, Sendable {
    /// Flat fractions of notional (Lighter: `*_margin_fraction` out of 10,000 in
    /// `GET /api/v1/orderBookDetails`).
    case fractions(initial: Rate, maintenance: Rate)
    /// Tiers by notional (Binance USD-M leverage brackets), sorted by floor.
    case brackets([MarginBracket])
}

/// What a strategy needs to know about a market.
public struct MarketSpec: Hashable, Sendable {
    public var venue: VenueID
    public var symbol: Symbol
    public var marketID: MarketID?
    /// Smallest price step.
    public var tickSize: Price
    /// Smallest size step.
    public var lotSize: Quantity
    public var margin: MarginSchedule
    /// How often funding settles.
    public var fundingInterval: TimeSpan
    /// What a liquidation leaves the trader (docs/venues.md).
    public var liquidationRule: LiquidationRule

    public init(
        venue: VenueID, symbol: Symbol, marketID: MarketID?, tickSize: Price, lotSize: Quantity, margin: MarginSchedule,
        fundingInterval: TimeSpan, liquidationRule: LiquidationRule? = nil
    ) {
        self.venue = venue
        self.symbol = symbol
        self.marketID = marketID
        self.tickSize = tickSize
        self.lotSize = lotSize
        self.margin = margin
        self.fundingInterval = fundingInterval
        self.liquidationRule = liquidationRule ?? LiquidationRule.preset(for: venue)
    }

    /// Lighter's NMR perp (market 74) as `orderBookDetails` reported it: maintenance 2000,
    /// minimum initial 3333 (of 10,000), size decimals 2, price decimals 4, hourly funding
    /// (spec §5; shared/data/api/lighter/real_orderBookDetails_NMR_SOL_trimmed.json).
    public static let lighterNMR = MarketSpec(
        venue: .lighter, symbol: Symbol("NMR"), marketID: MarketID(74),
        tickSize: Price("0.0001")!, lotSize: Quantity("0.01")!,
        margin: .fractions(initial: Rate(basisPointsOf10000: 3333), maintenance: Rate(basisPointsOf10000: 2000)),
        fundingInterval: .hours(1), liquidationRule: .lighter)
}

/// One OHLCV bar. `openTime` is the bar's start (UTC).
public struct Candle: Hashable, Sendable {
    public var openTime: Timestamp
    public var open: Price
    public var high: Price
    public var low: Price
    public var close: Price
    public var volume: Quantity

    public init(openTime: Timestamp, open: Price, high: Price, low: Price, close: Price, volume: Quantity) {
        self.openTime = openTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
    }
}

/// A run of bars stored column by column (raw fixed-point integers), so that a decade of
/// one-minute bars scans at memory speed. Built only through validating loaders or `append`.
public struct CandleSeries: Sendable, Equatable {
    /// Open times in epoch milliseconds, strictly increasing.
    public private(set) var openTimes: [Int64] = []
    /// Raw ``Price`` values (scale 10^8).
    public private(set) var opens: [Int64] = []
    public private(set) var highs: [Int64] = []
    public private(set) var lows: [Int64] = []
    public private(set) var closes: [Int64] = []
    /// Raw ``Quantity`` values (scale 10^8).
    public private(set) var volumes: [Int64] = []

    public init() {}

    public init(_ candles: [Candle]) {
        reserveCapacity(candles.count)
        for candle in candles { append(candle) }
    }

    public mutating func reserveCapacity(_ count: Int) {
        openTimes.reserveCapacity(count)
        opens.reserveCapacity(count)
        highs.reserveCapacity(count)
        lows.reserveCapacity(count)
        closes.reserveCapacity(count)
        volumes.reserveCapacity(count)
    }

    /// Builds a series from columns that a loader has already validated (equal lengths,
    /// strictly increasing times, positive prices, `low ≤ open, close ≤ high`).
    public init(validatedOpenTimes openTimes: [Int64], opens: [Int64], highs: [Int64], lows: [Int64], closes: [Int64], volumes: [Int64]) {
        precondition(
            opens.count == openTimes.count && highs.count == openTimes.count && lows.count == openTimes.count
                && closes.count == openTimes.count && volumes.count == openTimes.count, "candle columns differ in length")
        self.openTimes = openTimes
        self.opens = opens
        self.highs = highs
        self.lows = lows
        self.closes = closes
        self.volumes = volumes
    }

    public var count: Int { openTimes.count }
    public var isEmpty: Bool { openTimes.isEmpty }

    public mutating func append(_ candle: Candle) {
        appendRaw(
            openTime: candle.openTime.milliseconds, open: candle.open.raw, high: candle.high.raw, low: candle.low.raw,
            close: candle.close.raw, volume: candle.volume.raw)
    }

    public mutating func appendRaw(openTime: Int64, open: Int64, high: Int64, low: Int64, close: Int64, volume: Int64) {
        openTimes.append(openTime)
        opens.append(open)
        highs.append(high)
        lows.append(low)
        closes.append(close)
        volumes.append(volume)
    }

    public subscript(index: Int) -> Candle {
        Candle(
            openTime: Timestamp(milliseconds: openTimes[index]), open: Price(raw: opens[index]), high: Price(raw: highs[index]),
            low: Price(raw: lows[index]), close: Price(raw: closes[index]), volume: Quantity(raw: volumes[index]))
    }

    public var candles: [Candle] { (0..<count).map { self[$0] } }

    /// The bars with `from ≤ openTime < to`.
    public func slice(from: Timestamp?, to: Timestamp?) -> CandleSeries {
        let lower = from.map { lowerBound($0.milliseconds) } ?? 0
        let upper = to.map { lowerBound($0.milliseconds) } ?? count
        var result = CandleSeries()
        guard lower < upper else { return result }
        result.openTimes = Array(openTimes[lower..<upper])
        result.opens = Array(opens[lower..<upper])
        result.highs = Array(highs[lower..<upper])
        result.lows = Array(lows[lower..<upper])
        result.closes = Array(closes[lower..<upper])
        result.volumes = Array(volumes[lower..<upper])
        return result
    }

    /// Index of the first bar with `openTime ≥ ms` (binary search; `count` when none).
    public func lowerBound(_ ms: Int64) -> Int {
        var low = 0
        var high = openTimes.count
        while low < high {
            let mid = (low + high) / 2
            if openTimes[mid] < ms { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The bar interval: the smallest positive difference between consecutive open times
    /// (`nil` with fewer than two bars).
    public var barInterval: TimeSpan? {
        guard count >= 2 else { return nil }
        var smallest = Int64.max
        for index in 1..<count {
            let difference = openTimes[index] - openTimes[index - 1]
            if difference > 0 && difference < smallest { smallest = difference }
        }
        return smallest == .max ? nil : TimeSpan(milliseconds: smallest)
    }
}

/// One funding settlement: the rate for one interval, settled at `time`.
/// Positive: longs pay shorts (Binance `fundingRate`, Lighter `fundings` with its direction
/// applied; spec §3).
public struct FundingRate: Hashable, Sendable {
    public var time: Timestamp
    public var rate: Rate
    /// The interval this rate covers (Lighter 1 h; Binance 8 h, 4 h or 1 h, changing over time).
    public var interval: TimeSpan

    public init(time: Timestamp, rate: Rate, interval: TimeSpan) {
        self.time = time
        self.rate = rate
        self.interval = interval
    }

    /// How late a venue may stamp a settlement: Binance's `fundingTime` runs up to 17 ms past
    /// the hour (shared/data/binance_usdm_NMRUSDT_funding_*.csv), so a settlement stamped within
    /// one second after a bar's open belongs to that bar, not the next (issue 10, point 7b).
    public static let stampTolerance: Int64 = 1_000

    /// The time the settlement is due, with the venue's stamping jitter taken off, in epoch
    /// milliseconds: it is settled at the first bar opening at or after this.
    @inlinable public var dueMilliseconds: Int64 { time.milliseconds - Self.stampTolerance }

    /// Whether the settlement is settled at (or before) the bar opening at `open`.
    @inlinable public func isDue(atBarOpening open: Timestamp) -> Bool { dueMilliseconds <= open.milliseconds }
}
