import Foundation
import PerpEngine
import PerpMarketData
import PerpModel
import PerpSimulation
import Yams

/// Why a configuration could not be loaded: one message for a person (``description``, the
/// text the CLI prints after `Error:`), and for a program which kind of failure it was and, for
/// a file with problems, every one of them.
public struct BotConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// No file at the path.
        case missing
        /// The file exists but could not be read as a configuration's text (not a regular file,
        /// too large, a NUL byte, a line too long, not UTF-8, or the system refused).
        case unreadable
        /// The text is not YAML; the message gives the line and column.
        case notYAML
        /// The file is YAML and has the ``problems`` listed.
        case problems
    }

    public var kind: Kind
    /// The problems found (`kind == .problems`; empty otherwise), all of them even when the
    /// message shows only the first few.
    public var problems: [BotConfigFile.Problem]
    public var description: String

    public init(kind: Kind, description: String, problems: [BotConfigFile.Problem] = []) {
        self.kind = kind
        self.description = description
        self.problems = problems
    }
}

/// Reads and writes the bot's YAML configuration (spec §4). Keys are snake_case and grouped as
/// in ``BotConfig``; a missing key keeps its default. Exact values (`Rate`) are parsed from the
/// scalar's text, never through `Double`, so `stop_loss: 0.025` is exactly 0.025.
///
/// One reader for every user: the CLI (`bot check`, `backtest`, `paper`), the live runtime and
/// the dashboard load a file the same way and get the same messages.
public enum BotConfigFile {
    /// One thing wrong with a file: the dotted key it concerns (`risk.stop_loss`), what to change,
    /// and the line it is on when known.
    public struct Problem: Equatable, Sendable {
        /// The dotted key (`risk.stop_loss`), or `(file)` / `(config)` / a group's name for a
        /// problem that is not one key's.
        public var key: String
        public var message: String
        /// The file's line (1-based) when known.
        public var line: Int?

        public init(key: String, message: String, line: Int?) {
            self.key = key
            self.message = message
            self.line = line
        }

        /// `key: message (line N)`.
        public var text: String { "\(key): \(message)" + (line.map { " (line \($0))" } ?? "") }

        /// `{"key": …, "message": …, "line": N or null}`.
        public var json: JSONValue {
            .object([("key", .string(key)), ("message", .string(message)), ("line", line.map { .int($0) } ?? .null)])
        }
    }

    /// Loads `path`, throwing one ``BotConfigError`` that lists every problem at once: the first
    /// line is `FILE: N problems:`, then one `  - key: message` line each (the first four, see
    /// ``error(path:_:shown:)``). Malformed YAML throws the parser's line and column on one line;
    /// a missing or unreadable file says so.
    public static func load(path: String) throws(BotConfigError) -> BotConfig {
        let (config, problems) = try read(path: path)
        if !problems.isEmpty { throw error(path: path, problems) }
        return config
    }

    /// The error that lists `problems` (the one multi-line message: listing everything at once
    /// saves a round trip per mistake).
    ///
    /// `shown` caps the list for the commands that only load a configuration (`backtest`,
    /// `paper`): the first problems, then one line that points at `bot check`, which lists every
    /// one (`shown: nil`). Five lines at most, so an error stays an error, not a page (issue 11).
    public static func error(path: String, _ problems: [Problem], shown: Int? = 4) -> BotConfigError {
        let head = "\(path): \(problems.count) problem\(problems.count == 1 ? "" : "s"):"
        let limit = max(0, shown ?? problems.count)
        var lines = [head] + problems.prefix(limit).map { "  - " + $0.text }
        if problems.count > limit {
            lines.append("  … and \(problems.count - limit) more; `nmrperp bot check --config \(path)` lists them all")
        }
        return BotConfigError(kind: .problems, description: lines.joined(separator: "\n"), problems: problems)
    }

    /// The configuration in `path` and every problem found in it (empty when valid). Throws only
    /// when the file is missing, cannot be read, or is not YAML.
    public static func read(path: String) throws(BotConfigError) -> (BotConfig, [Problem]) {
        let (file, problems) = try readFile(path: path)
        return (file.bot, problems)
    }

