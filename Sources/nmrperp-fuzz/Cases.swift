import Foundation

/// One generated case: a command line and the files it reads, all relative to the case folder.
struct Case {
    var index: Int
    var command: CommandSpec
    var arguments: [String]
    var files: [(path: String, bytes: [UInt8])] = []
    var directories: [String] = []
}

/// What an option's value means, guessed from its name and help text.
enum ValueKind: Equatable {
    case candles, funding, config, signalsFolder, output
    case span(valid: [String])
    case spanList, decimalList, sweep, date, name
    case enumeration([String])
    case integer(valid: [String])
    /// A count that makes the run longer in proportion (repetitions, threads, polls): only small
    /// values, because a large one is a legitimately long run, not a bug.
    case smallCount
    case decimal(valid: [String])
}

/// Builds case `index` of a seed: picks a command, then valid-looking, boundary or malformed
/// values for its options, and the files those values name.
struct CaseBuilder {
    let commands: [CommandSpec]
    let seeds: DataFiles.Seeds
    let seed: UInt64

    /// Values that have broken command-line parsing and arithmetic before.
    static let boundaryValues: [String] = [
        "0", "-1", "1", "-0", "1e-8", "0.00000001", "0.000000001", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "99999999999", "9999999999", "10000000", "1e308", "-1e308", "1e-308", "NaN", "nan", "inf",
        "-inf", "", " ", String(repeating: "9", count: 400), String(repeating: "a", count: 3000), "106751991167d",
        "15250284452w", "0s", "0d", "-5m", "1ms", "9999999999w", "2562047788015215w", "1e3", "0x10", "1_000", "١٢٣",
        "✓", "ℕ", "\u{202E}abc", "日本", "--", "-", "1.0000000000000000000000001", "92233720368.54775807",
        "92233720368.54775808", "+5", "1.", ".5", "1e-20", "3.06e400", "1,5", "bar", "0.5",
    ]

    /// Benchmarks do measured work by design (`bench live` runs up to 20,000 timed orders and a
    /// 30-day session in a debug build): their cases get this many times the usual time limit.
    static func timeoutFactor(_ command: String) -> Double { command.hasPrefix("bench") ? 6 : 1 }

    /// Seconds after which a command is sent SIGTERM and must then exit cleanly: one that serves
    /// until stopped (`dashboard`), and the dashboard's benchmark (a valid line can ask for 30
    /// minutes of load; its interruption is tested instead).
    static func stopAfter(_ command: String) -> Double? {
        switch command {
        case "dashboard": 1.5
        case "bench dashboard": 8
        default: nil
        }
    }

    /// Options a valid line of these commands needs although the usage line cannot say so.
    static let neededInValidLines: [String: [String]] = [
        "hedge plan": ["--stake", "--price"], "stake": ["--model"], "hedge backtest": ["--data", "--stake"],
        "calc liquidation": ["--collateral"], "bench backtest": ["--data", "--funding"],
    ]

    /// Options a command refuses together.
    static let exclusivePairs: [(String, String)] = [
        ("--collateral", "--leverage"), ("--stake", "--model"), ("--g", "--data"), ("--price", "--venue"),
        ("--g", "--venue"),
    ]

    /// Backtest options each strategy reads; an option in none of these lists (a new one) goes
    /// with every strategy, so it is fuzzed too.
    static let strategyOptions: [String: Set<String>] = [
        "sma-cross": ["--leverage", "--fast", "--slow", "--sweep", "--threads"],
        "hold-short": ["--leverage", "--quantity", "--collateral"],
        "funding-carry": [],
        "nmr-bot": ["--config", "--signals", "--journal", "--walk-forward", "--train", "--test", "--horizon", "--l2", "--min-conviction"],
    ]

    static let spans = ["1m", "5m", "15m", "1h", "4h", "12h", "1d", "3d", "7d", "30d", "90d", "2w", "250ms", "90s"]

