import ArgumentParser
import Foundation
import PerpHedge
import PerpMarketData
import PerpModel
import PerpSimulation
import PerpStore
import PerpVenues

/// A user error: one line that says what to fix; exit code 1, no stack trace.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Parses option text into exact units with messages that name the option.
enum Parse {
    static func positive<Unit: FixedPointValue>(_ text: String, _ option: String, _ what: String, example: String) throws -> Unit {
        guard let value = Unit(text) else { throw CLIError("\(option) must be \(what), e.g. \(option) \(example) (got \"\(text)\")") }
        guard value.isPositive else { throw CLIError("\(option) must be greater than zero (got \(text))") }
        return value
    }

    /// A starting capital for the simulated venue: positive and at most ``AmountLimit/notional``.
    static func capital(_ text: String, currency: String) throws -> Notional {
        let capital: Notional = try positive(text, "--capital", "a \(currency) amount", example: "10000")
        guard capital <= AmountLimit.notional else {
            throw CLIError("--capital must be at most \(AmountLimit.notional) (the most the simulated venue carries; got \(capital))")
        }
        return capital
    }

    static func nonNegative<Unit: FixedPointValue>(_ text: String, _ option: String, _ what: String, example: String) throws -> Unit {
        guard let value = Unit(text) else { throw CLIError("\(option) must be \(what), e.g. \(option) \(example) (got \"\(text)\")") }
        guard !value.isNegative else { throw CLIError("\(option) cannot be negative (got \(text))") }
        return value
    }

    static func fraction(_ text: String, _ option: String, example: String) throws -> Rate {
        guard let value = Rate(text) else {
            throw CLIError("\(option) must be a fraction between 0 and 1, e.g. \(option) \(example) (got \"\(text)\")")
        }
        guard value.isPositive, value < Rate.one else {
            throw CLIError("\(option) must be between 0 and 1, exclusive (got \(text)); Lighter's NMR maintenance fraction is 0.2")
        }
        return value
    }

    /// The simulated venue's settings from the options `backtest` and `paper` share
    /// (`--margin`, `--maintenance-fraction`, `--fee-taker`, `--fee-maker`, `--slippage-bps`).
    static func venue(
        margin: String, maintenanceFraction: String, feeTaker: String, feeMaker: String, slippageBps: String,
        liquidationRule: String? = nil
    ) throws
        -> VenueConfig
    {
        var config = VenueConfig()
        guard let mode = MarginMode(rawValue: margin.lowercased()) else {
            throw CLIError("--margin must be isolated or cross (got \"\(margin)\")")
        }
        config.marginMode = mode
        config.maintenanceFraction = try fraction(maintenanceFraction, "--maintenance-fraction", example: "0.01")
        config.takerFee = try nonNegative(feeTaker, "--fee-taker", "a fee rate", example: "0.0005")
        config.makerFee = try nonNegative(feeMaker, "--fee-maker", "a fee rate", example: "0.0002")
        let bps: Rate = try nonNegative(slippageBps, "--slippage-bps", "basis points", example: "5")
        config.slippage = bps.isZero ? .none : .fixed(Rate(raw: bps.raw / 10_000))
        if let liquidationRule { config.liquidationRule = try self.liquidationRule(liquidationRule) }
        return config
    }

    /// `--liquidation-rule`: a ``LiquidationRule`` preset by name.
    static func liquidationRule(_ text: String) throws -> LiquidationRule {
        guard let rule = LiquidationRule.named(text) else {
            let names = LiquidationRule.presets.map(\.name).joined(separator: ", ")
            throw CLIError("--liquidation-rule must be one of \(names) (got \"\(text)\")")
        }
        return rule
    }

    /// The help text of `--liquidation-rule`.
    static let liquidationRuleHelp =
        "What a liquidation leaves you: binance-usdm (default; the venue keeps the remaining margin), lighter and conservative (you keep nothing of the position's margin), keep-remainder (optimistic: you keep what is left after the fill and its fee). See docs/venues.md."

    static func span(_ text: String, _ option: String) throws -> TimeSpan {
        guard let span = TimeSpan(parsing: text) else {
            throw CLIError("\(option) must be a length such as 30d, 12h, 5m or 90s (got \"\(text)\")")
        }
        return span
    }

