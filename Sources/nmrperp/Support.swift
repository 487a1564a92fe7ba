import ArgumentParser
import Foundation
import PerpEngine
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
    /// A positive value of `Unit`, at most `limit` (by default what the tool carries of that
    /// unit, ``CarryLimit``); every message names the option, and a value beyond the limit
    /// names the limit (issue 11).
    static func positive<Unit: FixedPointValue>(
        _ text: String, _ option: String, _ what: String, example: String, atMost limit: Unit? = nil, limitName: String? = nil
    ) throws -> Unit {
        let value: Unit = try number(text, option, what, example: example, atMost: limit, limitName: limitName)
        guard value.isPositive else { throw CLIError("\(option) must be greater than zero (got \(text))") }
        return value
    }

    /// A value of `Unit` that is zero or more, at most `limit` (see ``positive(_:_:_:example:atMost:limitName:)``).
    static func nonNegative<Unit: FixedPointValue>(
        _ text: String, _ option: String, _ what: String, example: String, atMost limit: Unit? = nil, limitName: String? = nil
    ) throws -> Unit {
        let value: Unit = try number(text, option, what, example: example, atMost: limit, limitName: limitName)
        guard !value.isNegative else { throw CLIError("\(option) cannot be negative (got \(text))") }
        return value
    }

    /// Parses `text` exactly and checks it against `limit` (or the unit's ``CarryLimit``).
    private static func number<Unit: FixedPointValue>(
        _ text: String, _ option: String, _ what: String, example: String, atMost limit: Unit?, limitName: String?
    ) throws -> Unit {
        let (defaultLimit, defaultName) = carried(Unit.self)
        let bound = limit ?? defaultLimit
        let name = limitName ?? defaultName
        guard let value = Unit(text) else {
            if looksNumeric(text) {
                throw CLIError("\(option) must be at most \(bound) (\(name); got \(clipped(text)))")
            }
            throw CLIError("\(option) must be \(what), e.g. \(option) \(example) (got \"\(clipped(text))\")")
        }
        guard value.magnitude <= bound else { throw CLIError("\(option) must be at most \(bound) (\(name); got \(clipped(text)))") }
        return value
    }

    /// What the tool carries of a unit, and its name in messages.
    static func carried<Unit: FixedPointValue>(_: Unit.Type) -> (Unit, String) {
        if let limit = CarryLimit.price as? Unit { return (limit, "the highest price the tool carries, in USDC per NMR") }
        if let limit = CarryLimit.quantity as? Unit { return (limit, "the most NMR the tool carries") }
        if let limit = CarryLimit.notional as? Unit { return (limit, "the most USDC the tool carries") }
        if let limit = CarryLimit.multiple as? Unit { return (limit, "the largest multiple the tool carries") }
        return (Unit(raw: Int64.max), "the largest value the tool carries")
    }

    /// Whether `text` is a number (sign, digits, point, exponent) that simply does not fit.
    static func looksNumeric(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.contains(where: { $0 >= 48 && $0 <= 57 })
            && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == 43 || $0 == 45 || $0 == 46 || $0 == 101 || $0 == 69 }
    }

    /// `text` as a message quotes it: short, control bytes escaped (``InputLimits/excerpt(_:)``).
    static func clipped(_ text: String) -> String { InputLimits.excerpt(text) }

    /// A starting capital for the simulated venue: positive and at most ``CarryLimit/notional``.
    static func capital(_ text: String, currency: String) throws -> Notional {
        try positive(
            text, "--capital", "a \(currency) amount", example: "10000", atMost: CarryLimit.notional,
            limitName: "the most the simulated venue carries")
    }

    /// `--leverage`: between ``CarryLimit/minimumLeverage`` and ``CarryLimit/leverage``.
    static func leverage(_ text: String, _ option: String = "--leverage") throws -> Rate {
        let value: Rate = try positive(
            text, option, "a positive multiple", example: "3", atMost: CarryLimit.leverage,
            limitName: "the highest leverage the tool carries; Binance offers at most 125")
        guard value >= CarryLimit.minimumLeverage else {
            throw CLIError("\(option) must be at least \(CarryLimit.minimumLeverage) (got \(clipped(text)))")
        }
        return value
    }

    /// A fee or slippage rate: from 0 to 1 (100 %).
    static func feeRate(_ text: String, _ option: String, example: String) throws -> Rate {
        try nonNegative(text, option, "a fee rate (a fraction)", example: example, atMost: CarryLimit.rate, limitName: "100 %")
    }

    static func fraction(_ text: String, _ option: String, example: String) throws -> Rate {
        guard let value = Rate(text) else {
            throw CLIError("\(option) must be a fraction between 0 and 1, e.g. \(option) \(example) (got \"\(clipped(text))\")")
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
        config.takerFee = try feeRate(feeTaker, "--fee-taker", example: "0.0005")
        config.makerFee = try feeRate(feeMaker, "--fee-maker", example: "0.0002")
        let bps: Rate = try nonNegative(
            slippageBps, "--slippage-bps", "basis points", example: "5", atMost: Rate(10_000), limitName: "10000 bps, 100 %")
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

    /// A positive length of at most `limit` (``CarryLimit/span``, 100 years, unless told): the
    /// message names the option, and the limit when the length is beyond it.
    static func span(_ text: String, _ option: String, atMost limit: TimeSpan = CarryLimit.span) throws -> TimeSpan {
        switch TimeSpan.parse(text, atMost: limit) {
        case .success(let span): return span
        case .failure(let error): throw CLIError(spanProblem(error, option, text))
        }
    }

    /// The sentence for a refused length, shared by flags and the bot configuration's keys.
    static func spanProblem(_ error: TimeSpan.ParseError, _ name: String, _ text: String) -> String {
        switch error {
        case .notALength: return "\(name) must be a length such as 30d, 12h, 5m or 90s (got \"\(text)\")"
        case .notPositive: return "\(name) must be a positive length such as 30d, 12h, 5m or 90s (got \(text))"
        case .tooLong(let limit): return "\(name) must be at most \(limit.inYears) (got \(text))"
        }
    }

    /// A UTC time from years 0001 to 9999 (``Timestamp/representable``).
    static func timestamp(_ text: String, _ option: String) throws -> Timestamp {
        guard let stamp = Timestamp(parsing: text) else {
            throw CLIError(
                "\(option) must be a UTC date or time from 0001-01-01 to 9999-12-31, such as 2025-01-31 or 2025-01-31T12:00:00Z (got \"\(text)\")"
            )
        }
        return stamp
    }

    /// `--step`: a length (`7d`, `5m`), or `bar` for every bar's open time.
    static func step(_ text: String) throws -> WindowStep {
        if ["bar", "every", "all"].contains(text.lowercased()) { return .everyBar }
        switch TimeSpan.parse(text) {
        case .success(let span): return .every(span)
        case .failure(.notALength):
            throw CLIError("--step must be a length such as 7d or 5m, or bar for every bar's open time (got \"\(text)\")")
        case .failure(let error): throw CLIError(spanProblem(error, "--step", text))
        }
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

    /// Refuses work that needs the network when NMRPERP_OFFLINE is set; `instead` names what
    /// the user can pass on the command line in its place, only where there is such a value.
    static func requireNetwork(_ what: String, instead: String? = nil) throws {
        if offline {
            throw CLIError(
                "\(what) needs the network, and NMRPERP_OFFLINE is set; unset it" + (instead.map { " or \($0)" } ?? ""))
        }
    }
}

/// Loads a data file, turning any failure into one clear line that names the flag and, when the
/// file is the other kind of history, says which flag takes it (``InputMessages``).
enum Load {
    /// The bars of `path` inside `range` (all of them by default).
    static func candles(_ path: String, flag: String = "--data", range: HistoryRange = .all) throws -> CandleSeries {
        let series: CandleSeries
        do { series = try MarketDataFiles.loadCandles(path) } catch {
            throw InputMessages.error(error, flag: flag, wants: .candles)
        }
        return try range.candles(series, source: path)
    }

    /// The funding settlements of `path` inside `range` (all of them by default).
    static func funding(_ path: String, defaultInterval: TimeSpan, flag: String = "--funding", range: HistoryRange = .all) throws
        -> [FundingRate]
    {
        do { return range.funding(try MarketDataFiles.loadFunding(path, defaultInterval: defaultInterval)) } catch {
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

    private let started = Date()

    init(_ label: String) { self.label = label }

    /// " ETA 1m05s" once a second has passed and some work is done; "" before.
    private func eta(_ done: Int, _ expected: Int) -> String {
        let elapsed = Date().timeIntervalSince(started)
        guard done > 0, done < expected, elapsed >= 1 else { return "" }
        let remaining = Int((elapsed / Double(done) * Double(expected - done)).rounded(.up))
        return " ETA "
            + (remaining >= 3600
                ? "\(remaining / 3600)h\(String(format: "%02d", remaining % 3600 / 60))m"
                : remaining >= 60 ? "\(remaining / 60)m\(String(format: "%02d", remaining % 60))s" : "\(remaining)s")
    }

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
                "\r\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 30 - filled))] \(percent)% (\(done)/\(expected))\(eta(done, expected))\u{1B}[K"
            )
        } else if percent / 10 != lastShown / 10 || lastShown < 0 {
            write("\(label): \(percent)% (\(done)/\(expected))\(eta(done, expected))\n")
        }
        lastShown = percent
    }

    /// Ends the bar's line (once; later calls do nothing until the bar is drawn again).
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if interactive && lastShown >= 0 { write("\n") }
        lastShown = -1
    }

    /// Runs a download under this bar. The bar's line is ended before an error is printed, so
    /// the error starts on its own line, and the error says whether running the same command
    /// again resumes (`resume`) or starts over (issue 15, "Errors and help").
    func download<T>(resume: String?, _ body: () async throws -> T) async throws -> T {
        do {
            let value = try await body()
            finish()
            return value
        } catch {
            finish()
            let next = resume ?? "running it again starts over"
            throw CLIError("\(label) stopped: \(error); \(next)")
        }
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

    /// A table: the first `leftAligned` columns flush left (names), the rest flush right (figures).
    static func grid(_ header: [String], _ rows: [[String]], leftAligned: Int = 1) -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: max(0, widths[index] - cell.count))
                return index < leftAligned ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingSuffix(while: \.isWhitespace)
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

func percent(_ fraction: Double, places: Int = 2) -> String { formatFixed(fraction * 100, places) + " %" }

/// `value` with exactly `places` decimals; never traps (a value too large for them prints its
/// 15 significant digits).
func formatFixed(_ value: Double, _ places: Int) -> String {
    guard value.isFinite else { return String(value) }
    let factor = (0..<places).reduce(1.0) { acc, _ in acc * 10 }
    let rounded = (abs(value) * factor).rounded(.toNearestOrEven)
    // Beyond what an Int64 holds at `places` decimals: the significant digits instead (issue 11).
    guard rounded < 9.0e18 else { return formatDouble(value, significant: 15) }
    let raw = Int64(rounded) * (value < 0 ? -1 : 1)
    return DecimalFormatter.string(raw: raw, decimals: places, minimumFraction: places)
}

/// Runs async work from a synchronous context is not needed: commands are async.
func emit(json: JSONValue) { print(json.serialized(pretty: true)) }

/// What an action did: the sentence a person reads or, with `--json`, one object of `members`
/// with that sentence as `message` (README, "JSON vocabulary").
func announce(_ message: String, json: Bool, _ members: [(String, JSONValue)]) {
    if json { emit(json: .object(members + [("message", .string(message))])) } else { print(message) }
}

/// A session's journal: JSON Lines on standard output or in `out`; with `--json`, one object
/// instead, `{"name", "rows": [...]}`, or after writing `out`, `{"name", "file", "journal_rows"}`.
/// Stored lines are exported in today's vocabulary (``JournalEntry/currentLine(_:)``).
func exportJournalLines(name: String, lines stored: [String], out: String?, force: Bool, json: Bool) throws {
    let lines = stored.map { JournalEntry.currentLine($0) }
    let text = lines.map { $0 + "\n" }.joined()
    if let out {
        try writeAtomically(text, to: out, force: force)
        if json {
            emit(json: .object([("name", .string(name)), ("file", .string(out)), ("journal_rows", .int(lines.count))]))
        }
    } else if json {
        emit(json: .object([("name", .string(name)), ("rows", .array(lines.map { JournalEntry.currentVocabulary($0) }))]))
    } else {
        print(text, terminator: "")
    }
}

/// Ctrl-C and SIGTERM for a long-running command: they cancel its task (which stops at its
/// next await and says where it stopped) instead of killing the process mid-write.
struct Interrupts {
    let sources: [any DispatchSourceSignal]

    static func cancel<Success, Failure>(_ task: Task<Success, Failure>) -> Interrupts {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        return Interrupts(
            sources: [SIGINT, SIGTERM].map { number in
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { task.cancel() }
                source.resume()
                return source
            })
    }

    func remove() { for source in sources { source.cancel() } }
}

extension String {
    /// The text without the trailing characters that match `predicate` (a table's padding).
    func trimmingSuffix(while predicate: (Character) -> Bool) -> String {
        var text = self
        while let last = text.last, predicate(last) { text.removeLast() }
        return text
    }
}