    static func kind(of option: OptionSpec) -> ValueKind {
        let name = option.name
        let help = option.help.lowercased()
        switch name {
        case "--data", "--mark":
            return help.hasPrefix("funding") || help.contains("funding history (csv, binance fundingrate") ? .funding : .candles
        case "--funding": return .funding
        case "--config": return .config
        case "--signals": return .signalsFolder
        case "--out", "--report", "--trades", "--journal", "--record", "--write-config": return .output
        case "--interval": return .span(valid: ["1m", "5m", "15m", "1h", "4h", "1d"])
        case "--step": return .span(valid: ["bar", "bar", "7d", "1d", "5m", "12h"])
        case "--window", "--rebalance", "--train", "--test", "--horizon", "--warmup", "--stake-every", "--default-interval":
            return .span(valid: ["1h", "6h", "1d", "3d", "7d", "30d"])
        case "--periods": return .spanList
        case "--multiples": return .decimalList
        case "--sweep": return .sweep
        case "--from", "--to", "--time": return .date
        case "--since": return .span(valid: ["1d", "7d", "30d", "12h"])
        case "--model", "--name", "--run", "--symbol", "--stake-model", "--session": return .name
        case "--reps", "--threads", "--max-polls", "--idle": return .smallCount
        case "--signs": return .integer(valid: ["100", "200"])
        case "--seed": return .integer(valid: ["1", "42", "20261202"])
        case "--fast": return .integer(valid: ["5", "10", "50"])
        case "--slow": return .integer(valid: ["20", "100", "200"])
        case "--days": return .integer(valid: ["1", "7", "30"])
        case "--depositors": return .integer(valid: ["2", "5", "20"])
        case "--events": return .integer(valid: ["5", "50", "200"])
        case "--market": return .integer(valid: ["74"])
        default: break
        }
        if !option.allowedValues.isEmpty { return .enumeration(option.allowedValues) }
        let known: [String: [String]] = [
            "--side": ["long", "short"], "--margin": ["isolated", "cross"], "--venue": ["lighter", "binance"],
            "--liquidation-rule": ["binance-usdm", "lighter", "conservative", "keep-remainder"],
            "--tournament": ["classic", "signals", "crypto"], "--stake-tournament": ["classic", "signals", "crypto"],
            "--strategy": ["sma-cross", "hold-short", "funding-carry", "nmr-bot"],
            "--kind": ["news", "round_close", "unlock"],
        ]
        if let values = known[name] { return .enumeration(values) }
        let decimals: [String: [String]] = [
            "--stake": ["10", "1", "250.5", "0.01"], "--price": ["8", "15", "0.5", "120"], "--g": ["3.06", "1.5", "2", "10"],
            "--alpha": ["1.1", "1", "2"], "--margin-fraction": ["0.2", "0.05", "0.5"],
            "--collateral-multiple": ["2.7", "3", "1.5", "10"], "--short": ["10", "0", "5"],
            "--collateral": ["300", "1000", "50"], "--lot": ["0.01", "0.1", "1"], "--leverage": ["3", "1", "10", "0.5"],
            "--entry": ["15", "8", "0.5"], "--quantity": ["100", "1", "0.5"], "--capital": ["10000", "1000000", "100"],
            "--maintenance-fraction": ["0.02", "0.01", "0.05"], "--maintenance-amount": ["0", "25", "1"],
            "--warn-fraction": ["0.5", "0.8"], "--fee": ["0.0005", "0", "0.01"], "--fee-taker": ["0.0005", "0"],
            "--fee-maker": ["0.0002", "0"], "--slippage-bps": ["0", "5", "50"],
            "--l2": ["1", "0.1", "10"], "--min-conviction": ["0.1", "0", "0.5"],
        ]
        var valid = decimals[name] ?? ["1", "0.5", "10", "0.02"]
        if let fallback = option.defaultValue, !valid.contains(fallback) { valid.append(fallback) }
        return .decimal(valid: valid)
    }