    /// The whole file in `path` (rules, account and venue) and every problem found in it.
    public static func readFile(path: String) throws(BotConfigError) -> (ConfigFile, [Problem]) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw BotConfigError(kind: .missing, description: "\(path): no such file; create one with `nmrperp bot init --out \(path)`")
        }
        return try parseFile(yaml: text(path), file: path)
    }

    /// A configuration file's text: a regular file of at most ``InputLimits/maxConfigBytes``,
    /// with no NUL byte and no line longer than ``InputLimits/maxLineBytes``, in UTF-8 (the
    /// bounded read every input file goes through, PerpMarketData/Files.swift and TextLimits.swift).
    static func text(_ path: String) throws(BotConfigError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try MarketDataFiles.readBytes(path, limit: InputLimits.maxConfigBytes)
            try InputLimits.check(bytes, source: path)
        } catch let error as FileReadError {
            throw BotConfigError(kind: .unreadable, description: error.description)
        } catch {
            throw BotConfigError(kind: .unreadable, description: String(describing: error))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw BotConfigError(kind: .unreadable, description: "\(path): not UTF-8 text")
        }
        return text
    }

    /// Every key a value can be given for, dotted (`risk.stop_loss`), in the file's order.
    public static var keys: [String] { Setting.all.map(\.path) }

    /// Whether `key` holds a number (`true`) or a length of time (`false`); `nil` for no such key.
    public static func isNumeric(_ key: String) -> Bool? {
        guard let setting = Setting.all.first(where: { $0.path == key }) else { return nil }
        if case .span = setting.kind { return false }
        return true
    }

    /// `config` with each `(key, value)` set as if the file said `key: value` (a sweep's point,
    /// issue 15): the problems are those of unknown keys, of values the key cannot hold, and of
    /// the whole configuration afterwards (``BotConfig/problems()``).
    public static func applying(_ overrides: [(key: String, value: String)], to config: BotConfig) -> (BotConfig, [Problem]) {
        var config = config
        var problems: [Problem] = []
        for (key, value) in overrides {
            guard let setting = Setting.all.first(where: { $0.path == key }) else {
                problems.append(Problem(key: key, message: "is not a key of the bot configuration", line: nil))
                continue
            }
            if let message = setting.assign(Node.scalar(Node.Scalar(value)), to: &config) {
                problems.append(Problem(key: key, message: message, line: nil))
            }
        }
        if problems.isEmpty { problems = config.problems().map { problem($0, [:]) } }
        return (config, problems)
    }

    /// Parses YAML text; `file` names it in messages. Returns the configuration (defaults for
    /// every key left out or wrong) and every problem found; throws only for text that is not
    /// YAML (``BotConfigError/Kind/notYAML``).
    public static func parse(yaml: String, file: String) throws(BotConfigError) -> (BotConfig, [Problem]) {
        let (parsed, problems) = try parseFile(yaml: yaml, file: file)
        return (parsed.bot, problems)
    }

    /// Parses the whole file: the bot's rules and the `account:` and `venue:` sections
    /// (``ConfigFile``), with every problem found in either.
    public static func parseFile(yaml: String, file: String) throws(BotConfigError) -> (ConfigFile, [Problem]) {
        let root: Node?
        do { root = try Yams.compose(yaml: yaml) } catch let error as YamlError {
            throw BotConfigError(kind: .notYAML, description: file + ":" + describe(error))
        } catch {
            throw BotConfigError(kind: .notYAML, description: "\(file): not valid YAML: \(oneLine(String(describing: error)))")
        }
        var config = BotConfig()
        var problems: [Problem] = []
        var lines: [String: Int] = [:]
        var trading: [(path: String, raw: String, line: Int?)] = []
        func result() -> (ConfigFile, [Problem]) {
            let (settings, tradingProblems) = TradingKey.settings(trading)
            var sources: [String: String] = [:]
            for (key, line) in lines { sources[key] = "\(file) line \(line)" }
            for value in trading { sources[value.path] = value.line.map { "\(file) line \($0)" } ?? file }
            return (ConfigFile(bot: config, trading: settings, sources: sources), problems + tradingProblems)
        }
        guard let root else {
            problems = config.problems().map { problem($0, lines) }
            return result()
        }
        guard let top = root.mapping else {
            problems = [
                Problem(key: "(file)", message: "must be a mapping of keys such as `risk:`, not \(kind(of: root))", line: root.mark?.line)
            ]
            return result()
        }
        let settings = Setting.all
        let groups = Setting.groups
        for (keyNode, value) in top {
            guard let key = keyNode.scalar?.string else {
                problems.append(Problem(key: "(file)", message: "keys must be plain names", line: keyNode.mark?.line))
                continue
            }
            if TradingKey.groups.contains(key) {
                guard let members = value.mapping else {
                    if !isNull(value) {
                        let names = TradingKey.all.filter { $0.group == key }.map(\.name).joined(separator: ", ")
                        let message = "must be a group of keys indented below it (\(names)), not \(kind(of: value))"
                        problems.append(Problem(key: key, message: message, line: value.mark?.line ?? keyNode.mark?.line))
                    }
                    continue
                }
                for (memberNode, memberValue) in members {
                    guard let member = memberNode.scalar?.string else {
                        problems.append(Problem(key: key, message: "keys must be plain names", line: memberNode.mark?.line))
                        continue
                    }
                    let path = "\(key).\(member)"
                    let line = memberValue.mark?.line ?? memberNode.mark?.line
                    guard TradingKey.all.contains(where: { $0.path == path }) else {
                        problems.append(Problem(key: path, message: unknown(member, group: key), line: memberNode.mark?.line))
                        continue
                    }
                    guard let scalar = memberValue.scalar, !isNull(memberValue) else {
                        let message =
                            memberValue.scalar != nil
                            ? "has no value; write one, or remove the line to keep the default"
                            : "must be a single value, not \(kind(of: memberValue))"
                        problems.append(Problem(key: path, message: message, line: line))
                        continue
                    }
                    trading.append((path, scalar.string.trimmingCharacters(in: .whitespaces), line))
                }
            } else if groups.contains(key) {
                guard let members = value.mapping else {
                    if !isNull(value) {
                        let names = settings.filter { $0.group == key }.map(\.key).joined(separator: ", ")
                        let message = "must be a group of keys indented below it (\(names)), not \(kind(of: value))"
                        problems.append(Problem(key: key, message: message, line: value.mark?.line ?? keyNode.mark?.line))
                    }
                    continue
                }
                for (memberNode, memberValue) in members {
                    guard let member = memberNode.scalar?.string else {
                        problems.append(Problem(key: key, message: "keys must be plain names", line: memberNode.mark?.line))
                        continue
                    }
                    let path = "\(key).\(member)"
                    guard let setting = settings.first(where: { $0.group == key && $0.key == member }) else {
                        problems.append(Problem(key: path, message: unknown(member, group: key), line: memberNode.mark?.line))
                        continue
                    }
                    lines[path] = memberValue.mark?.line ?? memberNode.mark?.line
                    if let message = setting.assign(memberValue, to: &config) {
                        problems.append(Problem(key: path, message: message, line: lines[path]))
                    }
                }
            } else if let setting = settings.first(where: { $0.group == nil && $0.key == key }) {
                lines[key] = value.mark?.line ?? keyNode.mark?.line
                if let message = setting.assign(value, to: &config) {
                    problems.append(Problem(key: key, message: message, line: lines[key]))
                }
            } else {
                problems.append(Problem(key: key, message: unknown(key, group: nil), line: keyNode.mark?.line))
            }
        }
        problems += config.problems().map { problem($0, lines) }
        return result()
    }

    // MARK: The default file

    /// A commented configuration holding every default; loading it gives exactly `BotConfig()`
    /// (what `nmrperp bot init` writes).
    public static func defaultYAML() -> String { yaml(ConfigFile(bot: BotConfig(), trading: TradingSettings())) }

    /// `file` as a commented configuration (the layout and comments of ``defaultYAML()``):
    /// loading it gives `file` back.
    public static func yaml(_ file: ConfigFile, heading: [String] = []) -> String {
        let defaults = file.bot
        var lines =
            heading.map { "# " + $0 } + [
                "# nmrperp trading bot configuration (spec §4; rules from seeds 000 and 001, corrected).",
                "# Every key is optional: a key left out keeps the default shown here. Fractions are",
                "# decimals (0.025 = 2.5 %), lengths of time are a whole number and a unit (15m, 6h, 7d),",
                "# hours of the day are whole numbers in UTC. Check a file with:",
                "#   nmrperp bot check --config bot.yaml",
            ]
        var group: String?? = .none
        for setting in Setting.all {
            if group != .some(setting.group) {
                group = .some(setting.group)
                lines.append("")
                if let name = setting.group {
                    lines += Setting.groupComments[name, default: []].map { "# " + $0 }
                    lines.append("\(name):")
                }
            }
            let indent = setting.group == nil ? "" : "  "
            lines += setting.comment.map { indent + "# " + $0 }
            lines.append(indent + setting.key + ": " + setting.text(defaults))
        }
        lines += TradingKey.yaml(file.trading)
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Output

    /// The effective settings as JSON, grouped like the file.
    public static func json(_ config: BotConfig) -> JSONValue {
        var top: [(String, JSONValue)] = []
        var grouped: [String: [(String, JSONValue)]] = [:]
        for setting in Setting.all {
            if let group = setting.group {
                if grouped[group] == nil { top.append((group, .null)) }
                grouped[group, default: []].append((setting.key, setting.json(config)))
            } else {
                top.append((setting.key, setting.json(config)))
            }
        }
        return .object(top.map { key, value in grouped[key].map { (key, .object($0)) } ?? (key, value) })
    }

    /// Every setting as (dotted key, value, default value).
    public static func rows(_ config: BotConfig) -> [(key: String, value: String, defaultValue: String)] {
        let defaults = BotConfig()
        return Setting.all.map { ($0.path, $0.text(config), $0.text(defaults)) }
    }

    // MARK: Helpers

    /// A YAML error on one line, after the file name: ` not valid YAML at line L, column C: problem`.
    private static func describe(_ error: YamlError) -> String {
        func context(_ context: YamlError.Context?) -> String {
            guard let context else { return "" }
            return " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
        }
        switch error {
        case .scanner(let ctx, let problem, let mark, _), .parser(let ctx, let problem, let mark, _),
            .composer(let ctx, let problem, let mark, _):
            return " not valid YAML at line \(mark.line), column \(mark.column): \(problem)\(context(ctx))"
        case .duplicatedKeysInMapping(let duplicates, let ctx):
            let keys = duplicates.sorted().joined(separator: ", ")
            let mark = ctx.mark
            return " not valid YAML: \(keys) appears more than once in the group starting at line \(mark.line), column \(mark.column)"
        case .reader(let problem, let offset, _, let yaml):
            if let offset, offset <= yaml.utf8.count {
                let before = yaml.utf8.prefix(offset)
                let line = before.filter { $0 == UInt8(ascii: "\n") }.count + 1
                return " not valid YAML at line \(line): \(problem)"
            }
            return " not valid YAML: \(problem)"
        default:
            return " not valid YAML: \(oneLine(error.description))"
        }
    }

    private static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// Turns a ``BotConfig/problems()`` sentence into a keyed problem with the line it was set on.
    private static func problem(_ sentence: String, _ lines: [String: Int]) -> Problem {
        let first = String(sentence.prefix { $0 != " " })
        if Setting.all.contains(where: { $0.path == first }) {
            return Problem(key: first, message: String(sentence.dropFirst(first.count + 1)), line: lines[first])
        }
        if sentence.hasPrefix("the weights") { return Problem(key: "weights", message: sentence, line: nil) }
        return Problem(key: "(config)", message: sentence, line: nil)
    }

    private static func kind(of node: Node) -> String {
        switch node {
        case .scalar(let scalar): return "a single value (\"\(scalar.string)\")"
        case .mapping: return "a group of keys"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    fileprivate static func isNull(_ node: Node) -> Bool {
        guard let scalar = node.scalar else { return false }
        return scalar.string.isEmpty || (scalar.style == .plain && ["~", "null", "Null", "NULL"].contains(scalar.string))
    }

    /// "unknown key" with the closest valid key when one is near, or where the key belongs.
    private static func unknown(_ key: String, group: String?) -> String {
        let settings: [(group: String?, key: String, path: String)] =
            Setting.all.map { ($0.group, $0.key, $0.path) } + TradingKey.all.map { ($0.group, $0.name, $0.path) }
        let normalized = normalize(key)
        let here = settings.filter { $0.group == group }.map(\.key) + (group == nil ? Setting.groups + TradingKey.groups : [])
        let elsewhere = settings.filter { $0.group != group }.map(\.path)
        // The right name in the wrong group.
        if let path = elsewhere.first(where: { normalize(String($0.split(separator: ".").last ?? "")) == normalized }) {
            let target = path.contains(".") ? "under `\(path.split(separator: ".")[0]):`" : "at the top level, not indented"
            return "unknown key here; \(path) belongs \(target)"
        }
        func closest(_ names: [String]) -> String? {
            let scored = names.map { name -> (String, Int) in
                let last = String(name.split(separator: ".").last ?? "")
                return (name, TextDistance.levenshtein(normalized, normalize(last)))
            }
            guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
            return best.1 <= max(2, normalized.count / 3) ? best.0 : nil
        }
        if let name = closest(here) ?? closest(elsewhere) { return "unknown key; did you mean \(name)?" }
        return "unknown key; the keys \(group.map { "under \($0): are" } ?? "at the top level are") \(here.joined(separator: ", "))"
    }

    /// Lowercase snake_case, so `stopLoss` and `stop-loss` compare equal to `stop_loss`.
    private static func normalize(_ key: String) -> String {
        var out = ""
        for character in key {
            if character.isUppercase, !out.isEmpty, out.last != "_" { out.append("_") }
            out.append(character == "-" || character == " " ? "_" : Character(character.lowercased()))
        }
        return out
    }
}

/// One key of the file: where it lives, its type, and the comment written above it by `bot init`.
private struct Setting {
    enum Kind {
        case rate(WritableKeyPath<BotConfig, Rate>)
        case double(WritableKeyPath<BotConfig, Double>)
        case span(WritableKeyPath<BotConfig, TimeSpan>)
        case int(WritableKeyPath<BotConfig, Int>)
        /// A list of words: a YAML list (`[round_close, news]`, or one per line) or one word.
        case words(WritableKeyPath<BotConfig, [String]>)
    }

    var group: String?
    var key: String
    var kind: Kind
    var comment: [String]

    var path: String { group.map { "\($0).\(key)" } ?? key }

    /// The value as written in the file.
    func text(_ config: BotConfig) -> String {
        switch kind {
        case .rate(let path): return config[keyPath: path].description
        case .double(let path): return "\(config[keyPath: path])"
        case .span(let path): return config[keyPath: path].description
        case .int(let path): return String(config[keyPath: path])
        case .words(let path): return "[" + config[keyPath: path].joined(separator: ", ") + "]"
        }
    }

    func json(_ config: BotConfig) -> JSONValue {
        switch kind {
        case .rate(let path): return .exact(config[keyPath: path])
        case .double(let path): return .double(config[keyPath: path])
        case .span(let path): return .string(config[keyPath: path].description)
        case .int(let path): return .int(config[keyPath: path])
        case .words(let path): return .array(config[keyPath: path].map { .string($0) })
        }
    }

    /// The range ``BotConfig/problems()`` holds a rate or whole-number key to, for a number
    /// too large to read into the key's type at all (`max_leverage: 1e308`).
    var range: String? {
        switch kind {
        case .rate: return key.hasSuffix("leverage") ? "from 1 to \(CarryLimit.leverage)" : "a fraction from 0 to 1"
        case .int: return key == "min_agreeing_signals" ? "from 1 to 7" : "an hour from 0 to 24"
        case .double, .span, .words: return nil
        }
    }

    /// Sets the value from `node`, or says what is wrong with it.
    func assign(_ node: Node, to config: inout BotConfig) -> String? {
        let example = text(BotConfig())
        let expected: String
        switch kind {
        case .rate, .double: expected = "a number such as \(example)"
        case .span: expected = "a length of time such as \(example) (a whole number and s, m, h, d or w)"
        case .int: expected = "a whole number such as \(example)"
        case .words(let path):
            // A list of words, a single word, or an empty list (`[]`) for none.
            if node.mapping != nil { return "must be a list of kinds such as [round_close, news], not a group of keys" }
            if let items = node.sequence {
                var words: [String] = []
                for item in items {
                    guard let scalar = item.scalar else {
                        return "must be a list of kinds such as [round_close, news]; an item is not a word"
                    }
                    words.append(scalar.string.trimmingCharacters(in: .whitespaces))
                }
                config[keyPath: path] = words
                return nil
            }
            if BotConfigFile.isNull(node) {
                return "has no value; write a list such as [round_close, news], [] for none, or remove the line to keep the default"
            }
            config[keyPath: path] = (node.scalar?.string ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            return nil
        }
        guard let scalar = node.scalar else {
            return "must be \(expected), not \(node.mapping != nil ? "a group of keys" : "a list")"
        }
        if BotConfigFile.isNull(node) {
            return "has no value; write \(expected), or remove the line to keep the default"
        }
        let raw = scalar.string.trimmingCharacters(in: .whitespaces)
        let got = "(got \"\(raw)\")"
        switch kind {
        case .rate(let path):
            if raw.hasSuffix("%") { return "must be \(expected): write fractions as decimals, so 2.5 % is 0.025 \(got)" }
            guard let value = Rate(raw) else {
                // A number too large (or too precise) for a rate: say the key's range.
                if Double(raw)?.isFinite == true, let range { return "must be \(range) \(got)" }
                return "must be \(expected) \(got)"
            }
            config[keyPath: path] = value
        case .double(let path):
            if raw.hasSuffix("%") { return "must be \(expected): write fractions as decimals, so 25 % is 0.25 \(got)" }
            guard let value = Double(raw), value.isFinite else { return "must be \(expected) \(got)" }
            config[keyPath: path] = value
        case .span(let path):
            switch TimeSpan.parse(raw) {
            case .success(let value): config[keyPath: path] = value
            case .failure(.notALength):
                if Int(raw) != nil { return "must be \(expected): add a unit, e.g. \(raw)h or \(raw)m \(got)" }
                return "must be \(expected) \(got)"
            case .failure(.notPositive): return "must be a positive length such as \(example) \(got)"
            case .failure(.tooLong(let limit)): return "must be at most \(limit.inYears) \(got)"
            }
        case .int(let path):
            guard let value = Int(raw) else {
                // Digits beyond `Int`: say the key's range.
                let digits = raw.hasPrefix("-") || raw.hasPrefix("+") ? raw.dropFirst() : Substring(raw)
                if !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let range {
                    return "must be \(range) \(got)"
                }
                return "must be \(expected) \(got)"
            }
            config[keyPath: path] = value
        case .words: break  // handled above
        }
        return nil
    }

    static let groups = ["weights", "signals", "risk", "calendar", "model"]

    static let groupComments: [String: [String]] = [
        "weights": [
            "Weights of the three signal groups in the blended score (spec §4: price 40 %, network",
            "35 %, sentiment 25 %). They need not sum to 1: a group with no data at a bar is left out",
            "and the rest are renormalised. Set a weight to 0 to ignore that group.",
        ],
        "signals": [
            "How each signal turns data into a score from -1 (short) to +1 (long). Windows are",
            "lengths of time, so the same file works on 1m, 15m or 1h bars.",
        ],
        "risk": [
            "Risk rules (spec §4, from seed 001), all enforced before any order is sent. A trade's exit",
            "plan (stop and target) is fixed at entry and never widened.",
        ],
        "calendar": [
            "Blackout windows around dated events (seed 001: \"NMR-specific news events ... calendar",
            "your awareness\"): no new entries from blackout_before ahead of an event of a listed kind to",
            "blackout_after past it, journalled as refusals like quiet hours. Events come from",
            "calendar.csv in the --signals folder: Numerai's rounds (`signals collect`: round_open,",
            "staking_close, round_close, scoring_start, round_resolve) and your own (`signals event`).",
        ],
        "model": [
            "The learned model (spec §4), used only by `nmrperp backtest --strategy nmr-bot --walk-forward`:",
            "a logistic regression scores direction and conviction; the risk rules above still size and",
            "guard every trade. It is trained and judged walk-forward only (docs/decisions/0006).",
        ],
    ]

    static var all: [Setting] {
        [
            Setting(
                group: nil, key: "min_agreeing_signals", kind: .int(\.minAgreeingSignals),
                comment: [
                    "A trade needs at least this many signals (of 7) pointing the same way as the blended",
                    "score. Seed 000: \"only enter when multiple NMR-specific signals align\".",
                ]),
            Setting(
                group: nil, key: "entry_threshold", kind: .double(\.entryThreshold),
                comment: ["...and a blended score at least this large, from 0 to 1 (0.25 = a quarter of full conviction)."]),
            Setting(
                group: "weights", key: "price", kind: .double(\.weights.price),
                comment: ["Price action: momentum and mean reversion, plus the funding-rate anomaly."]),
            Setting(
                group: "weights", key: "network", kind: .double(\.weights.network),
                comment: ["NMR's network: staked NMR, tournament activity and on-chain exchange flows."]),
            Setting(
                group: "weights", key: "sentiment", kind: .double(\.weights.sentiment),
                comment: ["Social sentiment, read from a time series file."]),
            Setting(
                group: "signals", key: "momentum_window", kind: .span(\.signals.momentumWindow),
                comment: ["Momentum: the price return over this window..."]),
            Setting(
                group: "signals", key: "momentum_full_scale", kind: .double(\.signals.momentumFullScale),
                comment: ["...scores +1 (or -1) when it reaches this fraction (0.05 = a 5 % move)."]),
            Setting(
                group: "signals", key: "mean_reversion_window", kind: .span(\.signals.meanReversionWindow),
                comment: ["Mean reversion: the close compared with its mean and spread over this window..."]),
            Setting(
                group: "signals", key: "mean_reversion_z", kind: .double(\.signals.meanReversionZ),
                comment: ["...scores -1 when it is this many standard deviations above the mean, +1 below."]),
            Setting(
                group: "signals", key: "funding_anomaly_per_8h", kind: .rate(\.signals.fundingAnomalyPer8h),
                comment: [
                    "Funding anomaly (contrarian): a funding rate above this per 8 h (0.001 = 0.1 %) means",
                    "crowded longs and scores -1; below its negative, +1. Spec §4: such rates tend to revert",
                    "within a few intervals. Lighter's hourly rates are scaled to 8 h before comparing.",
                ]),
            Setting(
                group: "signals", key: "stake_drop", kind: .double(\.signals.stakeDrop),
                comment: [
                    "Staked NMR: a drop of this fraction over stake_window scores -1 (spec §4: a 15 % weekly",
                    "drop reportedly precedes weakness within 48-72 h; a claim the backtest tests, not a fact).",
                ]),
            Setting(group: "signals", key: "stake_window", kind: .span(\.signals.stakeWindow), comment: []),
            Setting(
                group: "signals", key: "activity_change", kind: .double(\.signals.activityChange),
                comment: ["Tournament activity: a relative change of this size over activity_window scores +1 or -1."]),
            Setting(group: "signals", key: "activity_window", kind: .span(\.signals.activityWindow), comment: []),
            Setting(
                group: "signals", key: "exchange_flow_full_scale", kind: .double(\.signals.exchangeFlowFullScale),
                comment: [
                    "Exchange flow (exchange_netflow.csv from `signals collect --exchange`): this many NMR",
                    "moved onto exchange addresses over exchange_flow_window scores -1 (readied for sale),",
                    "as much moved off them +1. A judgement to test with `bot review`, not a finding.",
                ]),
            Setting(group: "signals", key: "exchange_flow_window", kind: .span(\.signals.exchangeFlowWindow), comment: []),
            Setting(
                group: "risk", key: "max_leverage", kind: .rate(\.risk.maxLeverage),
                comment: [
                    "Max 3x per position (spec §4, seed 001); a 20x position is liquidated by a ~4.5 % move,",
                    "not 0.5 % as seed 000 claims, and a 2.5 % stop must trigger well before liquidation.",
                ]),
            Setting(
                group: "risk", key: "max_exposure", kind: .rate(\.risk.maxExposure),
                comment: ["At most this share of equity (0.4 = 40 %) posted as margin for open positions."]),
            Setting(
                group: "risk", key: "high_volatility_leverage", kind: .rate(\.risk.highVolatilityLeverage),
                comment: ["In high volatility the caps drop to 2x and 25 % (spec §4, seed 001)."]),
            Setting(group: "risk", key: "high_volatility_exposure", kind: .rate(\.risk.highVolatilityExposure), comment: []),
            Setting(
                group: "risk", key: "high_volatility_threshold", kind: .double(\.risk.highVolatilityThreshold),
                comment: [
                    "High volatility means the annualised standard deviation of bar returns over",
                    "volatility_window is above this (1.5 = 150 % a year).",
                ]),
            Setting(group: "risk", key: "volatility_window", kind: .span(\.risk.volatilityWindow), comment: []),
            Setting(
                group: "risk", key: "stop_loss", kind: .rate(\.risk.stopLoss),
                comment: [
                    "Stop loss 2.5 % adverse to the entry price (spec §4, seed 001), fixed at entry. At 3x",
                    "hitting it costs 7.5 % of the position's margin.",
                ]),
            Setting(
                group: "risk", key: "take_profit", kind: .rate(\.risk.takeProfit),
                comment: ["Take profit this fraction in favour of the entry price, fixed at entry (0.05 = 5 %)."]),
            Setting(
                group: "risk", key: "time_exit", kind: .span(\.risk.timeExit),
                comment: [
                    "Time exit (spec §4: 6 h): from this long after entry on, a position is closed at the",
                    "first bar close at which it is not in profit by at least time_exit_min_profit.",
                ]),
            Setting(
                group: "risk", key: "time_exit_min_profit", kind: .rate(\.risk.timeExitMinProfit),
                comment: [
                    "The time exit's minimum profit, a fraction of the entry price (0.002 = 0.2 %), on the",
                    "price alone (fees not counted). At 0 a close exactly at the entry is not in profit and",
                    "the position closes. From 0 up to, not including, take_profit.",
                ]),
            Setting(
                group: "risk", key: "circuit_move", kind: .rate(\.risk.circuitMove),
                comment: [
                    "Circuit breaker (spec §4): a move over 8 % either way within circuit_window closes",
                    "every position, then no entries for circuit_cooldown (2 h).",
                ]),
            Setting(group: "risk", key: "circuit_window", kind: .span(\.risk.circuitWindow), comment: []),
            Setting(group: "risk", key: "circuit_cooldown", kind: .span(\.risk.circuitCooldown), comment: []),
            Setting(
                group: "risk", key: "quiet_start_hour", kind: .int(\.risk.quietStartHour),
                comment: [
                    "No new entries from this hour to quiet_end_hour, UTC (spec §4: 02:00-06:00). Open",
                    "positions keep their stops. Set both to the same hour to trade around the clock.",
                ]),
            Setting(group: "risk", key: "quiet_end_hour", kind: .int(\.risk.quietEndHour), comment: []),
            Setting(
                group: "risk", key: "risk_per_trade", kind: .rate(\.risk.riskPerTrade),
                comment: [
                    "The loss if the stop is hit may not exceed this share of equity (0.01 = 1 %); it sizes",
                    "the position. Seed 000 suggests 10-15 %: ten losing trades in a row would then cost",
                    "65-80 % of the account; at 1 % they cost under 10 %.",
                ]),
            Setting(
                group: "risk", key: "stale_after", kind: .span(\.risk.staleAfter),
                comment: ["No new entries while the price feed has been silent this long (docs reliability.md)."]),
            Setting(
                group: "calendar", key: "blackout_kinds", kind: .words(\.calendar.blackoutKinds),
                comment: ["The event kinds to stay out around, as a list; [] for none."]),
            Setting(group: "calendar", key: "blackout_before", kind: .span(\.calendar.blackoutBefore), comment: []),
            Setting(group: "calendar", key: "blackout_after", kind: .span(\.calendar.blackoutAfter), comment: []),
            Setting(
                group: "model", key: "horizon", kind: .span(\.model.horizon),
                comment: ["A bar is labelled up when the close this much later is higher (default: the 6 h time exit)."]),
            Setting(
                group: "model", key: "train_window", kind: .span(\.model.trainWindow),
                comment: [
                    "Each fold trains on this window before its test window, minus the last `horizon` of",
                    "rows, whose labels would reach into the test window (no look-ahead).",
                ]),
            Setting(
                group: "model", key: "test_window", kind: .span(\.model.testWindow),
                comment: ["Each fold's model trades this window out of sample; folds step by it."]),
            Setting(
                group: "model", key: "l2", kind: .double(\.model.l2),
                comment: ["Ridge penalty on the standardised weights (larger: closer to the base rate)."]),
            Setting(
                group: "model", key: "min_conviction", kind: .double(\.model.minConviction),
                comment: ["An entry needs |2p - 1| at least this large (0.1: p(up) of 0.55 or more, or 0.45 or less)."]),
        ]
    }
}