    static func timestamp(_ text: String, _ option: String) throws -> Timestamp {
        guard let stamp = Timestamp(parsing: text) else {
            throw CLIError("\(option) must be a UTC date or time such as 2025-01-31 or 2025-01-31T12:00:00Z (got \"\(text)\")")
        }
        return stamp
    }

    /// `--step`: a length (`7d`, `5m`), or `bar` for every bar's open time.
    static func step(_ text: String) throws -> WindowStep {
        if ["bar", "every", "all"].contains(text.lowercased()) { return .everyBar }
        return .every(try span(text, "--step"))
    }
}

/// Where the tool keeps its cache and how it reaches the network.
struct Environment {
    static var values: [String: String] { ProcessInfo.processInfo.environment }

    static var home: String {
        if let home = values["NMRPERP_HOME"], !home.isEmpty { return home }
        return (values["HOME"] ?? ".") + "/.nmrperp"
    }

    static var offline: Bool {
        guard let flag = values["NMRPERP_OFFLINE"]?.lowercased() else { return false }
        return ["1", "true", "yes"].contains(flag)
    }

    static var now: Timestamp { Timestamp(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }

    static func openStore() throws -> MarketDataStore { try MarketDataStore(path: home + "/market.sqlite") }

    static func history() throws -> CachedHistory {
        CachedHistory(store: try openStore(), endpoints: .fromEnvironment(values))
    }

    static func requireNetwork(_ what: String) throws {
        if offline {
            throw CLIError("\(what) needs the network, and NMRPERP_OFFLINE is set; unset it or pass the value on the command line")
        }
    }
}

/// Loads a data file, turning any failure into one clear line that names the flag and, when the
/// file is the other kind of history, says which flag takes it (``InputMessages``).
enum Load {
    static func candles(_ path: String, flag: String = "--data") throws -> CandleSeries {
        do { return try MarketDataFiles.loadCandles(path) } catch {
            throw InputMessages.error(error, flag: flag, wants: .candles)
        }
    }

    static func funding(_ path: String, defaultInterval: TimeSpan, flag: String = "--funding") throws -> [FundingRate] {
        do { return try MarketDataFiles.loadFunding(path, defaultInterval: defaultInterval) } catch {
            throw InputMessages.error(error, flag: flag, wants: .funding)
        }
    }
}

/// Shows progress of long work on standard error: a bar redrawn in place on a terminal, a line
/// every 10 % otherwise. Never on standard output, so `--json` stays clean.
final class ProgressBar: @unchecked Sendable {
    let label: String
    let interactive = isatty(2) != 0
    private var lastShown = -1
    private let lock = NSLock()

    init(_ label: String) { self.label = label }

    func update(_ done: Int, _ expected: Int) {
        lock.lock()
        defer { lock.unlock() }
        guard expected > 0 else {
            if interactive { write("\r\(label): \(done)") }
            return
        }
        let percent = min(100, done * 100 / expected)
        if interactive {
            guard percent != lastShown else { return }
            let filled = percent * 30 / 100
            write(
                "\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 30 - filled))] \(percent)% (\(done)/\(expected))"
            )
        } else if percent / 10 != lastShown / 10 || lastShown < 0 {
            write("\(label): \(percent)% (\(done)/\(expected))\n")
        }
        lastShown = percent
    }

    func finish() {
        if interactive && lastShown >= 0 { write("\n") }
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}

func printError(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// Renders label/value pairs and tables as aligned text.
enum TextTable {
    static func pairs(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    static func grid(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                return index == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

func percent(_ fraction: Double, places: Int = 2) -> String { formatFixed(fraction * 100, places) + " %" }

func formatFixed(_ value: Double, _ places: Int) -> String {
    guard value.isFinite else { return String(value) }
    let factor = (0..<places).reduce(1.0) { acc, _ in acc * 10 }
    let rounded = (abs(value) * factor).rounded(.toNearestOrEven)
    let raw = Int64(rounded) * (value < 0 ? -1 : 1)
    return DecimalFormatter.string(raw: raw, decimals: places, minimumFraction: places)
}

/// Runs async work from a synchronous context is not needed: commands are async.
func emit(json: JSONValue) { print(json.serialized(pretty: true)) }