    func build(index: Int) -> Case {
        var random = Generator(seed: seed, case: index)
        // Leaves get most of the cases; groups (and the bare program) a few, for their errors.
        // Commands with more options get more cases (backtest has thirty, market two).
        let leaves = commands.filter { !$0.isGroup }
        let weighted = leaves.flatMap { leaf in Array(repeating: leaf, count: 2 + leaf.options.count / 3) }
        let command = random.chance(0.95) || leaves.isEmpty ? random.pick(weighted.isEmpty ? commands : weighted) : random.pick(commands)
        var context = Context(random: random, seeds: seeds, index: index)
        var arguments = command.path
        // Chaos: options dropped, repeated, shuffled, unknown flags, many bad values (mostly usage
        // errors). Otherwise a valid command line with at most one bad value, which reaches deep.
        let chaos = context.random.chance(0.2)
        // Options that take no part: required ones are present unless chaos drops them.
        var chosen: [OptionSpec] = []
        let needed = Self.neededInValidLines[command.name] ?? []
        for option in command.options {
            if option.required || (!chaos && needed.contains(option.name)) {
                if !chaos || context.random.chance(0.85) { chosen.append(option) }
            } else if context.random.chance(chaos ? 0.4 : 0.25) {
                chosen.append(option)
            }
        }
        if !chaos {
            // Valid lines give one of each exclusive pair, so they get past validation.
            for (first, second) in Self.exclusivePairs
            where chosen.contains(where: { $0.name == first }) && chosen.contains(where: { $0.name == second }) {
                let drop = context.random.chance(0.5) ? first : second
                if !needed.contains(drop) { chosen.removeAll { $0.name == drop } }
            }
        }
        // Strategy-specific flags travel together, so nmr-bot, sweep and walk-forward get reached.
        if command.options.contains(where: { $0.name == "--strategy" }), !chaos {
            arguments += context.strategyBundle(options: command.options, chosen: &chosen)
        }
        if !chaos, chosen.contains(where: { $0.name == "--fast" }), chosen.contains(where: { $0.name == "--slow" }) {
            // Both given: fast < slow, unless the one bad value lands on one of them.
            chosen.removeAll { $0.name == "--fast" || $0.name == "--slow" }
            let fast = context.random.pick(["3", "5", "10"])
            let slow = context.random.pick(["20", "50"])
            if context.random.chance(0.5) {
                arguments += ["--fast", fast, "--slow", context.random.pick(Self.boundaryValues)]
            } else {
                arguments += ["--fast", context.random.chance(0.5) ? fast : context.random.pick(Self.boundaryValues), "--slow", slow]
            }
        }
        if chaos, !chosen.isEmpty, context.random.chance(0.3) {
            chosen.append(context.random.pick(chosen))
        }
        if chaos { context.random.shuffle(&chosen) }
        let valued = chosen.indices.filter { chosen[$0].takesValue }
        let target = !chaos && !valued.isEmpty && context.random.chance(0.75) ? context.random.pick(valued) : nil
        for (position, option) in chosen.enumerated() {
            if option.takesValue {
                let mutate = chaos ? context.random.chance(0.5) : position == target
                let value = context.value(for: option, mutate: mutate)
                // `--seed -1` reads -1 as a flag; `--seed=-1` is how a user passes a negative value.
                if context.random.chance(value.hasPrefix("-") ? 0.7 : 0.08) {
                    arguments.append("\(option.name)=\(value)")
                } else {
                    arguments += [option.name, value]
                }
            } else {
                arguments.append(option.name)
                if chaos && context.random.chance(0.1) { arguments.append(context.random.pick(Self.boundaryValues)) }
            }
        }
        if chaos {
            for _ in 0..<context.random.int(0...2) {
                switch context.random.below(6) {
                case 0: arguments.append("--no-such-flag")
                case 1: arguments.append(context.random.pick(Self.boundaryValues))
                case 2:
                    arguments.insert(
                        context.random.pick(["--json", "-x", "--", "help"]),
                        at: context.random.int(min(1, arguments.count)...arguments.count))
                case 3: if let last = chosen.last, last.takesValue { arguments.append(last.name) }
                case 4: arguments.append("--json")
                default: arguments.append(context.random.pick(["-h", "--help", "--version"]))
                }
            }
        }
        return Case(
            index: index, command: command, arguments: arguments, files: context.files, directories: context.directories)
    }

    /// Generation state of one case.
    struct Context {
        var random: Generator
        let seeds: DataFiles.Seeds
        let index: Int
        var files: [(path: String, bytes: [UInt8])] = []
        var directories: [String] = []
        var counter = 0
        /// The case's price history span, shared by funding, mark and signal files so they overlap.
        var start: Int64 = 0
        var interval: Int64 = 0
        var rows = 0
        var timeline = false

        init(random: Generator, seeds: DataFiles.Seeds, index: Int) {
            self.random = random
            self.seeds = seeds
            self.index = index
        }

        mutating func name(_ stem: String, _ ext: String) -> String {
            counter += 1
            return "\(stem)\(counter).\(ext)"
        }

        mutating func ensureTimeline() {
            guard !timeline else { return }
            timeline = true
            let choice = random.pick(DataFiles.intervals)
            interval = choice.ms
            // Mostly short files; some long enough for 30-day windows and walk-forward folds.
            rows =
                random.chance(0.15)
                ? random.int(3000...9000) : random.chance(0.1) ? random.pick([0, 1, 2, 3]) : random.pick([50, 200, 500, 1500, 2500])
            if choice.name == "1d" { rows = min(rows, 800) }
            start = random.pick([1_672_531_200_000, 1_659_312_000_000, 1_735_689_600_000, 0, 86_400_000])
        }

        mutating func value(for option: OptionSpec, mutate: Bool) -> String {
            let kind = CaseBuilder.kind(of: option)
            switch kind {
            case .candles: return candleFile(mutate: mutate)
            case .funding: return fundingFile(mutate: mutate)
            case .config: return configFile(mutate: mutate)
            case .signalsFolder: return signalsFolder(mutate: mutate)
            case .output: return outputPath(for: option)
            default: break
            }
            if mutate && kind == .smallCount { return random.pick(["0", "-1", "x", "", "1.5", "9223372036854775808"]) }
            if mutate { return random.pick(CaseBuilder.boundaryValues) }
            switch kind {
            case .span(let valid): return random.pick(valid)
            case .spanList: return (0..<random.int(1...3)).map { _ in random.pick(["1d", "7d", "30d", "12h"]) }.joined(separator: ",")
            case .decimalList:
                return (0..<random.int(1...3)).map { _ in random.pick(["1.5", "2", "2.7", "3", "5"]) }.joined(separator: ",")
            case .sweep:
                return random.pick(["fast=5,10;slow=20,50", "fast=10;slow=30;leverage=1,3", "leverage=1,2", "slow=50"])
            case .date: return random.pick(["2023-01-01", "2024-07-22T00:00", "2025-01-01T00:00:00Z", "1672531200000"])
            case .name: return random.pick(["default", "fuzz", "NMRUSDT", "model_1", "a"])
            case .enumeration(let values): return random.pick(values)
            case .integer(let valid): return random.pick(valid)
            case .smallCount: return random.pick(["1", "2", "3"])
            case .decimal(let valid): return random.pick(valid)
            default: return "1"
            }
        }

        /// `--strategy` and the flags it needs, as one bundle.
        mutating func strategyBundle(options: [OptionSpec], chosen: inout [OptionSpec]) -> [String] {
            let names = Set(options.map(\.name))
            chosen.removeAll { ["--strategy", "--sweep", "--walk-forward", "--config"].contains($0.name) }
            let strategy = random.pick(["sma-cross", "sma-cross", "hold-short", "funding-carry", "nmr-bot", "nmr-bot"])
            let specific = CaseBuilder.strategyOptions.values.reduce(into: Set<String>()) { $0.formUnion($1) }
            let mine = CaseBuilder.strategyOptions[strategy] ?? []
            chosen.removeAll { specific.contains($0.name) && !mine.contains($0.name) }
            // The walk-forward settings are refused without --walk-forward; it adds them back.
            chosen.removeAll { ["--train", "--test", "--horizon", "--l2", "--min-conviction"].contains($0.name) }
            if !chosen.contains(where: { $0.name == "--data" }), let data = options.first(where: { $0.name == "--data" }) {
                chosen.append(data)
            }
            var arguments = ["--strategy", strategy]
            if strategy == "sma-cross", names.contains("--sweep"), random.chance(0.25) {
                arguments += ["--sweep", random.pick(["fast=5,10;slow=20,50", "leverage=1,3", "fast=3;slow=7,9"])]
            }
            if strategy == "nmr-bot" {
                if names.contains("--config"), random.chance(0.7) {
                    arguments += ["--config", configFile(mutate: random.chance(0.3))]
                }
                if names.contains("--walk-forward"), random.chance(0.3) {
                    arguments.append("--walk-forward")
                    let settings = [
                        ("--train", ["7d", "3d", "30d"]), ("--test", ["1d", "3d", "7d"]), ("--horizon", ["1h", "6h"]),
                        ("--l2", ["1", "0.1"]), ("--min-conviction", ["0.1", "0"]),
                    ]
                    for (flag, values) in settings where names.contains(flag) && random.chance(0.6) {
                        arguments += [flag, random.chance(0.15) ? random.pick(CaseBuilder.boundaryValues) : random.pick(values)]
                    }
                }
            }
            return arguments
        }

        mutating func candleFile(mutate: Bool) -> String {
            if let special = specialInput() { return special }
            ensureTimeline()
            var text: String
            var ext = "csv"
            if !seeds.realCandleSlices.isEmpty, random.chance(0.15) {
                text = random.pick(seeds.realCandleSlices)
            } else {
                let bars = DataFiles.bars(&random, count: rows, start: start, interval: interval)
                switch random.below(10) {
                case 0:
                    text = DataFiles.binanceKlines(bars, interval: interval)
                    ext = "json"
                case 1:
                    text = DataFiles.lighterCandles(bars)
                    ext = "json"
                case 2:
                    text = DataFiles.candleCSV(
                        bars,
                        header: random.pick([
                            "timestamp_ms,open,high,low,close,volume", "time,open,high,low,close,volume",
                            "open_time_ms,open,high,low,close,volume",
                        ]))
                default: text = DataFiles.candleCSV(bars)
                }
            }
            let path = name("candles", ext)
            let bytes =
                mutate ? (ext == "json" ? DataFiles.mutateJSON(text, &random) : DataFiles.mutateCSV(text, &random)) : Array(text.utf8)
            files.append((path, bytes))
            return path
        }

        mutating func fundingFile(mutate: Bool) -> String {
            if let special = specialInput() { return special }
            ensureTimeline()
            let every: Int64 = random.pick([8 * 3_600_000, 3_600_000, 4 * 3_600_000])
            let times = DataFiles.fundingTimes(start: start, end: start + Int64(max(rows, 1)) * interval, every: every)
            var ext = "csv"
            let text: String
            switch random.below(6) {
            case 0:
                text = DataFiles.binanceFunding(&random, times: times)
                ext = "json"
            case 1:
                text = DataFiles.lighterFunding(&random, times: times)
                ext = "json"
            default: text = DataFiles.fundingCSV(&random, times: times)
            }
            let path = name("funding", ext)
            let bytes =
                mutate ? (ext == "json" ? DataFiles.mutateJSON(text, &random) : DataFiles.mutateCSV(text, &random)) : Array(text.utf8)
            files.append((path, bytes))
            return path
        }

        mutating func configFile(mutate: Bool) -> String {
            if let special = specialInput() { return special }
            let path = name("bot", "yaml")
            let bytes = mutate ? DataFiles.mutateYAML(seeds.botYAML, &random) : Array(seeds.botYAML.utf8)
            files.append((path, bytes))
            return path
        }

        mutating func signalsFolder(mutate: Bool) -> String {
            if random.chance(0.1) { return random.pick(["nope", "/dev/null", ""]) }
            ensureTimeline()
            counter += 1
            let folder = "signals\(counter)"
            directories.append(folder)
            let times = DataFiles.fundingTimes(start: start, end: start + Int64(max(rows, 1)) * interval, every: 3_600_000)
            for file in ["staked.csv", "activity.csv", "sentiment.csv", "exchange_netflow.csv"] where random.chance(0.8) {
                let text = DataFiles.valueSeries(&random, times: times)
                files.append((folder + "/" + file, mutate && random.chance(0.5) ? DataFiles.mutateCSV(text, &random) : Array(text.utf8)))
            }
            if random.chance(0.6) {
                // The calendar: events of the kinds the bot's blackouts read, among the bars.
                let kinds = ["news", "round_close", "round_open", "unlock"]
                let rows = times.enumerated().filter { $0.offset % 7 == 0 }.map { _, time in
                    "\(time),\(random.pick(kinds)),note \(random.below(100))"
                }
                let text = (["time,kind,note"] + rows).joined(separator: "\n") + "\n"
                files.append(
                    (folder + "/calendar.csv", mutate && random.chance(0.5) ? DataFiles.mutateCSV(text, &random) : Array(text.utf8)))
            }
            return folder
        }

        /// Now and then an input that is not a readable file of the right kind.
        mutating func specialInput() -> String? {
            guard random.chance(0.06) else { return nil }
            switch random.below(5) {
            case 0: return "no-such-file.csv"
            case 1: return "."
            case 2: return "/dev/null"
            case 3:
                let path = name("empty", "csv")
                files.append((path, []))
                return path
            default:
                let path = name("junk", "csv")
                files.append((path, DataFiles.junk(&random) + DataFiles.junk(&random)))
                return path
            }
        }

        mutating func outputPath(for option: OptionSpec) -> String {
            switch random.below(12) {
            case 0: return "/dev/null"
            case 1: return "."
            case 2: return "no-such-dir/deeper/out.txt"
            case 3: return ""
            case 4: return files.first?.path ?? "existing.txt"
            default:
                if !directories.contains("out") { directories.append("out") }
                let ext: String
                switch option.name {
                case "--report": ext = "html"
                case "--journal": ext = "jsonl"
                case "--config": ext = "yaml"
                default: ext = "csv"
                }
                return name("out/result", ext)
            }
        }
    }
}
